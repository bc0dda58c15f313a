package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// Use is what one verification requires of the credential and spends of its key.
type Use struct {
	// Cost is the credits and rate-limit window units the use takes; 0 means 1.
	Cost int64
	// Scope, when set, is a scope the credential must hold: a key without it is
	// refused (InsufficientScope) before anything is counted.
	Scope string
	// Owners, when set, says which owners the caller may see: a key of any other
	// owner is refused as Unknown, as if it did not exist, before anything is counted
	// (POST /v1/keys/verify narrowed to owners).
	Owners func(owner string) bool
	// Free verifies without counting a use: for a caller that refuses the request
	// whatever the key (the authorizer on an unconfigured route).
	Free bool
	// LockAs, when set, names the lockout pair's address instead of the source IP:
	// failed attempts are counted, and locks checked, under it. POST /v1/keys/verify
	// sets it to the address it names plus the calling key, so that a caller can lock
	// out only its own (caller, address) pairs, never a key's own users.
	LockAs string
}

// LimitView is what a decision shows of the key's limits, as the use left them.
type LimitView struct {
	// Remaining is the credits left; nil for unlimited credits.
	Remaining *int64
	// RateLimit is the key's current window; nil for a key without a rate limit.
	RateLimit *limits.Window
}

// LimitCounter counts uses of limited keys and owners (store.Dynamo).
type LimitCounter interface {
	// UseKey counts one use of a key in one conditional update that returns the key
	// (store.Dynamo.UseKey), or store.ErrNotFound.
	UseKey(ctx context.Context, in store.UseInput) (*store.UseResult, error)
	// UseOwner counts one use against an owner's shared rate limit (one update with
	// a hint; a read first without one).
	UseOwner(ctx context.Context, owner string, u limits.Use, hint *limits.State, now time.Time) (*store.UseResult, error)
}

// UseObserver is told the outcome of every decided use of an existing key (package
// usage counts): code is limits.CodeValid or the refusal's code (limits.Code*).
type UseObserver interface {
	ObserveUse(ctx context.Context, keyID, owner, code string, now time.Time)
}

// errNoCounter fails a use of a limited key closed when no LimitCounter is wired in.
var errNoCounter = errors.New("auth: key has limits but the verifier has no limit counter")

// codes are the observed code of each Reason a use of an existing key can get.
var codes = map[Reason]string{
	Accepted: limits.CodeValid, Expired: limits.CodeExpired, Revoked: limits.CodeRevoked,
	InsufficientScope: limits.CodeInsufficientScope, IPNotAllowed: limits.CodeIPNotAllowed,
	RateLimited: limits.CodeRateLimited, UsageExceeded: limits.CodeUsageExceeded,
	TooManyAttempts: limits.CodeLocked,
}

// Code is the verification code of a reason (limits.CodeValid, limits.CodeRateLimited,
// ...); Missing, Malformed and Unknown are limits.CodeNotFound.
func (r Reason) Code() string {
	if c, ok := codes[r]; ok {
		return c
	}
	return limits.CodeNotFound
}

// use is one verification of a credential in progress: what it was presented with
// and what it requires.
type use struct {
	v       *Verifier
	u       Use
	ip      string
	now     time.Time
	guarded bool
	// lock is the lockout pair's address: the source IP, or Use.LockAs.
	lock string
	// id is the key id the credential names.
	id string
	// hash is, for an API key, the HMAC of the presented secret that matched the key
	// (its current or previous secret); tok is, for an access token, the token.
	hash []byte
	tok  *Token
	// ownerCounted: the use was counted on the owner's window already (ownerFirst).
	ownerCounted bool
	// respent: spend was tried again after a view older than a rotation.
	respent bool
}

// check is the decision on the credential against k, with no I/O and no side
// effect: an Accepted decision with its principal, or a refusal (Unknown: the secret
// is not the key's, or its owner is hidden from the caller).
func (c *use) check(k *store.Key) Decision {
	if c.tok != nil {
		return c.checkToken(k)
	}
	if until, ok := k.LockedUntil(c.lock, c.now); ok {
		return tooMany(until, c.now)
	}
	n := versionOf(k, c.hash, c.now)
	if n == 0 || c.u.Owners != nil && !c.u.Owners(k.Owner) {
		return Decision{Reason: Unknown}
	}
	if r := usable(k, c.ip, c.now); r != Accepted {
		return Decision{Reason: r}
	}
	p := principalOf(k, KindAPIKey)
	p.SecretN = n
	return c.scoped(p)
}

func (c *use) checkToken(k *store.Key) Decision {
	if c.u.Owners != nil && !c.u.Owners(k.Owner) {
		return Decision{Reason: Unknown} // a hidden owner's key tells nothing of its state
	}
	if r := usable(k, c.ip, c.now); r != Accepted {
		return Decision{Reason: r}
	}
	// The same read answers for the token itself: revoked by its client (RFC 7009);
	// and for the secret version it was issued under: once rotation (grace 0), finish
	// or the end of grace kills that version, its tokens die with it.
	if k.TokenRevoked(c.tok.JTI, c.tok.IssuedAt) || !k.SecretLive(c.tok.SecretN, c.now) {
		return Decision{Reason: Revoked}
	}
	p := principalOf(k, KindAccessToken)
	p.SecretN = c.tok.SecretN
	// A token never carries more than its key holds now: narrowing the key's scopes
	// narrows its live tokens too.
	p.Scopes = p.Scopes.Intersect(c.tok.Scopes)
	return c.scoped(p)
}

// scoped accepts p unless the use requires a scope p lacks.
func (c *use) scoped(p Principal) Decision {
	if c.u.Scope != "" && !p.Scopes.AllowsString(c.u.Scope) {
		return Decision{Principal: p, Reason: InsufficientScope}
	}
	return Decision{Principal: p}
}

// versionOf is the version of k's secret whose stored HMAC is hash: the current one,
// or the previous one while its grace lasts; 0 for none.
func versionOf(k *store.Key, hash []byte, now time.Time) int64 {
	switch {
	case hmac.Equal(k.Secret.Hash, hash):
		return k.Secret.N
	case k.Previous != nil && hmac.Equal(k.Previous.Hash, hash) && k.PreviousValid(now):
		return k.Previous.N
	}
	return 0
}

// hashOf is the stored HMAC of k's secret version n.
func hashOf(k *store.Key, n int64) []byte {
	if k.Previous != nil && k.Previous.N == n {
		return k.Previous.Hash
	}
	return k.Secret.Hash
}

// answer gives d, a decision on key k, to the caller: a wrong secret (Unknown) is
// counted for lockout and answered as an unknown key would be; any other decision is
// observed. A token of a hidden owner is Unknown too, but counts nothing.
func (c *use) answer(ctx context.Context, k *store.Key, d Decision) Decision {
	if d.Reason == Unknown {
		if c.tok != nil {
			return d
		}
		return c.v.failed(ctx, c.guarded, c.id, c.lock, c.now)
	}
	if !c.u.Free { // a free verification is not a use: neither counted nor observed
		c.v.observe(ctx, k, d.Reason, c.now)
	}
	if d.Principal.Key != nil && d.Limits == nil {
		d.Limits = viewOf(k.UseState, c.now) // a refusal shows the limits as they stand
	}
	return d
}

// decide is the decision on stored, a key just read from the store for this use:
// refused, accepted without counting (a key without limits, or a free use), or
// counted in one UpdateItem from hint (the key's limit state as last seen).
func (c *use) decide(ctx context.Context, stored *store.Key, hint *limits.State) (Decision, error) {
	d := c.check(stored)
	if d.Reason != Accepted {
		return c.answer(ctx, stored, d), nil
	}
	if c.u.Free {
		return c.answer(ctx, stored, d), nil
	}
	if hint == nil {
		c.v.caches().forget(stored.ID) // not limited (any more)
		return c.ownerUse(ctx, d, stored, nil)
	}
	return c.spend(ctx, stored, d, hint)
}

// spend counts the use of key k (accepted as d, from this instance's last view or a
// read) from hint, in one conditional UpdateItem that returns the key, and decides
// on the key as returned: the same checks as before, on the freshest state there is.
// A refusal the hint already shows of the owner's window is confirmed first, so that
// the key is not spent for nothing.
func (c *use) spend(ctx context.Context, k *store.Key, d Decision, hint *limits.State) (Decision, error) {
	if c.v.Limits == nil {
		return Decision{}, errNoCounter
	}
	id := k.ID
	lu, release := c.v.newUse(c.u.Cost, c.now)
	defer release()
	if od, refused, err := c.ownerFirst(ctx, k, d, lu); err != nil || refused {
		return od, err
	}
	var hashes [][]byte
	if c.tok == nil {
		hashes = [][]byte{c.hash} // only the secret's holder spends
	}
	previous := c.tok == nil && k.Previous != nil && bytes.Equal(k.Previous.Hash, c.hash)
	res, err := c.v.Limits.UseKey(ctx, store.UseInput{ID: id, Use: lu, Hint: hint, Hashes: hashes, Previous: previous, Now: c.now})
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.v.caches().forget(id)
		if c.tok != nil {
			return Decision{Reason: Revoked}, nil
		}
		return c.v.failed(ctx, c.guarded, c.id, c.lock, c.now), nil
	case err != nil:
		return Decision{}, err
	}
	c.v.caches().remember(res)
	d = c.check(res.Key)
	if d.Reason == Accepted && res.SecretMismatch {
		if !c.respent {
			// The view was older than a rotation, and the secret is in the other place
			// now (the previous one, in its grace): spend again from the key as it is.
			c.respent = true
			c.hash = hashOf(res.Key, d.Principal.SecretN)
			return c.spend(ctx, res.Key, d, res.State)
		}
		d = Decision{Reason: Unknown} // fail closed: the store saw no match
	}
	if d.Reason != Accepted {
		return c.answer(ctx, res.Key, d), nil
	}
	d.Limits = viewOf(res.State, c.now)
	if res.Refused != "" {
		d.Reason, d.RetryAfter = limitReason(res.Refused), retryAfter(res.RetryAfter, c.now)
		return c.answer(ctx, res.Key, d), nil
	}
	return c.ownerUse(ctx, d, res.Key, &lu)
}

// ownerFirst counts the use against the owner's window before the key's when this
// instance's last view of it shows no room (refused: the key is then not spent).
func (c *use) ownerFirst(ctx context.Context, k *store.Key, d Decision, lu limits.Use) (Decision, bool, error) {
	st := c.v.caches().ownerHint(k.Owner)
	if c.ownerCounted || st == nil || limits.Decide(st, lu, c.now).Refused == "" {
		return Decision{}, false, nil
	}
	res, err := c.v.useOwner(ctx, k.Owner, lu, st, c.now)
	if err != nil || res.Refused == "" {
		c.ownerCounted = err == nil
		return Decision{}, false, err
	}
	// Refused before anything was counted on the key.
	d.Reason, d.RetryAfter, d.Limits = limitReason(res.Refused), retryAfter(res.RetryAfter, c.now), viewOf(k.UseState, c.now)
	return c.answer(ctx, k, d), true, nil
}

// ownerUse counts an accepted use of k against its owner's shared rate limit, if the
// owner has one, and answers d or the owner's refusal. lu is the use already counted
// on the key (nil if none): the owner's use carries the same id.
func (c *use) ownerUse(ctx context.Context, d Decision, k *store.Key, lu *limits.Use) (Decision, error) {
	st, known := c.v.caches().ownerState(k.Owner, c.now)
	// Without a LimitCounter there are no owner limits to read (a Verifier built by
	// hand; the functions' always has one, see package service).
	if c.ownerCounted || known && !st.Limited() || c.v.Limits == nil {
		return c.answer(ctx, k, d), nil
	}
	if lu == nil {
		u, release := c.v.newUse(c.u.Cost, c.now)
		defer release()
		lu = &u
	}
	res, err := c.v.useOwner(ctx, k.Owner, *lu, st, c.now)
	if err != nil {
		return Decision{}, err
	}
	if res.Refused != "" {
		d.Reason, d.RetryAfter = limitReason(res.Refused), retryAfter(res.RetryAfter, c.now)
	}
	return c.answer(ctx, k, d), nil
}

// useOwner is UseOwner, remembering the owner's state it returns.
func (v *Verifier) useOwner(ctx context.Context, owner string, lu limits.Use, hint *limits.State, now time.Time) (*store.UseResult, error) {
	if v.Limits == nil {
		return nil, errNoCounter
	}
	res, err := v.Limits.UseOwner(ctx, owner, lu, hint, now)
	if err != nil {
		return nil, err
	}
	v.caches().rememberOwner(owner, res.State, now)
	return res, nil
}

// newUse is a use of cost at now in a slot of this instance, and the slot's release.
func (v *Verifier) newUse(cost int64, now time.Time) (limits.Use, func()) {
	slots := v.caches().slots
	slot := slots.Acquire()
	return limits.Use{Cost: cost, Slot: slot, ID: limits.RandomID(), At: now}, func() { slots.Release(slot) }
}

// observe tells the UseObserver of the decided use of k.
func (v *Verifier) observe(ctx context.Context, k *store.Key, r Reason, now time.Time) {
	if v.Uses != nil && k != nil {
		v.Uses.ObserveUse(ctx, k.ID, k.Owner, r.Code(), now)
	}
}

func limitReason(code string) Reason {
	if code == limits.CodeUsageExceeded {
		return UsageExceeded
	}
	return RateLimited
}

func retryAfter(at, now time.Time) time.Duration {
	if at.IsZero() {
		return 0
	}
	return max(at.Sub(now), 0)
}

// viewOf is the limit view of state at now; nil for a key without limits.
func viewOf(s *limits.State, now time.Time) *LimitView {
	if s == nil || !s.Limited() {
		return nil
	}
	return &LimitView{Remaining: s.Remaining, RateLimit: limits.WindowAt(s, now)}
}
