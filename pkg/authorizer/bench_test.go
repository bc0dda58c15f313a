package authorizer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/store"
)

// memKeys is a KeyReader with no network: the store's call taken out.
type memKeys struct{ k *store.Key }

func (m memKeys) GetKey(context.Context, string) (*store.Key, error) { return m.k, nil }

func isDir(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() }

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// BenchmarkFigures prints the authorizer's figures (make bench runs it once, -benchtime=1x):
// the API-key path against a bare consistent GetItem of the same item on DynamoDB
// Local (interleaved, so drift hits both), the handler's own CPU and allocations per
// verification with an in-memory key reader, and DynamoDB writes of a 60 s loop.
func BenchmarkFigures(b *testing.B) {
	for range b.N {
		figures(b)
	}
}

func figures(b *testing.B) {
	ctx := context.Background()
	h := benchHarness(b)
	id, key := h.newKey([]string{"orders:read"}, nil)
	raw := fixture(h.t, "authorizer-http", key)
	get := &dynamodb.GetItemInput{
		TableName: aws.String(h.env.Table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)},
			"sk": &types.AttributeValueMemberS{Value: "KEY"},
		},
		ConsistentRead: aws.Bool(true),
	}
	handler := func() {
		if _, err := h.a.Invoke(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
	bare := func() {
		if _, err := h.deps.DDB.GetItem(ctx, get); err != nil {
			b.Fatal(err)
		}
	}
	for range 300 { // warm up: connections, secrets, the one last-used write
		handler()
		bare()
	}
	const n = 4000
	hs, gs := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for i := range n {
		measure := func(f func(), into *[]time.Duration) {
			s := time.Now()
			f()
			*into = append(*into, time.Since(s))
		}
		if i%2 == 0 {
			measure(handler, &hs)
			measure(bare, &gs)
		} else {
			measure(bare, &gs)
			measure(handler, &hs)
		}
	}
	p50 := float64(pct(hs, 0.50)) / float64(pct(gs, 0.50))
	p99 := float64(pct(hs, 0.99)) / float64(pct(gs, 0.99))
	fmt.Printf("authorizer api key: handler p50 %v p99 %v, bare GetItem p50 %v p99 %v (%d interleaved pairs)\n",
		pct(hs, 0.5), pct(hs, 0.99), pct(gs, 0.5), pct(gs, 0.99), n)

	// CPU and allocations with the network call taken out.
	stored, err := h.deps.Store.GetKey(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	h.a.Verifier.Keys = memKeys{stored}
	for range 1000 {
		handler()
	}
	const m = 100000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for range m {
		handler()
	}
	cpu := time.Since(start) / m
	runtime.ReadMemStats(&after)
	allocs := (after.Mallocs - before.Mallocs) / m
	bytes := (after.TotalAlloc - before.TotalAlloc) / m
	fmt.Printf("authorizer cpu: %v per verification (event decode, HMAC, route match, answer encode), %d allocs, %d B\n", cpu, allocs, bytes)

	// Writes: one key verified in a sustained loop for 60 s of (simulated) time.
	h2 := benchHarness(b)
	_, key2 := h2.newKey([]string{"orders:read"}, nil)
	raw2 := fixture(h2.t, "authorizer-http", key2)
	h2.db.Writes.Store(0)
	end := h2.clock.Now().Add(60 * time.Second)
	calls := 0
	for h2.clock.Now().Before(end) {
		if _, err := h2.a.Handle(ctx, raw2); err != nil {
			b.Fatal(err)
		}
		calls++
		h2.clock.Advance(10 * time.Millisecond)
	}
	writes := h2.db.Writes.Load()

	tokenRatio := tokenFigure(b, benchHarness(b))
	lines := fmt.Sprintf("figure authorizer_apikey_p50_ratio = %.2f x (goal <= 1.10)\n", p50) +
		fmt.Sprintf("figure authorizer_apikey_p99_ratio = %.2f x (goal <= 1.25)\n", p99) +
		fmt.Sprintf("figure authorizer_cpu_per_verify = %.1f us (goal <= 15)\n", float64(cpu)/float64(time.Microsecond)) +
		fmt.Sprintf("figure authorizer_allocs_per_verify = %d allocs\n", allocs) +
		fmt.Sprintf("figure authorizer_token_ratio = %.2f x (goal <= 1.3)\n", tokenRatio) +
		fmt.Sprintf("figure authorizer_writes_60s = %d writes (goal <= 2)\n", writes)
	fmt.Print(lines)
	// make bench prints every .local/bench/*.txt last.
	if dir := filepath.Join("..", "..", ".local", "bench"); isDir(dir) {
		if err := os.WriteFile(filepath.Join(dir, "authorizer.txt"), []byte(lines), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
