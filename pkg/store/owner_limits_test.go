package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/pkg/limits"
)

// TestUseOwner: an owner's shared rate limit admits exactly its limit in a window,
// from many callers with the previous answer as hint; an owner without limits is
// not limited; removing the limit removes the item.
func TestUseOwner(t *testing.T) {
	_, st, lt := newLimitsStore(t, 0.2)
	ctx := context.Background()
	const owner = "team-payments/alice"
	if err := st.PutOwnerLimits(ctx, owner, limits.OwnerLimits{RateLimit: &limits.RateLimit{Limit: 7, WindowSeconds: 60}}); err != nil {
		t.Fatal(err)
	}
	lt.armed.Store(true)
	slots := limits.NewSlots()
	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			var hint *limits.State
			for range 4 {
				slot := slots.Acquire()
				u := limits.Use{Cost: 1, Slot: slot, ID: limits.RandomID(), At: limitsNow}
				var res *limits.State
				for try := 0; ; try++ {
					r, err := st.UseOwner(ctx, owner, u, hint, limitsNow)
					if err != nil && try < 10 {
						continue // the same Use again: counted at most once
					}
					if err != nil {
						t.Error(err)
						return
					}
					switch {
					case r.Counted:
						accepted.Add(1)
					case r.Refused == limits.CodeRateLimited:
						refused.Add(1)
					default:
						t.Errorf("neither counted nor refused: %+v", r)
					}
					res = r.State
					break
				}
				slots.Release(slot)
				hint = res
			}
		})
	}
	wg.Wait()
	if accepted.Load() != 7 || refused.Load() != 13 {
		t.Errorf("accepted %d, refused %d; want 7 and 13 (%d answers lost)", accepted.Load(), refused.Load(), lt.lost.Load())
	}
	if s, err := st.OwnerLimits(ctx, owner); err != nil || s.WindowCount != 7 {
		t.Errorf("stored window %+v, %v", s, err)
	}
	lt.armed.Store(false)
	if err := st.PutOwnerLimits(ctx, owner, limits.OwnerLimits{}); err != nil {
		t.Fatal(err)
	}
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	for _, o := range []string{owner, "bob@example.com"} {
		if r, err := st.UseOwner(ctx, o, u, nil, limitsNow); err != nil || !r.NotLimited {
			t.Errorf("owner %s without limits: %+v, %v", o, r, err)
		}
	}
}
