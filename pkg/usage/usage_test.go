package usage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// marks is a usage Store in memory: a touch wins unless one won within the interval.
type marks struct {
	last     map[string]time.Time
	touches  int
	events   []*store.Event
	eventErr error
}

func (m *marks) TouchLastUsed(_ context.Context, keyID, _ string, now time.Time, interval time.Duration) (bool, error) {
	m.touches++
	if t, ok := m.last[keyID]; ok && now.Sub(t) < interval {
		return false, nil
	}
	m.last[keyID] = now
	return true, nil
}

func (m *marks) PutEvent(_ context.Context, e *store.Event) error {
	m.events = append(m.events, e)
	return m.eventErr
}

// TestTouchOncePerInterval: one instance tries at most once per key per Interval,
// a second instance that loses the race records no event, and the event is the
// winner's, at a whole second.
func TestTouchOncePerInterval(t *testing.T) {
	st := &marks{last: map[string]time.Time{}}
	a, b := New(st), New(st)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 500_000_000, time.UTC)
	if wrote, err := a.Touch(ctx, "k1", "team-a", "192.0.2.1", "k1", now); !wrote || err != nil {
		t.Fatalf("first touch = %v, %v", wrote, err)
	}
	if wrote, _ := a.Touch(ctx, "k1", "team-a", "192.0.2.1", "k1", now.Add(Interval-time.Second)); wrote || st.touches != 1 {
		t.Fatalf("second touch on the instance: wrote=%v, %d store calls", wrote, st.touches)
	}
	if wrote, _ := b.Touch(ctx, "k1", "team-a", "192.0.2.1", "k1", now.Add(time.Second)); wrote || st.touches != 2 || len(st.events) != 1 {
		t.Fatalf("other instance: wrote=%v, %d calls, %d events", wrote, st.touches, len(st.events))
	}
	e := st.events[0]
	if e.Type != store.EventKeyUsed || e.KeyID != "k1" || e.Owner != "team-a" || e.IP != "192.0.2.1" || !e.Time.Equal(now.Truncate(time.Second)) {
		t.Fatalf("event %+v", e)
	}
	if wrote, _ := a.Touch(ctx, "k1", "team-a", "192.0.2.1", "k1", now.Add(Interval)); !wrote {
		t.Fatal("no write after the interval")
	}
	if wrote, _ := a.Touch(ctx, "k2", "team-a", "192.0.2.1", "k2", now); !wrote {
		t.Fatal("another key waited for the first")
	}
}

func TestTouchEventError(t *testing.T) {
	st := &marks{last: map[string]time.Time{}, eventErr: errors.New("throttled")}
	wrote, err := New(st).Touch(context.Background(), "k1", "", "192.0.2.1", "k1", time.Now())
	if !wrote || err == nil {
		t.Fatalf("Touch = %v, %v: the write landed, the event did not", wrote, err)
	}
}

// TestMarksBounded: past maxMarks, marks older than Interval are dropped.
func TestMarksBounded(t *testing.T) {
	r := New(&marks{last: map[string]time.Time{}})
	now := time.Unix(1_800_000_000, 0)
	for i := range maxMarks {
		at := now.Add(-Interval)
		if i%2 == 0 {
			at = now
		}
		r.touched[string(rune(i))] = at
	}
	if !r.due("new", now) || len(r.touched) != maxMarks/2+1 {
		t.Fatalf("%d marks kept", len(r.touched))
	}
}
