package main

import (
	"fmt"
	"runtime"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/infra/twins/twin"
	"github.com/keyward/keyward/pkg/store"
)

// goalTwinOverhead bounds what a twin costs beyond the same SDK calls in a plain loop,
// in ms: the runtime's share (the Runtime API's next and response calls, decoding the
// event, encoding the answer).
const goalTwinOverhead = 0.1

// sdkLoop is the unavoidable work of a twin, run here as a plain Go loop.
type sdkLoop struct {
	twins []string // the twins whose work it is
	n     int
	work  func(b *bench) (func() error, error)
}

var sdkLoops = []sdkLoop{
	{twins: []string{"authorizer", "keys"}, n: 2000, work: func(b *bench) (func() error, error) {
		k := b.benchKey()
		return func() error { _, err := twin.GetKey(b.ctx, b.ddb, b.p.Refs["KeywardTable"], k); return err }, nil
	}},
	{twins: []string{"token"}, n: 2000, work: func(b *bench) (func() error, error) {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: b.rsaKey}, nil)
		k := b.benchKey()
		return func() error { _, err := twin.Issue(b.ctx, b.ddb, b.p.Refs["KeywardTable"], k, signer); return err }, err
	}},
	{twins: []string{"sweeper"}, n: 600, work: func(b *bench) (func() error, error) {
		due := twin.Due{Index: store.DueIndex, PKAttr: store.AttrDuePK, AtAttr: store.AttrDueAt, Shards: store.DueShardPKs()}
		return func() error { _, err := twin.QueryDue(b.ctx, b.ddb, b.p.Refs["KeywardTable"], due); return err }, nil
	}},
}

// runtimeTwin is the bootstrap that only answers (infra/twins/empty).
const runtimeTwin = "empty"

// runtimeFigure is the CPU per invocation of a bootstrap that answers an authorizer
// event without I/O: what every twin pays beyond its SDK calls, on this runtime.
func (b *bench) runtimeFigure() error {
	s := scenarios[0] // the authorizer's event and environment
	f, err := b.function(s.id, b.twins[runtimeTwin])
	if err != nil {
		return err
	}
	defer f.Close()
	x := &subject{b: b, s: s, twin: true, f: f}
	if err := x.run(s.warm, false); err != nil {
		return err
	}
	if err := x.run(s.units, true); err != nil {
		return err
	}
	b.add("cpu_per_invocation_runtime_only = %.3f ms", x.perUnit())
	return nil
}

func (b *bench) benchKey() twin.Key { return twin.Key{PK: store.KeyPK(b.keyID), SK: "KEY"} }

// sdkFigures runs each twin's SDK calls in a loop in this process (warm, then
// measured by rusage) and reports what each twin costs beyond them.
func (b *bench) sdkFigures() error {
	// The loop runs with the bootstraps' GOMAXPROCS (the template's), as the twins do.
	if fn, ok := b.p.Function("AuthorizerFunction"); ok {
		if n, err := strconv.Atoi(fn.Environment["GOMAXPROCS"]); err == nil {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
		}
	}
	for _, l := range sdkLoops {
		work, err := l.work(b)
		if err != nil {
			return err
		}
		for range l.n / 10 {
			if err := work(); err != nil {
				return err
			}
		}
		before := selfCPU()
		for range l.n {
			if err := work(); err != nil {
				return err
			}
		}
		per := ms(selfCPU()-before) / float64(l.n)
		b.add("cpu_sdk_calls_%s = %.3f ms", l.twins[0], per)
		for _, t := range l.twins {
			tw, ok := b.cpuTwin[t]
			if !ok {
				return fmt.Errorf("no CPU figure for twin %s", t)
			}
			b.add("cpu_twin_overhead_%s = %.3f ms (goal <= %.1f)", t, tw-per, goalTwinOverhead)
		}
	}
	return nil
}
