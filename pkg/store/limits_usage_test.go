package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestUsageCounts: a writer's later count replaces its earlier one and an older or
// repeated write changes nothing; a day sums its writers; days outside the range,
// and other keys, are left out.
func TestUsageCounts(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	ctx := context.Background()
	put := func(key, day, writer string, seq, accepted int64, refused map[string]int64) {
		t.Helper()
		w := limits.CountWrite{KeyID: key, Day: day, Instance: writer, Seq: seq, Tally: limits.Tally{Accepted: accepted, Refused: refused}}
		if err := st.PutUsageCount(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	put("k", "2026-12-01", "a.1", 5, 10, map[string]int64{limits.CodeRateLimited: 2})
	put("k", "2026-12-01", "a.1", 7, 12, map[string]int64{limits.CodeRateLimited: 3})
	put("k", "2026-12-01", "a.1", 6, 11, nil) // late: changes nothing
	put("k", "2026-12-01", "a.1", 7, 12, map[string]int64{limits.CodeRateLimited: 3})
	put("k", "2026-12-01", "b.1", 1, 1, map[string]int64{limits.CodeUsageExceeded: 1})
	put("k", "2026-12-02", "a.1", 9, 4, nil)
	put("k", "2026-11-30", "a.1", 1, 100, nil)
	put("other", "2026-12-01", "a.1", 1, 100, nil)
	got, err := st.UsageByDay(ctx, "k", "2026-12-01", "2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := got["2026-12-01"], got["2026-12-02"]
	if len(got) != 2 || d1.Accepted != 13 || d1.Refused[limits.CodeRateLimited] != 3 || d1.Refused[limits.CodeUsageExceeded] != 1 || d2.Accepted != 4 {
		t.Fatalf("usage %+v", got)
	}
	if err := st.PutUsageCount(ctx, limits.CountWrite{KeyID: "k", Day: "yesterday"}); err == nil {
		t.Error("a write with a bad day was accepted")
	}
}

// TestUsageFlushWritesPerMinute: a sustained loop of uses of 3 keys over 5 minutes
// (simulated clock, real table), flushed after every use as a request path would:
// the table gets at most one write per key per minute, and the stored days hold
// exactly the uses made, the last ones from the flush at shutdown.
func TestUsageFlushWritesPerMinute(t *testing.T) {
	env, plain, _ := newLimitsStore(t, 0)
	db := &testenv.CountingDB{API: plain.DB()}
	st := storeOn(env, db)
	ctx := context.Background()
	c := limits.NewCounter(limits.RandomID())
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	perMinute := map[int]int64{}
	for s := 0; s < 5*60; s++ {
		now := start.Add(time.Duration(s) * time.Second)
		for k := range 3 {
			c.Record(fmt.Sprint("key", k), now, limits.CodeValid)
		}
		before := db.Writes.Load()
		if err := limits.Flush(ctx, c, st, now, false); err != nil {
			t.Fatal(err)
		}
		perMinute[s/60] += db.Writes.Load() - before
	}
	for m, n := range perMinute {
		if n > 3 {
			t.Errorf("minute %d: %d writes for 3 keys", m, n)
		}
	}
	if err := limits.Flush(ctx, c, st, start.Add(5*time.Minute), true); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		got, err := st.UsageByDay(ctx, fmt.Sprint("key", k), "2026-12-01", "2026-12-01")
		if err != nil {
			t.Fatal(err)
		}
		if got["2026-12-01"].Accepted != 5*60 {
			t.Errorf("key%d: %d uses stored, want %d", k, got["2026-12-01"].Accepted, 5*60)
		}
	}
}
