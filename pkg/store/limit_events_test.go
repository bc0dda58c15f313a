package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestPutEventOnce: writers racing to record one event under the same derived id
// write it once, and exactly one of them is told it won.
func TestPutEventOnce(t *testing.T) {
	env := testenv.New(t)
	st := store.New(env.DDB, env.Table, time.Hour)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 30, 0, time.UTC)
	var won atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			e := &store.Event{ID: "0001796126400000000000000000rl", Time: now, Type: store.EventKeyRateLimited,
				KeyID: "once1", Owner: "team-a", Actor: "once1", Detail: map[string]any{"code": limits.CodeRateLimited}}
			ok, err := st.PutEventOnce(ctx, e)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	page, err := st.ListEvents(ctx, "once1", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if won.Load() != 1 || len(page.Items) != 1 || page.Items[0].Type != store.EventKeyRateLimited {
		t.Fatalf("%d winners, events %+v", won.Load(), page.Items)
	}
	if _, err := st.PutEventOnce(ctx, &store.Event{Time: now, Type: store.EventKeyRateLimited, KeyID: "once1"}); err == nil {
		t.Error("an event without an id was accepted")
	}
}

// TestSetOwnerLimitsRecordsEvent: each change of an owner's limits is in the audit
// log, to readers of that owner only, and in no key's trail; the window counted so
// far survives a change of the limit.
func TestSetOwnerLimitsRecordsEvent(t *testing.T) {
	env := testenv.New(t)
	st := store.New(env.DDB, env.Table, time.Hour)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	const owner = "team-a/billing@example.com"
	set := func(rl *limits.RateLimit) {
		t.Helper()
		e := &store.Event{Time: now, Type: store.EventOwnerLimitsUpdated, Actor: "root", Detail: map[string]any{"owner": owner}}
		if err := st.SetOwnerLimits(ctx, owner, limits.OwnerLimits{RateLimit: rl}, e); err != nil {
			t.Fatal(err)
		}
	}
	set(&limits.RateLimit{Limit: 5, WindowSeconds: 60})
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: now}
	if r, err := st.UseOwner(ctx, owner, u, nil, now); err != nil || !r.Counted {
		t.Fatalf("use: %+v, %v", r, err)
	}
	set(&limits.RateLimit{Limit: 9, WindowSeconds: 60})
	s, err := st.OwnerLimits(ctx, owner)
	if err != nil || s.RateLimit == nil || s.RateLimit.Limit != 9 || s.WindowCount != 1 {
		t.Fatalf("owner limits %+v, %v", s, err)
	}
	set(nil)
	if s, err := st.OwnerLimits(ctx, owner); err != nil || s.RateLimit != nil {
		t.Fatalf("removed limits %+v, %v", s, err)
	}
	count := func(within *scope.OwnerRange) int {
		t.Helper()
		page, err := st.ListAudit(ctx, store.EventOwnerLimitsUpdated, within, 100, "", now)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			if e.Owner != owner || e.KeyID != "" {
				t.Errorf("event %+v", e)
			}
		}
		return len(page.Items)
	}
	if n := count(nil); n != 3 {
		t.Errorf("audit log holds %d owner.limits_updated, want 3", n)
	}
	if n := count(&scope.OwnerRange{Prefixes: []string{"team-a/"}}); n != 3 {
		t.Errorf("team-a/* reader sees %d, want 3", n)
	}
	if n := count(&scope.OwnerRange{Owners: []string{"team-b"}}); n != 0 {
		t.Errorf("team-b reader sees %d, want 0", n)
	}
}
