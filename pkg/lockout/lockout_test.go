package lockout

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// counters keeps the guard's counters in memory, by the store's rules (one window,
// one lock that a running lock refuses), and records what the guard asked.
type counters struct {
	n           map[string]int64
	start       map[string]time.Time
	lockedUntil map[string]time.Time
	calls       int
	lockLost    bool // LockPair loses the race (another instance set the lock)
	recorded    []string
	recordErr   error
	events      []*store.Event
}

func newCounters() *counters {
	return &counters{n: map[string]int64{}, start: map[string]time.Time{}, lockedUntil: map[string]time.Time{}}
}

func (c *counters) CountFailure(_ context.Context, keyID, ip string, now time.Time, window, _ time.Duration) (int64, time.Time, error) {
	c.calls++
	p := keyID + "#" + ip
	if s, ok := c.start[p]; !ok || !s.After(now.Add(-window)) {
		c.start[p], c.n[p] = now, 0
	}
	c.n[p]++
	return c.n[p], c.lockedUntil[p], nil
}

func (c *counters) LockPair(_ context.Context, keyID, ip string, now, until time.Time, _ time.Duration) (bool, error) {
	c.calls++
	p := keyID + "#" + ip
	if c.lockLost || now.Before(c.lockedUntil[p]) {
		return false, nil
	}
	c.lockedUntil[p] = until
	return true, nil
}

func (c *counters) RecordLock(_ context.Context, id, ip string, until, _ time.Time) error {
	c.calls++
	c.recorded = append(c.recorded, fmt.Sprintf("%s %s %d", id, ip, until.Unix()))
	return c.recordErr
}

func (c *counters) PutEvent(_ context.Context, e *store.Event) error {
	c.calls++
	c.events = append(c.events, e)
	return nil
}

func TestFailLocksAtTheLimit(t *testing.T) {
	st := newCounters()
	g := New(st, Config{})
	now := time.Unix(1_800_000_000, 0)
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		if _, locked, err := g.Fail(ctx, "k1", "192.0.2.1", now); err != nil || locked {
			t.Fatalf("failure %d: locked=%v err=%v", i, locked, err)
		}
	}
	until := now.Add(5 * time.Minute)
	if len(st.recorded) != 1 || st.recorded[0] != fmt.Sprintf("k1 192.0.2.1 %d", until.Unix()) {
		t.Fatalf("recorded %v", st.recorded)
	}
	if len(st.events) != 1 || st.events[0].Type != store.EventAuthFailed || st.events[0].Detail["failures"] != int64(5) ||
		st.events[0].Detail["locked_until"] != until.UTC().Format(time.RFC3339) {
		t.Fatalf("events %+v", st.events)
	}
	// This instance knows the lock without I/O; another IP is not locked.
	calls := st.calls
	if u, ok := g.Locked("k1", "192.0.2.1", now.Add(time.Minute)); !ok || !u.Equal(until) {
		t.Fatalf("Locked = %v, %v", u, ok)
	}
	if _, ok := g.Locked("k1", "192.0.2.2", now); ok {
		t.Fatal("another IP is locked")
	}
	if st.calls != calls {
		t.Fatal("Locked did I/O")
	}
	if _, ok := g.Locked("k1", "192.0.2.1", until); ok {
		t.Fatal("still locked when the cooldown ends")
	}
}

// TestFailFindsALockItDidNotSet: an instance that never saw the lock learns it from
// the counter, answers locked, and records it on the key again (its record may have
// been lost); a key that does not exist is not an error.
func TestFailFindsALockItDidNotSet(t *testing.T) {
	st := newCounters()
	now := time.Unix(1_800_000_000, 0)
	until := now.Add(time.Minute)
	st.lockedUntil["k1#192.0.2.1"] = until
	st.recordErr = store.ErrNotFound
	g := New(st, Config{})
	u, locked, err := g.Fail(context.Background(), "k1", "192.0.2.1", now)
	if err != nil || !locked || !u.Equal(until) || len(st.recorded) != 1 || len(st.events) != 0 {
		t.Fatalf("Fail = %v, %v, %v; recorded %v, events %d", u, locked, err, st.recorded, len(st.events))
	}
	if _, ok := g.Locked("k1", "192.0.2.1", now); !ok {
		t.Fatal("the lock found is not remembered")
	}
	st.recordErr = errors.New("throttled")
	if _, _, err := New(st, Config{}).Fail(context.Background(), "k1", "192.0.2.1", now); err == nil {
		t.Fatal("a failed record is not reported")
	}
}

// TestLostLockRace: the instance that loses the lock write records nothing (the
// winner does), but still remembers the lock.
func TestLostLockRace(t *testing.T) {
	st := newCounters()
	st.lockLost = true
	g := New(st, Config{MaxFailures: 1})
	now := time.Unix(1_800_000_000, 0)
	if _, locked, err := g.Fail(context.Background(), "k1", "192.0.2.1", now); err != nil || locked {
		t.Fatalf("Fail: %v %v", locked, err)
	}
	if len(st.recorded) != 0 || len(st.events) != 0 {
		t.Fatalf("loser recorded %v, %d events", st.recorded, len(st.events))
	}
	if _, ok := g.Locked("k1", "192.0.2.1", now); !ok {
		t.Fatal("the loser does not remember the lock")
	}
}

// TestMarksBounded: past maxMarks the expired marks are dropped, the running ones kept.
func TestMarksBounded(t *testing.T) {
	g := New(newCounters(), Config{})
	now := time.Unix(1_800_000_000, 0)
	for i := range maxMarks {
		until := now.Add(-time.Second)
		if i%2 == 0 {
			until = now.Add(time.Minute)
		}
		g.mark(fmt.Sprint("k", i), "192.0.2.1", until, now)
	}
	g.mark("new", "192.0.2.1", now.Add(time.Minute), now)
	if len(g.locked) != maxMarks/2+1 {
		t.Fatalf("%d marks kept, want %d", len(g.locked), maxMarks/2+1)
	}
	if _, ok := g.Locked("k0", "192.0.2.1", now); !ok {
		t.Fatal("a running mark was dropped")
	}
}

func TestDefaults(t *testing.T) {
	c := Config{MaxFailures: 3}.Defaults()
	if c.MaxFailures != 3 || c.Window != 5*time.Minute || c.Cooldown != 5*time.Minute {
		t.Fatalf("%+v", c)
	}
}
