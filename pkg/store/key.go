package store

import (
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/limits"
	"net/netip"
	"time"
)

// Statuses of a key as the API shows them.
const (
	StatusActive   = "active"
	StatusRotating = "rotating"
	StatusExpired  = "expired"
	StatusRevoked  = "revoked"
)

// Secret is one stored secret version of a key: its HMAC, never the secret itself.
type Secret struct {
	N      int64  `dynamodbav:"n"`      // secret version, 1 for the secret made at create
	Hash   []byte `dynamodbav:"hash"`   // HMAC-SHA256(pepper, secret)
	Pepper string `dynamodbav:"pepper"` // id of the pepper version the hash was made with
	// ExpiresAt is when a previous secret stops being accepted; zero for the current one.
	ExpiresAt time.Time `dynamodbav:"expires_at,omitempty"`
}

// Key is an API key record.
type Key struct {
	ID           string         `dynamodbav:"id"`
	Name         string         `dynamodbav:"name"`
	Description  string         `dynamodbav:"description"`
	Owner        string         `dynamodbav:"owner"`
	Scopes       []string       `dynamodbav:"scopes"`
	Status       string         `dynamodbav:"status"` // stored status; see EffectiveStatus
	Start        string         `dynamodbav:"start"`
	CreatedAt    time.Time      `dynamodbav:"created_at"`
	UpdatedAt    time.Time      `dynamodbav:"updated_at"`
	CreatedBy    string         `dynamodbav:"created_by"`
	ExpiresAt    time.Time      `dynamodbav:"expires_at"`
	LastUsedAt   *time.Time     `dynamodbav:"last_used_at,omitempty"`
	LastUsedIP   string         `dynamodbav:"last_used_ip,omitempty"`
	Metadata     map[string]any `dynamodbav:"metadata"`
	AllowedCIDRs []string       `dynamodbav:"allowed_cidrs"`
	Version      int64          `dynamodbav:"version"`
	Secret       Secret         `dynamodbav:"secret"`
	Previous     *Secret        `dynamodbav:"previous,omitempty"`
	// RevokedJTIs are the key's access tokens revoked before they expire (jti → the
	// last second the token is accepted, epoch seconds). They live on the key so that
	// the one read which checks the key behind a token checks the token too. At most
	// MaxRevokedJTIs: past that, TokensNotBefore takes over (see TokenRevoked).
	RevokedJTIs map[string]int64 `dynamodbav:"revoked_jti"`
	// RevokedIAT is the latest iat (epoch seconds) of any token ever put in RevokedJTIs:
	// the watermark that replaces the map when it is full covers every token it held.
	RevokedIAT int64 `dynamodbav:"revoked_iat,omitempty"`
	// TokensNotBefore, when set, refuses every access token of the key issued at or
	// before it (iat ≤ TokensNotBefore, epoch seconds): the bounded form of "revoked".
	TokensNotBefore int64 `dynamodbav:"tokens_not_before,omitempty"`
	// Locks are the recent lockouts of source IPs from this key (ip → locked until,
	// epoch seconds), at most MaxLocks, set by package lockout so that the one read
	// which verifies the key refuses a locked pair on every instance.
	Locks map[string]int64 `dynamodbav:"locks"`
	// RateLimit, Remaining and Refill are the key's limits (package limits; nil:
	// none, unlimited, none). RefilledAt is the refill period last refilled (epoch s).
	// UseKey spends them; a management write stores them only when LimitsSet.
	RateLimit  *limits.RateLimit `dynamodbav:"ratelimit"`
	Remaining  *int64            `dynamodbav:"remaining"`
	Refill     *limits.Refill    `dynamodbav:"refill"`
	RefilledAt int64             `dynamodbav:"refilled_at,omitempty"`
	// LimitsSet marks a key whose limit fields a write sets (not stored), so that an
	// update of other fields never overwrites credits spent meanwhile.
	LimitsSet bool `dynamodbav:"-"`
	// creditsSet says which of remaining and refill a patch set: only those, and
	// refilled_at with either, are written, so that a patch of the rate limit alone
	// never writes back credits (or a refill period) that uses changed meanwhile.
	creditsSet creditsSet
	// UseState is, for a key read with a rate limit or credits, its limits and their
	// bookkeeping as the same read returned them (LimitState): the hint of its next
	// UseKey. Nil for a key without limits. Never written by a management write.
	UseState *limits.State `dynamodbav:"-"`
}

// Limits are the key's limit fields as the API shows them.
func (k *Key) Limits() limits.Settings {
	return limits.Settings{RateLimit: k.RateLimit, Remaining: k.Remaining, Refill: k.Refill}
}

// Bounds of the key item's per-token and per-IP memory, so that the item stays a few
// KB whatever a client does (DynamoDB's limit is 400 KB; a consistent read costs one
// unit per 4 KB). An entry of RevokedJTIs is at most 29 bytes (a 22-character jti and
// a number), one of Locks at most 52 (a 45-character IPv6 address and a number):
// 1.9 KB and 1.7 KB when full.
const (
	// MaxRevokedJTIs: a client revokes its tokens one at a time at logout or shutdown,
	// a handful per token lifetime; more than 64 live revocations is a bulk revocation,
	// for which "every token issued up to the newest revoked one" is the right answer.
	MaxRevokedJTIs = 64
	// MaxLocks: the locks map is a broadcast of the LOCKOUT counters, which stay the
	// record. 32 covers every address a real client runs from; past it, further locks
	// are not broadcast until the kept ones expire (see NextLocks).
	MaxLocks = 32
)

// TokenRevoked reports whether the key's access token jti, issued at iat, was
// revoked: listed in RevokedJTIs, or issued at or before TokensNotBefore. A token
// without an iat (the zero time) is refused once a watermark is set.
func (k *Key) TokenRevoked(jti string, iat time.Time) bool {
	if _, ok := k.RevokedJTIs[jti]; ok {
		return true
	}
	return k.TokensNotBefore > 0 && iat.Unix() <= k.TokensNotBefore
}

// LockedUntil reports whether the key's item holds a lock of ip that is still
// running at now, and when it ends.
func (k *Key) LockedUntil(ip string, now time.Time) (time.Time, bool) {
	until, ok := k.Locks[ip]
	if !ok || now.Unix() >= until {
		return time.Time{}, false
	}
	return time.Unix(until, 0), true
}

// EffectiveStatus is the status at now: expiry and the end of a grace period take
// effect when they pass, whether or not the sweeper has written them yet; once it has,
// the stored expired stands until a PATCH extends expires_at.
func (k *Key) EffectiveStatus(now time.Time) string {
	switch {
	case k.Status == StatusRevoked:
		return StatusRevoked
	case k.Status == StatusExpired || !now.Before(k.ExpiresAt):
		// A stored expired (the sweeper's) stands until expires_at is extended.
		return StatusExpired
	case k.PreviousValid(now):
		return StatusRotating
	default:
		return StatusActive
	}
}

// PreviousValid reports whether the previous secret is still accepted at now.
func (k *Key) PreviousValid(now time.Time) bool {
	return k.Previous != nil && now.Before(k.Previous.ExpiresAt)
}

// SecretLive reports whether secret version n is live at now: the current one, or
// the previous one while its grace lasts. Credentials derived from a secret version
// (access tokens, refresh families) live only as long as it does.
func (k *Key) SecretLive(n int64, now time.Time) bool {
	return n == k.Secret.N || k.PreviousValid(now) && n == k.Previous.N
}

// AllowsIP reports whether a request from ip may use the key: an empty
// allowed_cidrs means anywhere; an unparseable ip is refused when a list is set.
func (k *Key) AllowsIP(ip string) bool {
	if len(k.AllowedCIDRs) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	for _, c := range k.AllowedCIDRs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// Event is one entry of a key's event log and of the global audit log.
type Event struct {
	ID    string    `dynamodbav:"id"`
	Time  time.Time `dynamodbav:"time"`
	Type  string    `dynamodbav:"type"`
	KeyID string    `dynamodbav:"key_id"`
	Actor string    `dynamodbav:"actor"`
	IP    string    `dynamodbav:"ip"`
	// Owner is the key's owner when the event happened (after the change, for a
	// change); empty for an event of no known key. Owner-narrowed readers see by it.
	Owner  string         `dynamodbav:"owner,omitempty"`
	Detail map[string]any `dynamodbav:"detail"`
}

// Event types.
const (
	EventKeyCreated          = "key.created"
	EventKeyUpdated          = "key.updated"
	EventKeyRotated          = "key.rotated"
	EventKeyRotationFinished = "key.rotation_finished"
	EventKeyRevoked          = "key.revoked"
	EventKeyDeleted          = "key.deleted"
	EventKeyExpired          = "key.expired"
	EventKeyUsed             = "key.used"
	EventExpiryReminder      = "key.expiry_reminder"
	EventStaleReminder       = "key.stale_reminder"
	EventTokenIssued         = "token.issued"
	EventTokenRefreshed      = "token.refreshed"
	EventTokenRevoked        = "token.revoked"
	EventAuthFailed          = "auth.failed"
)

// unmarshalKey decodes a key item. Metadata numbers keep every digit DynamoDB stored
// (json.Number, not float64), so reading a key back never rounds them.
func unmarshalKey(item map[string]types.AttributeValue) (*Key, error) {
	var k Key
	err := attributevalue.UnmarshalMapWithOptions(item, &k, func(o *attributevalue.DecoderOptions) { o.UseNumber = true })
	if err != nil {
		return nil, err
	}
	if m, ok := exactNumbers(k.Metadata).(map[string]any); ok {
		k.Metadata = m
	}
	if k.RateLimit != nil || k.Remaining != nil {
		// Only a limited key pays for decoding its bookkeeping.
		if k.UseState, err = LimitState(item); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

// exactNumbers turns the decoder's Number values into json.Number, in place.
func exactNumbers(v any) any {
	switch t := v.(type) {
	case attributevalue.Number:
		return json.Number(t)
	case map[string]any:
		for k, e := range t {
			t[k] = exactNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = exactNumbers(e)
		}
	}
	return v
}

// creditsSet is which credit fields a patch set (Key.creditsSet).
type creditsSet struct{ remaining, refill bool }
