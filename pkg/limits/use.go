package limits

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Verification codes of a refused use (POST /v1/keys/verify's `code`, and the
// refusals of usage counts); CodeValid is an accepted one.
const (
	CodeRateLimited       = "RATE_LIMITED"
	CodeUsageExceeded     = "USAGE_EXCEEDED"
	CodeNotFound          = "NOT_FOUND"
	CodeExpired           = "EXPIRED"
	CodeRevoked           = "REVOKED"
	CodeInsufficientScope = "INSUFFICIENT_SCOPE"
	CodeIPNotAllowed      = "IP_NOT_ALLOWED"
	CodeLocked            = "LOCKED"
)

// State is what one read of a key item holds about its limits: the settings, and
// the bookkeeping that a use changes.
type State struct {
	Settings
	// RefilledAt is the start (epoch seconds) of the refill period of the last
	// refill; 0 if the key was never refilled.
	RefilledAt int64
	// WindowStart (epoch seconds) is the rate-limit window that WindowCount counts.
	WindowStart int64
	WindowCount int64
	// Marks are the recent uses' marks, by slot (see Use).
	Marks map[string]string
}

// Limited reports whether a use of the key costs a write: it has a rate limit or
// credits. A key with neither keeps the one-read path.
func (s *State) Limited() bool { return s.RateLimit != nil || s.Remaining != nil }

// Use is one use of a key, as it is retried: every attempt carries the same ID, Slot
// and At, so an attempt that finds its own mark knows an earlier one was counted.
type Use struct {
	// Cost is the credits and window units the use takes (1 unless verify says).
	Cost int64
	// Slot names the caller: one caller makes one use at a time in its slot (see
	// Slots), so only it writes that slot's mark.
	Slot string
	// ID is unique per use; At is when the use was first tried.
	ID string
	At time.Time
}

// Mark is what a counted use leaves in its slot: "<At epoch s>:<ID>".
func (u Use) Mark() string { return strconv.FormatInt(u.At.Unix(), 10) + ":" + u.ID }

// MarkTTL is how long a slot's mark is kept: longer than any use's attempts last
// (callers bound one use's attempts well below it), so a retry of a counted use
// always finds the mark; after it, another use's write may remove the mark.
const MarkTTL = 2 * time.Minute

// maxPrune bounds the stale marks one use removes, so one write stays small.
const maxPrune = 4

// CreditStep is the credit part of a use's conditional update.
type CreditStep struct {
	// Refill: the period's refill happens with this use: remaining = refill.amount −
	// Cost and refilled_at = Period, on condition that refilled_at < Period (or is
	// absent), refill.every = Every and refill.amount ≥ Cost. Otherwise:
	// remaining = remaining − Cost on condition that remaining ≥ Cost and, when
	// Every is set, refilled_at ≥ Period (no refill is due); when Every is "",
	// refill is absent.
	Refill bool
	Period int64
	Every  string
	Cost   int64
}

// WindowStep is the rate-limit part of a use's conditional update, on condition
// that the stored ratelimit is still Limit per WindowSeconds.
type WindowStep struct {
	Limit, WindowSeconds int64
	// New: the use opens window Start: rl_window = Start and rl_count = Cost, on
	// condition that rl_window < Start or is absent. Otherwise rl_count = rl_count +
	// Cost, on condition that rl_window = Start and rl_count ≤ Limit − Cost.
	New   bool
	Start int64
	Cost  int64
}

// Plan is the one conditional update that counts a use, free of DynamoDB types: the
// store turns it into one UpdateItem (ReturnValues ALL_NEW) of the key item. Every
// part's condition holds the part to the state it was planned from, so a concurrent
// change makes the update fail as a whole (and the store plans again from the item
// the failure returns) rather than count against a state the planner did not see.
type Plan struct {
	// Credit is nil when the key has no credits: the condition then requires
	// remaining to be absent or null.
	Credit *CreditStep
	// Window is nil when the key has no rate limit: the condition then requires
	// ratelimit to be absent or null.
	Window *WindowStep
	// Slot, Mark: marks.<Slot> = Mark, on condition that it is not Mark already.
	Slot, Mark string
	// NewMarks: the item has no marks map yet; the update creates it with this one
	// mark, on condition that it is still absent.
	NewMarks bool
	// Prune are stale marks of other slots to remove, each on condition that it is
	// still the value read (slot → mark).
	Prune map[string]string
}

// Decision is what a use comes to against one state of the key.
type Decision struct {
	// Counted: the state already holds this use's mark; it was counted by an earlier
	// attempt (whose answer was lost) and must not be counted again.
	Counted bool
	// Refused is CodeRateLimited or CodeUsageExceeded, or "" if the use may go ahead.
	Refused string
	// RetryAfter is, for CodeRateLimited, when the window ends; for
	// CodeUsageExceeded with a refill, when the next refill is; zero otherwise.
	RetryAfter time.Time
	// Plan is the update that counts the use, when neither Counted nor Refused.
	Plan *Plan
}

// Decide is the use u of a key in state s at now. Usage is checked before the rate
// limit: a key out of credits answers USAGE_EXCEEDED whatever its window. A refused
// use changes nothing (it counts against neither credits nor the window). Decide is
// pure: the same state, use and time always give the same decision.
func Decide(s *State, u Use, now time.Time) Decision {
	if m, ok := s.Marks[u.Slot]; ok && m == u.Mark() {
		return Decision{Counted: true}
	}
	p := &Plan{Slot: u.Slot, Mark: u.Mark(), NewMarks: s.Marks == nil, Prune: stale(s.Marks, u.Slot, now)}
	if s.Remaining != nil {
		c, next, ok := creditStep(s, u.Cost, now)
		if !ok {
			return Decision{Refused: CodeUsageExceeded, RetryAfter: next}
		}
		p.Credit = c
	}
	if s.RateLimit != nil {
		w, ok := windowStep(s, u.Cost, now)
		if !ok {
			return Decision{Refused: CodeRateLimited, RetryAfter: time.Unix(w.Start+w.WindowSeconds, 0)}
		}
		p.Window = w
	}
	return Decision{Plan: p}
}

// creditStep plans the credit part, or reports false (and the next refill, if any)
// when the credits left, refilled if a refill is due, do not cover cost. Refill is
// lazy: it happens in the first use of a period, from refilled_at and now, with no
// sweeper.
func creditStep(s *State, cost int64, now time.Time) (*CreditStep, time.Time, bool) {
	c := &CreditStep{Cost: cost}
	left := *s.Remaining
	var next time.Time
	if r := s.Refill; r != nil {
		start := PeriodStart(r.Every, now)
		c.Every, c.Period = r.Every, start.Unix()
		if s.RefilledAt < c.Period {
			c.Refill, left = true, r.Amount
		}
		next = nextPeriod(r.Every, start)
	}
	if left < cost {
		return nil, next, false
	}
	return c, time.Time{}, true
}

func nextPeriod(every string, start time.Time) time.Time {
	if every == EveryMonth {
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// windowStep plans the rate-limit part; false (with Start and WindowSeconds set) when
// the window has no room for cost. A stored window later than the one now falls in
// means this instance's clock is behind the one that opened it: the use counts in
// the stored window, so no window is ever counted by two disagreeing clocks.
func windowStep(s *State, cost int64, now time.Time) (*WindowStep, bool) {
	rl := s.RateLimit
	w := &WindowStep{Limit: rl.Limit, WindowSeconds: rl.WindowSeconds, Cost: cost, Start: WindowStart(rl.WindowSeconds, now)}
	if s.WindowStart >= w.Start {
		w.Start = s.WindowStart
		return w, s.WindowCount+cost <= rl.Limit
	}
	w.New = true
	return w, cost <= rl.Limit
}

// stale lists up to maxPrune marks of slots other than own older than MarkTTL at now,
// in slot order.
func stale(marks map[string]string, own string, now time.Time) map[string]string {
	var old []string
	for slot, m := range marks {
		if slot != own && markTime(m) < now.Add(-MarkTTL).Unix() {
			old = append(old, slot)
		}
	}
	if len(old) == 0 {
		return nil
	}
	slices.Sort(old)
	out := map[string]string{}
	for _, slot := range old[:min(len(old), maxPrune)] {
		out[slot] = marks[slot]
	}
	return out
}

// markTime is the epoch second a mark was made; 0 (stale) for a malformed one.
func markTime(m string) int64 {
	at, _, _ := strings.Cut(m, ":")
	n, _ := strconv.ParseInt(at, 10, 64)
	return n
}
