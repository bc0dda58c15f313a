package lockout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// Config is the lockout rule.
type Config struct {
	MaxFailures int           // failures in Window that lock the pair; default 5
	Window      time.Duration // default 5 minutes
	Cooldown    time.Duration // how long the pair stays locked; default 5 minutes
}

// Defaults fills zero fields with the defaults.
func (c Config) Defaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Window <= 0 {
		c.Window = 5 * time.Minute
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 5 * time.Minute
	}
	return c
}

// Store is where the guard keeps its counters and locks; *store.Dynamo implements it.
type Store interface {
	// CountFailure adds a failure at now to the pair's window of length window (or
	// opens one), and returns the count and the end of a lock set within it.
	CountFailure(ctx context.Context, keyID, ip string, now time.Time, window, cooldown time.Duration) (int64, time.Time, error)
	// LockPair locks the pair until until unless a lock is running at now; it
	// reports whether this call set it.
	LockPair(ctx context.Context, keyID, ip string, now, until time.Time, window time.Duration) (bool, error)
	// PutEvent records an event that goes with no key change (auth.failed).
	PutEvent(ctx context.Context, e *store.Event) error
	// RecordLock records on key id's item that ip is locked out until until, without
	// bumping its version; store.ErrNotFound if there is no such key.
	RecordLock(ctx context.Context, id, ip string, until, now time.Time) error
}

var _ Store = (*store.Dynamo)(nil)

// maxMarks bounds the in-memory lock marks; expired ones are dropped past it.
const maxMarks = 10000

type pair struct{ keyID, ip string }

// Guard counts failures and remembers locks.
type Guard struct {
	store Store
	cfg   Config

	mu     sync.Mutex
	locked map[pair]time.Time // pair → locked until
}

// New returns a guard keeping its counters, and its locks on key items, in st.
func New(st Store, cfg Config) *Guard {
	return &Guard{store: st, cfg: cfg.Defaults(), locked: map[pair]time.Time{}}
}

// Config returns the rule in force.
func (g *Guard) Config() Config { return g.cfg }

// Locked reports, without I/O, whether this instance knows the pair to be locked at
// now, and until when.
func (g *Guard) Locked(keyID, ip string, now time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.locked[pair{keyID, ip}]
	if !ok || !now.Before(until) {
		return time.Time{}, false
	}
	return until, true
}

func (g *Guard) mark(keyID, ip string, until, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.locked) >= maxMarks {
		for p, u := range g.locked {
			if !now.Before(u) {
				delete(g.locked, p)
			}
		}
	}
	g.locked[pair{keyID, ip}] = until
}

// Fail records one failed attempt of keyID from ip at now. It reports whether the pair
// was already locked before this attempt, and until when (the caller answers 429
// then); the attempt that reaches the limit locks the pair for the next ones. A lock
// is also recorded on the key's item (if the key exists), where every instance's
// verification read sees it; failing to record it is an error, but the lock stands.
func (g *Guard) Fail(ctx context.Context, keyID, ip string, now time.Time) (time.Time, bool, error) {
	n, lockedUntil, err := g.store.CountFailure(ctx, keyID, ip, now, g.cfg.Window, g.cfg.Cooldown)
	if err != nil {
		return time.Time{}, false, err
	}
	if now.Before(lockedUntil) {
		g.mark(keyID, ip, lockedUntil, now)
		// This instance had not seen the lock, and the caller's read of the key (if
		// there is one) did not show it: its record was lost or pushed out. Record it
		// again: once per pair and instance, since the mark now answers without I/O.
		return lockedUntil, true, g.record(ctx, keyID, ip, lockedUntil, now)
	}
	if n < int64(g.cfg.MaxFailures) {
		return time.Time{}, false, nil
	}
	until := now.Add(g.cfg.Cooldown)
	won, err := g.store.LockPair(ctx, keyID, ip, now, until, g.cfg.Window)
	if err != nil {
		return time.Time{}, false, err
	}
	g.mark(keyID, ip, until, now)
	if won {
		// The winner of the lock tells every instance, through the key item, first:
		// until then only the counter and this instance know.
		recErr := g.record(ctx, keyID, ip, until, now)
		err := g.store.PutEvent(ctx, &store.Event{
			Time: now, Type: store.EventAuthFailed, KeyID: keyID, Actor: "anonymous", IP: ip,
			Detail: map[string]any{
				"reason": "too_many_attempts", "failures": n,
				"window_seconds": int64(g.cfg.Window / time.Second), "locked_until": until.UTC().Format(time.RFC3339),
			},
		})
		if err != nil {
			err = fmt.Errorf("lockout event: %w", err)
		}
		return time.Time{}, false, errors.Join(recErr, err)
	}
	return time.Time{}, false, nil
}

// record puts the pair's lock on the key item. An unknown key id has no item: its
// lock lives in the counter only, which every failed attempt reads anyway.
func (g *Guard) record(ctx context.Context, keyID, ip string, until, now time.Time) error {
	err := g.store.RecordLock(ctx, keyID, ip, until, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("lockout: %w", err)
	}
	return nil
}
