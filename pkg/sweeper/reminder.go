package sweeper

import (
	"fmt"
	"time"
)

// Reminder kinds.
const (
	KindExpiry = "expiry"
	KindStale  = "stale"
)

// Reminder is the detail of a reminder event, the same on EventBridge (as "detail"),
// on SNS (as the message body) and in the marker that makes it exactly-once.
type Reminder struct {
	// ReminderID is unique per reminder and stable across retries: consumers dedupe on it.
	ReminderID string `json:"reminder_id"`
	// Kind is "expiry" or "stale".
	Kind          string    `json:"kind"`
	KeyID         string    `json:"key_id"`
	Name          string    `json:"name"`
	Owner         string    `json:"owner"`
	Start         string    `json:"start"`
	Status        string    `json:"status"`
	SecretVersion int64     `json:"secret_version"`
	CreatedAt     time.Time `json:"created_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	// LastUsedAt is null for a key never used.
	LastUsedAt *time.Time `json:"last_used_at"`
	// DaysLeft (expiry) is the whole days from SweptAt to ExpiresAt, rounded down.
	DaysLeft *int `json:"days_left,omitempty"`
	// OffsetDays (expiry) is the configured offset this reminder is for.
	OffsetDays *int `json:"offset_days,omitempty"`
	// IdleSince (stale) is when the idle period began: last_used_at, else created_at.
	IdleSince *time.Time `json:"idle_since,omitempty"`
	// IdleDays (stale) is the whole days from IdleSince to SweptAt.
	IdleDays *int `json:"idle_days,omitempty"`
	// StaleAfterDays (stale) is the configured idle time.
	StaleAfterDays *int `json:"stale_after_days,omitempty"`
	// SweptAt is the instant of the sweep that found the reminder due.
	SweptAt time.Time `json:"swept_at"`
}

// maxSubject is SNS's bound: a subject is printable ASCII, one line, under 100 characters.
const maxSubject = 99

// Subject is a one-line summary, the SNS subject. A key name may hold any character,
// so everything outside printable ASCII becomes '?', and a long name is cut: a
// subject SNS refuses would leave the reminder undeliverable on every retry.
func (r *Reminder) Subject() string {
	name := []byte(r.Name)
	for i, c := range name {
		if c < ' ' || c > '~' {
			name[i] = '?'
		}
	}
	s := fmt.Sprintf("Keyward: key %s expires in %d days", name, deref(r.DaysLeft))
	if r.Kind == KindStale {
		s = fmt.Sprintf("Keyward: key %s unused for %d days", name, deref(r.IdleDays))
	}
	if len(s) > maxSubject {
		s = s[:maxSubject-3] + "..."
	}
	return s
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func ptr[T any](v T) *T { return &v }
