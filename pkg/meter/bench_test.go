package meter_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/meter"
	"github.com/keyward/keyward/pkg/store"
)

// nopStore accepts every write at once: the benchmark measures the meter alone.
type nopStore struct{}

func (nopStore) PutUsageCount(context.Context, limits.CountWrite) error   { return nil }
func (nopStore) PutEventOnce(context.Context, *store.Event) (bool, error) { return false, nil }

// BenchmarkObserveUse is the meter's cost per use on the request path, for an
// instance serving 1,000 keys: the in-memory count, and the search for due counts
// at most once a second of the simulated clock (one use per millisecond).
func BenchmarkObserveUse(b *testing.B) {
	m := meter.New(nopStore{}, nil, quiet)
	ctx := context.Background()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "bench" + strconv.Itoa(i)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := range b.N {
		m.ObserveUse(ctx, keys[i%len(keys)], "team-a", limits.CodeValid, now.Add(time.Duration(i)*time.Millisecond))
	}
}
