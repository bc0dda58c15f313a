package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// TestAuditPaging pages through an audit log of events dated over a year, with and
// without a type filter, at several page sizes: newest write first, nothing past
// retention, nothing twice.
func TestAuditPaging(t *testing.T) {
	env := testenv.New(t)
	st := store.New(env.DDB, env.Table, 400*24*time.Hour)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	type placed struct {
		month string
		id    string
		typ   string
	}
	var all []placed
	// Months back from now, with the number of events in each: gaps and a busy month.
	for _, m := range []struct{ back, n int }{{0, 3}, {1, 1}, {3, 4}, {4, 1}, {9, 2}, {12, 1}} {
		for i := range m.n {
			at := now.AddDate(0, -m.back, 0)
			typ := store.EventKeyUpdated
			if i%2 == 0 {
				typ = store.EventKeyCreated
			}
			e := &store.Event{Time: at, Type: typ, KeyID: fmt.Sprintf("k%02d%02d", m.back, i), Actor: "root"}
			if err := st.PutEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			all = append(all, placed{at.Format("2006-01"), e.ID, typ})
		}
	}
	// An event past the retention horizon is never listed.
	if err := st.PutEvent(ctx, &store.Event{Time: now.AddDate(-2, 0, 0), Type: store.EventKeyCreated, KeyID: "old", Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(a, b placed) int { return -compare(a.id, b.id) })
	for _, typ := range []string{"", store.EventKeyCreated} {
		var want []string
		for _, p := range all {
			if typ == "" || p.typ == typ {
				want = append(want, p.id)
			}
		}
		for _, limit := range []int{1, 2, 3, 5, 100} {
			t.Run(fmt.Sprintf("type=%q/limit=%d", typ, limit), func(t *testing.T) {
				var got []string
				after := ""
				for pages := 0; ; pages++ {
					page, err := st.ListAudit(ctx, typ, nil, limit, after, now)
					if err != nil {
						t.Fatal(err)
					}
					if len(page.Items) > limit {
						t.Fatalf("page of %d items, limit %d", len(page.Items), limit)
					}
					for _, e := range page.Items {
						got = append(got, e.ID)
					}
					if page.Next == "" {
						break
					}
					if pages > 40 {
						t.Fatal("pagination does not end")
					}
					after = page.Next
				}
				if !slices.Equal(got, want) {
					t.Fatalf("listed %d events %v\nwant %d %v", len(got), got, len(want), want)
				}
			})
		}
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
