package sweeper

import (
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// Plan is what a sweep does to one key at one instant: Decide's answer, without I/O.
type Plan struct {
	// Expire: the key is past expires_at. Apply store.Key.Expire and write Schedule
	// with it (only Schedule, when the key is expired already with nothing to drop).
	Expire bool
	// Expiry is the expiry reminder due now, if any.
	Expiry *ExpiryDue
	// Stale is the stale notice due now, if any.
	Stale *StaleDue
	// FinishRotation: the previous secret's grace has ended. Apply
	// store.Key.FinishRotation and write Schedule with it.
	FinishRotation bool
	// Schedule is the key's schedule after the visit: a purge time (and nothing due)
	// for a revoked or expired key, else the next instant something falls due.
	Schedule store.Schedule
}

// ExpiryDue is an expiry reminder that is due.
type ExpiryDue struct {
	OffsetDays int // the configured offset it is for: the smallest that has passed
	DaysLeft   int // whole days from now to expires_at, rounded down
}

// StaleDue is a stale notice that is due.
type StaleDue struct {
	IdleSince      time.Time // last_used_at, else created_at
	IdleDays       int       // whole days from IdleSince to now
	StaleAfterDays int       // the configured idle time
}

// Decide is the sweeper's decision on key k at now under cfg. A revoked key is given
// its purge time (KeyRetention after the revoke, its last write) and nothing else;
// an expired one (by status or by time) is expired and given its purge time
// (KeyRetention after expires_at). A live key gets the reminders due now, the end of
// its rotation once the previous secret's grace is over, and its next due instant.
// Reminders are written before the rotation: they check k's version.
func Decide(k *store.Key, now time.Time, cfg Config) Plan {
	if k.Status == store.StatusRevoked {
		return Plan{Schedule: store.Schedule{PurgeAt: k.UpdatedAt.Add(cfg.KeyRetention)}}
	}
	if !now.Before(k.ExpiresAt) {
		return Plan{Expire: true, Schedule: store.Schedule{PurgeAt: k.ExpiresAt.Add(cfg.KeyRetention)}}
	}
	var p Plan
	if off, ok := dueOffset(k.ExpiresAt, now, cfg.Offsets); ok {
		p.Expiry = &ExpiryDue{OffsetDays: off, DaysLeft: int(k.ExpiresAt.Sub(now) / day)}
	}
	idle := idleSince(k)
	if cfg.StaleAfter > 0 && !now.Before(idle.Add(cfg.StaleAfter)) {
		p.Stale = &StaleDue{IdleSince: idle, IdleDays: int(now.Sub(idle) / day), StaleAfterDays: int(cfg.StaleAfter / day)}
	}
	prev := k.Previous
	if prev != nil && !now.Before(prev.ExpiresAt) {
		p.FinishRotation, prev = true, nil
	}
	p.Schedule = nextDue(k, prev, now, cfg)
	return p
}

// dueOffset returns the smallest offset whose reminder instant has passed before
// expires: a sweep that finds both the 14- and the 7-day reminder due sends the 7-day one.
func dueOffset(expires, now time.Time, offsets []int) (int, bool) {
	best, ok := 0, false
	for _, d := range offsets {
		if !now.Before(expires.Add(-time.Duration(d) * day)) {
			best, ok = d, true // offsets are largest first: the last match is the smallest
		}
	}
	return best, ok
}

func idleSince(k *store.Key) time.Time {
	if k.LastUsedAt != nil && k.LastUsedAt.After(k.CreatedAt) {
		return *k.LastUsedAt
	}
	return k.CreatedAt
}

// nextDue is the schedule of live key k, whose previous secret is now prev, after a
// visit at now: the earliest instant after now at which something falls due.
func nextDue(k *store.Key, prev *store.Secret, now time.Time, cfg Config) store.Schedule {
	var due time.Time
	consider := func(t time.Time) {
		if t.After(now) && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	consider(k.ExpiresAt)
	if prev != nil {
		consider(prev.ExpiresAt)
	}
	for _, d := range cfg.Offsets {
		consider(k.ExpiresAt.Add(-time.Duration(d) * day))
	}
	if cfg.StaleAfter > 0 {
		if t := idleSince(k).Add(cfg.StaleAfter); t.After(now) {
			consider(t)
		} else {
			// This idle period was reported; a new one cannot end before a use after now.
			consider(now.Add(cfg.StaleAfter))
		}
	}
	return store.Schedule{DueAt: due}
}
