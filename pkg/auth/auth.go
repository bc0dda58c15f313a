package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/secrets"
	"github.com/keyward/keyward/pkg/store"
)

// Kinds of principal, as whoami and the authorizer context name them.
const (
	KindAPIKey      = "api_key"
	KindAccessToken = "access_token"
	KindRoot        = "root"
)

// RootID is the key_id and actor of the root credential.
const RootID = "root"

// Reason says why a credential was refused. The empty Reason means accepted.
type Reason string

// Reasons a credential is refused.
const (
	Accepted     Reason = ""
	Missing      Reason = "missing"
	Malformed    Reason = "malformed"
	Unknown      Reason = "unknown"
	Expired      Reason = "expired"
	Revoked      Reason = "revoked"
	IPNotAllowed Reason = "ip_not_allowed"
	// TooManyAttempts: this key id has failed too often from this source IP lately.
	TooManyAttempts Reason = "too_many_attempts"
	// InsufficientScope: the credential lacks the scope the use requires (Use.Scope).
	InsufficientScope Reason = "insufficient_scope"
	// RateLimited: the key's or its owner's rate-limit window is full.
	RateLimited Reason = "rate_limited"
	// UsageExceeded: the key's credits do not cover the use's cost.
	UsageExceeded Reason = "usage_exceeded"
)

// Principal is a verified caller.
type Principal struct {
	KeyID  string
	Owner  string
	Scopes scope.Set
	Kind   string
	// Key is the stored key for an API key or an access token of one; nil for root.
	Key *store.Key
	// SecretN is the secret version an API key matched (the previous one during
	// grace), or the one an access token is bound to (its sv claim).
	SecretN int64
}

// Decision is the outcome of verifying one credential.
type Decision struct {
	Principal Principal
	Reason    Reason
	// RetryAfter is, for TooManyAttempts, how long the lock has left; for
	// RateLimited, the time to the window's end; for UsageExceeded, the time to the
	// next refill (zero without one). A Retry-After header rounds it up to whole
	// seconds (RetryAfterSeconds). Zero otherwise.
	RetryAfter time.Duration
	// Limits is, for a key with limits, what the use left of them (credits, the
	// rate-limit window); nil for a key without limits or when not known.
	Limits *LimitView
}

// RetryAfterSeconds is RetryAfter as a Retry-After header value: whole seconds,
// rounded up, at least 1.
func (d Decision) RetryAfterSeconds() int {
	return max(1, int((d.RetryAfter+time.Second-1)/time.Second))
}

// OK reports whether the credential was accepted.
func (d Decision) OK() bool { return d.Reason == Accepted }

// KeyReader reads keys for verification.
type KeyReader interface {
	// GetKey returns the key with id, read consistently, or store.ErrNotFound.
	GetKey(ctx context.Context, id string) (*store.Key, error)
}

// KeyRefresher is a cached KeyReader (Verifier.TokenKeys) that can be told its entry
// is stale.
type KeyRefresher interface {
	// RefreshKey reads the key with id from the store and caches it, or
	// store.ErrNotFound.
	RefreshKey(ctx context.Context, id string) (*store.Key, error)
}

// PepperSource gives the pepper versions secrets are hashed under.
type PepperSource interface {
	// Versions returns the current pepper and, if any, the previous one.
	Versions(ctx context.Context) (secrets.Version, *secrets.Version, error)
	// Lookup returns the pepper version with id, if it is current or previous.
	Lookup(ctx context.Context, id string) (secrets.Version, bool, error)
}

// RootChecker recognises the root credential.
type RootChecker interface {
	// Matches reports, in constant time, whether presented is the root credential.
	Matches(ctx context.Context, presented string) (bool, error)
}

// Token is what a verified access token says.
type Token struct {
	KeyID  string
	JTI    string
	Scopes scope.Set
	// SecretN is the key's secret version the token is bound to: it is refused once
	// that version is no longer live on the key (store.Key.SecretLive).
	SecretN int64
	// IssuedAt is the token's iat (the zero time if it has none): a key's revocation
	// watermark refuses its tokens issued at or before it.
	IssuedAt time.Time
}

// TokenVerifier verifies access tokens. It is nil where token issuance is not wired in.
type TokenVerifier interface {
	// LooksLikeToken reports, without I/O, whether s has the shape of an access token.
	LooksLikeToken(s string) bool
	// VerifyToken checks the token's signature, audience and times, with no I/O but a
	// cached signing-key read; a bad token is a Reason, not an error.
	VerifyToken(ctx context.Context, s string, now time.Time) (Token, Reason, error)
}

// Guard counts failed attempts per key id and source IP (package lockout). Keyed by
// the pair, an attacker who knows a key id only ever locks out their own address.
type Guard interface {
	// Locked reports, without I/O, whether the pair is known to be locked at now, and
	// until when.
	Locked(keyID, ip string, now time.Time) (time.Time, bool)
	// Fail records a failed attempt and reports whether the pair was already locked,
	// and until when. It may report a lock together with an error (a lost record).
	Fail(ctx context.Context, keyID, ip string, now time.Time) (time.Time, bool, error)
}

// UsageRecorder records the last use of keys (package usage).
type UsageRecorder interface {
	// Touch records a use of keyID from ip, at most once per key per interval.
	Touch(ctx context.Context, keyID, owner, ip, actor string, now time.Time) (bool, error)
}

// Verifier verifies credentials. All fields but Root, Tokens, TokenKeys, Guard, Usage
// and Log are required. Root is nil where a function does not accept the root
// credential: it is then refused as Malformed, like any unknown string.
type Verifier struct {
	Prefix  string
	Keys    KeyReader
	Peppers PepperSource
	Root    RootChecker
	Tokens  TokenVerifier
	// TokenKeys reads the key behind an access token (the revocation check). The
	// authorizer sets a short-lived cache here; nil means Keys, read every time.
	TokenKeys KeyReader
	// Guard, when set, refuses a key id from a source IP that failed too often.
	Guard Guard
	// Usage, when set, records keys' last use (RecordUse): wherever a key or its token
	// is used (authorizer, management API, token endpoint), so a key in use never
	// looks stale to the sweeper.
	Usage UsageRecorder
	// Limits counts uses of keys and owners that have limits (store.Dynamo). Where it
	// is nil, a key with limits fails closed (an error) and owner limits are not read.
	Limits LimitCounter
	// Uses, when set, is told the outcome of every decided use of an existing key.
	Uses UseObserver
	Log  *slog.Logger
	Now  func() time.Time

	uc *useCaches // created on first use (caches)
}

// dummyHash is compared against when a key id is unknown, so an unknown key costs
// the same HMAC work as a known one and timing does not tell them apart.
var dummyHash = make([]byte, 32)

// Verify checks credential, presented from sourceIP, for one use of cost 1 with no
// scope required: VerifyUse with a zero Use.
func (v *Verifier) Verify(ctx context.Context, credential, sourceIP string) (Decision, error) {
	return v.VerifyUse(ctx, credential, sourceIP, Use{})
}

// VerifyUse checks credential, presented from sourceIP, for the use u, and counts the
// use against the key's and its owner's limits when they have any (see doc.go for
// the order of checks and what each costs).
func (v *Verifier) VerifyUse(ctx context.Context, credential, sourceIP string, u Use) (Decision, error) {
	if credential == "" {
		return Decision{Reason: Missing}, nil
	}
	if u.Cost <= 0 {
		u.Cost = 1
	}
	now := v.Now()
	if v.Tokens != nil && v.Tokens.LooksLikeToken(credential) {
		return v.verifyToken(ctx, credential, sourceIP, u, now)
	}
	k, err := apikey.Parse(credential, v.Prefix)
	if err != nil {
		return v.verifyRoot(ctx, credential, u)
	}
	// A locked pair costs no read. A request without a source IP (REST TOKEN events)
	// is never counted: all of them would share one pair.
	lock := sourceIP
	if u.LockAs != "" {
		lock = u.LockAs
	}
	c := &use{v: v, u: u, ip: sourceIP, lock: lock, now: now, id: k.ID, guarded: v.Guard != nil && lock != ""}
	if c.guarded {
		if until, ok := v.Guard.Locked(k.ID, lock, now); ok {
			return tooMany(until, now), nil
		}
	}
	if cached := v.caches().hint(k.ID); cached != nil && !u.Free {
		if d, ok, err := c.warm(ctx, k.Secret, cached); ok || err != nil {
			return d, err
		}
	}
	return c.cold(ctx, k.Secret)
}

// warm is the use of a limited key this instance has seen (cached): when the secret
// matches it and it would accept the use, one UpdateItem both counts the use and
// returns the key, which is then checked again. ok is false when cached cannot settle
// the use alone (a wrong secret, a rotation, any refusal): it then takes the read.
func (c *use) warm(ctx context.Context, secret string, cached *store.Key) (Decision, bool, error) {
	n, err := c.v.matchKey(ctx, secret, cached, c.now)
	if err != nil || n == 0 {
		return Decision{}, false, err
	}
	c.hash = hashOf(cached, n)
	d := c.check(cached)
	if d.Reason != Accepted {
		return Decision{}, false, nil
	}
	d, err = c.spend(ctx, cached, d, cached.UseState)
	return d, true, err
}

// cold is the use of an API key read from the store: one consistent GetItem, then
// the lock on the item, the secret, status, expiry, networks and scope, and for a key
// with limits one UpdateItem that counts the use.
func (c *use) cold(ctx context.Context, secret string) (Decision, error) {
	v := c.v
	stored, err := v.Keys.GetKey(ctx, c.id)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := v.match(ctx, secret, store.Secret{Hash: dummyHash}); err != nil {
			return Decision{}, err
		}
		return v.failed(ctx, c.guarded, c.id, c.lock, c.now), nil
	}
	if err != nil {
		return Decision{}, err
	}
	// A lock set by any instance is on the item just read. The pair is refused before
	// the secret is compared: a right and a wrong secret get the same answer, and
	// neither counts, resets or records anything.
	if until, ok := stored.LockedUntil(c.lock, c.now); ok {
		return c.answer(ctx, stored, tooMany(until, c.now)), nil
	}
	n, err := v.matchKey(ctx, secret, stored, c.now)
	if err != nil {
		return Decision{}, err
	}
	if n == 0 {
		return v.failed(ctx, c.guarded, c.id, c.lock, c.now), nil
	}
	c.hash = hashOf(stored, n)
	return c.decide(ctx, stored, stored.UseState)
}

// failed counts a wrong secret for keyID from sourceIP, and refuses it as Unknown, or
// as TooManyAttempts once the pair is locked. Counting is bookkeeping: if it fails
// the refusal stands and only that count is lost.
func (v *Verifier) failed(ctx context.Context, guarded bool, keyID, sourceIP string, now time.Time) Decision {
	if guarded {
		until, locked, err := v.Guard.Fail(ctx, keyID, sourceIP, now)
		if err != nil && v.Log != nil {
			v.Log.WarnContext(ctx, "count failed attempt", "key_id", keyID, "err", err)
		}
		if locked {
			return tooMany(until, now)
		}
	}
	return Decision{Reason: Unknown}
}

// tooMany refuses a locked pair, saying how long its lock has left.
func tooMany(until, now time.Time) Decision {
	return Decision{Reason: TooManyAttempts, RetryAfter: max(until.Sub(now), 0)}
}

// RecordUse records that p's key was used from ip: callers call it once the request
// is authorized, so last_used_at is the last successful use (a refused request, even
// with a valid credential, changes nothing). It is bookkeeping, rate-limited by the
// recorder: its failure is logged and never changes the answer.
func (v *Verifier) RecordUse(ctx context.Context, p Principal, ip string) {
	if v.Usage == nil || p.Key == nil {
		return // the root credential has no key record
	}
	if _, err := v.Usage.Touch(ctx, p.KeyID, p.Owner, ip, p.KeyID, v.Now()); err != nil && v.Log != nil {
		v.Log.WarnContext(ctx, "record last use", "key_id", p.KeyID, "err", err)
	}
}

// usable checks what every credential of a key needs: status, expiry, network.
func usable(k *store.Key, sourceIP string, now time.Time) Reason {
	switch k.EffectiveStatus(now) {
	case store.StatusRevoked:
		return Revoked
	case store.StatusExpired:
		return Expired
	}
	if !k.AllowsIP(sourceIP) {
		return IPNotAllowed
	}
	return Accepted
}

func principalOf(k *store.Key, kind string) Principal {
	return Principal{KeyID: k.ID, Owner: k.Owner, Scopes: scope.MustParseList(k.Scopes), Kind: kind, Key: k}
}

// matchKey returns the version of the secret that matches (0 for none): the current
// one, or the previous one while its grace lasts. Both are always compared, so the
// time taken does not say which matched.
func (v *Verifier) matchKey(ctx context.Context, secret string, k *store.Key, now time.Time) (int64, error) {
	cur, err := v.match(ctx, secret, k.Secret)
	if err != nil {
		return 0, err
	}
	prev := false
	if k.Previous != nil {
		if prev, err = v.match(ctx, secret, *k.Previous); err != nil {
			return 0, err
		}
		prev = prev && k.PreviousValid(now)
	}
	switch {
	case cur:
		return k.Secret.N, nil
	case prev:
		return k.Previous.N, nil
	}
	return 0, nil
}

func (v *Verifier) match(ctx context.Context, secret string, s store.Secret) (bool, error) {
	pep, ok, err := v.pepperFor(ctx, s.Pepper)
	if err != nil || !ok {
		return false, err
	}
	return apikey.Matches([]byte(pep.Value), secret, s.Hash), nil
}

// pepperFor finds the pepper a hash was made with: current first, then previous.
func (v *Verifier) pepperFor(ctx context.Context, id string) (secrets.Version, bool, error) {
	cur, prev, err := v.Peppers.Versions(ctx)
	if err != nil {
		return secrets.Version{}, false, fmt.Errorf("peppers: %w", err)
	}
	if id == "" || id == cur.ID {
		return cur, true, nil
	}
	if prev != nil && id == prev.ID {
		return *prev, true, nil
	}
	p, ok, err := v.Peppers.Lookup(ctx, id)
	if err != nil {
		return secrets.Version{}, false, fmt.Errorf("peppers: %w", err)
	}
	return p, ok, nil
}

// verifyRoot recognises the root credential: it holds every scope and has no limits.
func (v *Verifier) verifyRoot(ctx context.Context, credential string, _ Use) (Decision, error) {
	if v.Root == nil {
		return Decision{Reason: Malformed}, nil
	}
	ok, err := v.Root.Matches(ctx, credential)
	if err != nil {
		return Decision{}, fmt.Errorf("root credential: %w", err)
	}
	if !ok {
		return Decision{Reason: Malformed}, nil
	}
	return Decision{Principal: Principal{KeyID: RootID, Owner: RootID, Scopes: scope.Set{{Action: scope.All}}, Kind: KindRoot}}, nil
}

// verifyToken checks an access token, then its key: a token of a revoked, deleted
// or expired key, or one presented from outside the key's networks, is refused. A
// key with limits counts the use in one UpdateItem without the secret's HMAC (the
// token's signature proves it), from this instance's last view of the key.
func (v *Verifier) verifyToken(ctx context.Context, s, sourceIP string, u Use, now time.Time) (Decision, error) {
	tok, reason, err := v.Tokens.VerifyToken(ctx, s, now)
	if err != nil || reason != Accepted {
		return Decision{Reason: reason}, err
	}
	keys := v.TokenKeys
	if keys == nil {
		keys = v.Keys
	}
	stored, err := keys.GetKey(ctx, tok.KeyID)
	if r, ok := keys.(KeyRefresher); err == nil && tok.SecretN > stored.Secret.N && ok {
		// A cached key older than the token (its secret was rotated in since it was
		// read): read it afresh rather than refuse a new secret's tokens for the rest
		// of the TTL. Only a token signed by this deployment gets here.
		stored, err = r.RefreshKey(ctx, tok.KeyID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return Decision{Reason: Revoked}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	c := &use{v: v, u: u, ip: sourceIP, now: now, id: tok.KeyID, tok: &tok}
	hint := stored.UseState
	if cached := v.caches().hint(stored.ID); cached != nil {
		hint = cached.UseState // fresher than a cached read, and written by this instance
	}
	return c.decide(ctx, stored, hint)
}

// HashSecret returns the stored form of a new secret: its HMAC under the current pepper.
func HashSecret(ctx context.Context, peppers PepperSource, n int64, secret string) (store.Secret, error) {
	cur, _, err := peppers.Versions(ctx)
	if err != nil {
		return store.Secret{}, fmt.Errorf("peppers: %w", err)
	}
	return store.Secret{N: n, Hash: apikey.Hash([]byte(cur.Value), secret), Pepper: cur.ID}, nil
}

// Credential extracts the presented credential from request headers, matched
// case-insensitively: Authorization "Bearer <x>" or "ApiKey <x>", or X-API-Key.
// When a header is there in several spellings (a hand-built REST event), the
// greatest name in byte order wins (the lowercase one), never the map's order.
func Credential(headers map[string]string) string {
	var authz, xkey, authzName, xkeyName string
	for name, value := range headers {
		switch {
		case strings.EqualFold(name, "authorization") && name >= authzName:
			authz, authzName = value, name
		case strings.EqualFold(name, "x-api-key") && name >= xkeyName:
			xkey, xkeyName = value, name
		}
	}
	if authz != "" {
		scheme, rest, ok := strings.Cut(strings.TrimSpace(authz), " ")
		if ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "apikey")) {
			return strings.TrimSpace(rest)
		}
		return ""
	}
	return strings.TrimSpace(xkey)
}
