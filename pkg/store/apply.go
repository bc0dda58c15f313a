package store

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// ErrTooManyConflicts is returned when Apply or ApplyDelete lost the race to other
// writers of the key on every one of its attempts.
var ErrTooManyConflicts = errors.New("store: the key is changing too often")

// maxAttempts bounds the read-decide-write loop. Each lost race means another
// change landed, so the loop always makes global progress; the bound only stops
// a pathological storm from holding a Lambda to its timeout.
const maxAttempts = 40

// Apply is the one optimistic change of a key: read key id consistently, ask decide,
// and write the key as decide left it, with its event, on condition that the stored
// version is still the one read (UpdateKey). A lost race reads and decides again,
// after a jittered backoff, at most maxAttempts times (then ErrTooManyConflicts).
//
// decide changes k in place and returns the event to record (its Time is the time of
// the change), or nil when there is nothing to change; its error ends Apply as is.
// Apply bumps the version (Bump, at the event's time) and records it in the event's
// detail. It returns the key as written, or as read when nothing changed;
// ErrNotFound if there is no key.
func (d *Dynamo) Apply(ctx context.Context, id string, decide func(*Key) (*Event, error)) (*Key, error) {
	var k *Key
	err := optimistic(ctx, maxAttempts, func() (bool, error) {
		var err error
		if k, err = d.GetKey(ctx, id); err != nil {
			return false, err
		}
		ev, err := decide(k)
		if err != nil || ev == nil {
			return false, err
		}
		k.Bump(ev.Time)
		if ev.Detail == nil {
			ev.Detail = map[string]any{}
		}
		ev.Detail["version"] = k.Version
		return lostRace(d.UpdateKey(ctx, k, ev))
	})
	return k, err
}

// ApplyDelete is Apply for a delete: read key id, ask decide (which returns the
// key.deleted event, or an error to refuse), and delete the key only as it was read
// (DeleteKey), reading and deciding again on a lost race. ErrNotFound if there is no
// key, ErrTooManyConflicts as for Apply.
func (d *Dynamo) ApplyDelete(ctx context.Context, id string, decide func(*Key) (*Event, error)) error {
	return optimistic(ctx, maxAttempts, func() (bool, error) {
		k, err := d.GetKey(ctx, id)
		if err != nil {
			return false, err
		}
		ev, err := decide(k)
		if err != nil {
			return false, err
		}
		return lostRace(d.DeleteKey(ctx, id, k.Version, ev))
	})
}

// lostRace sorts a conditional write's error: a lost race (the key changed, or went,
// since it was read) is retried, anything else (nil included) ends the loop.
func lostRace(err error) (bool, error) {
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return true, nil
	}
	return false, err
}

// Revisit is Apply for a caller that already holds a copy of the key (possibly an
// eventually consistent one) and writes it its own conditional way: the sweeper. It
// runs visit on k and, after each lost race (visit returns ErrConflict), on a fresh
// consistent read, at most attempts times (then ErrTooManyConflicts), with Apply's
// backoff. ErrNotFound when the key is gone; visit's other errors end it as they are.
func (d *Dynamo) Revisit(ctx context.Context, k *Key, attempts int, visit func(*Key) error) error {
	fresh := false
	return optimistic(ctx, attempts, func() (bool, error) {
		if fresh {
			var err error
			if k, err = d.GetKey(ctx, k.ID); err != nil {
				return false, err
			}
		}
		fresh = true
		if err := visit(k); !errors.Is(err, ErrConflict) {
			return false, err
		}
		return true, nil
	})
}

// optimistic runs attempt until it reports no lost race, at most attempts times.
func optimistic(ctx context.Context, attempts int, attempt func() (lost bool, err error)) error {
	for n := 0; ; n++ {
		lost, err := attempt()
		if !lost {
			return err
		}
		if n+1 >= attempts {
			return ErrTooManyConflicts
		}
		// Jittered backoff: the writers that lost this round spread out for the next.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(5*(n+1))) * time.Millisecond):
		}
	}
}
