package limits

import (
	"fmt"
	"time"
)

// RateLimit is a key's or an owner's `ratelimit`: at most Limit uses per window of
// WindowSeconds.
type RateLimit struct {
	Limit         int64 `json:"limit" dynamodbav:"limit"`
	WindowSeconds int64 `json:"window_seconds" dynamodbav:"window_seconds"`
}

// Refill is a key's `refill`: at the start of every UTC day or month, the key's
// `remaining` is set back to Amount (not added to it).
type Refill struct {
	Amount int64  `json:"amount" dynamodbav:"amount"`
	Every  string `json:"every" dynamodbav:"every"`
}

// Refill periods.
const (
	EveryDay   = "day"
	EveryMonth = "month"
)

// Settings are the limit fields of a key as the API shows them: `ratelimit` (nil:
// none), `remaining` (nil: unlimited) and `refill` (nil: none).
type Settings struct {
	RateLimit *RateLimit `json:"ratelimit"`
	Remaining *int64     `json:"remaining"`
	Refill    *Refill    `json:"refill"`
}

// OwnerLimits is the body of PUT and GET /v1/owners/{owner}/limits: a rate limit
// shared by every key of the owner (nil: none).
type OwnerLimits struct {
	RateLimit *RateLimit `json:"ratelimit"`
}

// Bounds of the limit fields. MaxCredits stays below 2^53, so a JSON reader that
// holds numbers as float64 (JavaScript) reads every value exactly; DynamoDB stores it
// exactly too.
const (
	MaxLimit         = 1_000_000_000
	MaxWindowSeconds = 86_400
	MaxCredits       = 1_000_000_000_000_000
	// MaxCost bounds the `cost` of one use (POST /v1/keys/verify).
	MaxCost = 1_000_000
)

// Error codes of invalid limit fields (400s), one per field of the contract.
const (
	CodeInvalidRateLimit = "invalid_ratelimit"
	CodeInvalidRemaining = "invalid_remaining"
	CodeInvalidRefill    = "invalid_refill"
	CodeInvalidCost      = "invalid_cost"
)

// FieldError is a limit field that the API refuses with a 400: Code is the stable
// problem code, Field the path of the offending value (ratelimit.window_seconds).
type FieldError struct {
	Code    string
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(code, field, format string, args ...any) *FieldError {
	return &FieldError{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Validate checks a rate limit, naming field as the path of the value in errors
// ("ratelimit" on a key and on an owner). Limit is 1..MaxLimit and WindowSeconds
// 1..MaxWindowSeconds.
func (r *RateLimit) Validate(field string) *FieldError {
	switch {
	case r.Limit < 1 || r.Limit > MaxLimit:
		return fieldErr(CodeInvalidRateLimit, field+".limit", "must be an integer from 1 to %d", MaxLimit)
	case r.WindowSeconds < 1 || r.WindowSeconds > MaxWindowSeconds:
		return fieldErr(CodeInvalidRateLimit, field+".window_seconds", "must be an integer from 1 to %d", MaxWindowSeconds)
	}
	return nil
}

// Validate checks the limit fields of a key as they will be stored (after a patch is
// applied), in a fixed order: ratelimit, remaining, refill. A refill needs credits: a
// key with `refill` and `remaining: null` would refill nothing.
func (s *Settings) Validate() *FieldError {
	if s.RateLimit != nil {
		if err := s.RateLimit.Validate("ratelimit"); err != nil {
			return err
		}
	}
	if s.Remaining != nil && (*s.Remaining < 0 || *s.Remaining > MaxCredits) {
		return fieldErr(CodeInvalidRemaining, "remaining", "must be null or an integer from 0 to %d", int64(MaxCredits))
	}
	if s.Refill == nil {
		return nil
	}
	switch {
	case s.Refill.Amount < 1 || s.Refill.Amount > MaxCredits:
		return fieldErr(CodeInvalidRefill, "refill.amount", "must be an integer from 1 to %d", int64(MaxCredits))
	case s.Refill.Every != EveryDay && s.Refill.Every != EveryMonth:
		return fieldErr(CodeInvalidRefill, "refill.every", `must be "day" or "month"`)
	case s.Remaining == nil:
		return fieldErr(CodeInvalidRefill, "refill", "needs remaining: a key with unlimited credits has nothing to refill")
	}
	return nil
}

// Validate checks an owner's limits.
func (o *OwnerLimits) Validate() *FieldError {
	if o.RateLimit == nil {
		return nil
	}
	return o.RateLimit.Validate("ratelimit")
}

// ValidateCost checks the `cost` of one use: 1..MaxCost.
func ValidateCost(cost int64) *FieldError {
	if cost < 1 || cost > MaxCost {
		return fieldErr(CodeInvalidCost, "cost", "must be an integer from 1 to %d", MaxCost)
	}
	return nil
}

// PeriodStart is the start of the refill period (UTC day or month) that holds now.
func PeriodStart(every string, now time.Time) time.Time {
	u := now.UTC()
	if every == EveryMonth {
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
}

// WindowStart is the start (epoch seconds) of the fixed rate-limit window of
// windowSeconds that holds now. Windows are aligned to the Unix epoch, so every
// instance agrees on them as far as their clocks agree.
func WindowStart(windowSeconds int64, now time.Time) int64 {
	s := now.Unix()
	return s - s%windowSeconds
}

// RefilledAtOnSet is the refilled_at a management write stores when it sets a
// key's refill or remaining at now: the current period counts as refilled, so the
// remaining just set stands until the next period's refill (without it, the first
// use would refill at once and override the value set).
func RefilledAtOnSet(r *Refill, now time.Time) int64 {
	if r == nil {
		return 0
	}
	return PeriodStart(r.Every, now).Unix()
}
