package limits

import (
	"crypto/rand"
	"encoding/base32"
	"strconv"
	"sync"
	"time"
)

// Slots hands out the slots of one process (one Lambda instance): a slot is held by
// one use at a time, from its first attempt to its answer, so a use's mark is written
// by nobody else while the use can still be retried. A process needs as many slots
// as it makes uses at once (one, in Lambda); freed slots are reused first, so a
// key's item holds a mark for each caller that used it within MarkTTL, no more.
type Slots struct {
	prefix string
	mu     sync.Mutex
	free   []string
	next   int
}

// NewSlots returns the slots of a new process, under a random prefix.
func NewSlots() *Slots { return &Slots{prefix: RandomID()} }

// Acquire returns a slot no other use of this process holds.
func (s *Slots) Acquire() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.free); n > 0 {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		return slot
	}
	s.next++
	return s.prefix + "." + strconv.Itoa(s.next)
}

// Release gives back a slot once its use has its answer.
func (s *Slots) Release(slot string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = append(s.free, slot)
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// RandomID returns 80 random bits as 16 base32 characters: a use id, a slot prefix,
// an instance id.
func RandomID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// Window is the rate-limit part of a verify answer: `{"limit", "remaining", "reset"}`.
type Window struct {
	Limit     int64 `json:"limit"`
	Remaining int64 `json:"remaining"`
	// Reset is when the current window ends (RFC 3339 UTC, as every time of the API).
	Reset time.Time `json:"reset"`
}

// WindowAt is the state's rate-limit window as of now, or nil for a key without a
// rate limit: a window that has ended shows its full limit and the next window's end.
func WindowAt(s *State, now time.Time) *Window {
	rl := s.RateLimit
	if rl == nil {
		return nil
	}
	start, used := WindowStart(rl.WindowSeconds, now), int64(0)
	if s.WindowStart >= start {
		start, used = s.WindowStart, s.WindowCount
	}
	return &Window{Limit: rl.Limit, Remaining: max(rl.Limit-used, 0), Reset: time.Unix(start+rl.WindowSeconds, 0).UTC()}
}
