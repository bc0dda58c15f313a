package usage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// Interval is the least time between two last-used writes of one key.
const Interval = 60 * time.Second

// maxMarks bounds the in-memory marks; marks older than Interval are dropped past it.
const maxMarks = 10000

// Store is where the recorder writes; *store.Dynamo implements it.
type Store interface {
	// TouchLastUsed sets the key's last_used_at and last_used_ip to now and ip unless
	// they were set less than interval before now, or the key is gone: then it
	// reports false.
	TouchLastUsed(ctx context.Context, keyID, ip string, now time.Time, interval time.Duration) (bool, error)
	// PutEvent records an event that goes with no key change.
	PutEvent(ctx context.Context, e *store.Event) error
}

var _ Store = (*store.Dynamo)(nil)

// Recorder writes last-used information, at most once per key per Interval.
type Recorder struct {
	store Store

	mu      sync.Mutex
	touched map[string]time.Time // key id → last attempt on this instance
}

// New returns a recorder writing to st.
func New(st Store) *Recorder {
	return &Recorder{store: st, touched: map[string]time.Time{}}
}

// due marks keyID as touched at now and reports whether this instance should try.
func (r *Recorder) due(keyID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.touched[keyID]; ok && now.Sub(last) < Interval {
		return false
	}
	if len(r.touched) >= maxMarks {
		for id, t := range r.touched {
			if now.Sub(t) >= Interval {
				delete(r.touched, id)
			}
		}
	}
	r.touched[keyID] = now
	return true
}

// Touch records that keyID was used from ip at now, unless it was recorded less than
// Interval ago. It reports whether this call wrote.
func (r *Recorder) Touch(ctx context.Context, keyID, owner, ip, actor string, now time.Time) (bool, error) {
	if !r.due(keyID, now) {
		return false, nil
	}
	now = now.UTC().Truncate(time.Second)
	won, err := r.store.TouchLastUsed(ctx, keyID, ip, now, Interval)
	if err != nil || !won {
		return false, err // a lost race: another instance wrote within the interval, or the key is gone
	}
	err = r.store.PutEvent(ctx, &store.Event{Time: now, Type: store.EventKeyUsed, KeyID: keyID, Owner: owner, Actor: actor, IP: ip, Detail: map[string]any{}})
	if err != nil {
		return true, fmt.Errorf("usage: key.used event: %w", err)
	}
	return true, nil
}
