package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/infra/gateway"
)

// goalCPURatio bounds a function's CPU per invocation against its twin's.
const goalCPURatio = 1.3

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on Linux.
const clockTicks = 100

// procCPU is the user+system CPU time process pid has used (all its threads).
func procCPU(pid int) (time.Duration, error) {
	user, sys, err := procTimes(pid)
	return user + sys, err
}

// procTimes is the user and the system CPU time process pid has used (all its
// threads), from /proc/<pid>/stat.
func procTimes(pid int) (user, sys time.Duration, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields follow the last ')'.
	i := bytes.LastIndexByte(data, ')')
	f := strings.Fields(string(data[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut) * time.Second / clockTicks, time.Duration(st) * time.Second / clockTicks, nil
}

// subject is one bootstrap under measurement: the function or its twin.
type subject struct {
	b     *bench
	s     scenario
	twin  bool
	f     *gateway.Function
	next  int           // the next unit
	cpu   time.Duration // CPU of the units measured
	units int
}

// run invokes n units in a row; when measure is set it adds their CPU to the total.
func (x *subject) run(n int, measure bool) error {
	pid, before := 0, time.Duration(0)
	if measure {
		var err error
		if pid, before, err = x.processCPU(); err != nil {
			return err
		}
	}
	for range n {
		for _, e := range x.s.events(x.b, x.next, x.twin) {
			resp, err := x.f.Invoke(x.b.ctx, e)
			if err != nil {
				return fmt.Errorf("%s (twin %v): %w", x.s.id, x.twin, err)
			}
			if x.s.ok != "" && !bytes.Contains(resp, []byte(x.s.ok)) {
				return fmt.Errorf("%s (twin %v): answer without %s: %.300s", x.s.id, x.twin, x.s.ok, resp)
			}
		}
		x.next++
	}
	if measure {
		p, after, err := x.processCPU()
		if err != nil {
			return err
		}
		if p != pid {
			return fmt.Errorf("%s (twin %v): the process was replaced while measured", x.s.id, x.twin)
		}
		x.cpu += after - before
		x.units += n
	}
	return nil
}

// processCPU is the pid and CPU time of the subject's one warm process.
func (x *subject) processCPU() (int, time.Duration, error) {
	pids := x.f.Processes()
	if len(pids) != 1 {
		return 0, 0, fmt.Errorf("%s: %d processes, want 1 (invocations are sequential)", x.s.id, len(pids))
	}
	c, err := procCPU(pids[0])
	return pids[0], c, err
}

func (x *subject) perUnit() float64 { return x.cpu.Seconds() * 1000 / float64(x.units) }

// pair starts s's function and its twin, with extra variables for both.
func (b *bench) pair(s scenario, extra ...string) (fn, tw *subject, err error) {
	f, err := b.function(s.id, b.bins[s.id], extra...)
	if err != nil {
		return nil, nil, err
	}
	tw, err = b.twinSubject(s, extra...)
	return &subject{b: b, s: s, f: f}, tw, err
}

// twinSubject is s's twin, with extra variables.
func (b *bench) twinSubject(s scenario, extra ...string) (*subject, error) {
	t, err := b.function(s.id, b.twins[s.twin], append(b.twinEnv(), extra...)...)
	if err != nil {
		return nil, err
	}
	return &subject{b: b, s: s, twin: true, f: t}, nil
}

// cpuFigures measures each function's CPU per unit against its twin's, both warm,
// in alternating blocks so that drift in the machine's state hits both alike.
func (b *bench) cpuFigures() error {
	for _, s := range scenarios {
		fn, tw, err := b.pair(s)
		if err != nil {
			return err
		}
		err = alternate(s, fn, tw)
		fn.f.Close()
		tw.f.Close()
		if err != nil {
			return err
		}
		ratio := fn.perUnit() / tw.perUnit()
		b.add("cpu_per_invocation_%s = %.3f %s", s.id, fn.perUnit(), s.unit)
		b.add("cpu_per_invocation_twin_%s = %.3f %s", s.id, tw.perUnit(), s.unit)
		b.add("cpu_ratio_%s = %.2f x (goal <= %.1f)", s.id, ratio, goalCPURatio)
	}
	return nil
}

func alternate(s scenario, fn, tw *subject) error {
	for _, x := range []*subject{fn, tw} {
		if err := x.run(s.warm, false); err != nil {
			return err
		}
	}
	for fn.units < s.units {
		for _, x := range []*subject{fn, tw} {
			if err := x.run(s.block, true); err != nil {
				return err
			}
		}
	}
	return nil
}
