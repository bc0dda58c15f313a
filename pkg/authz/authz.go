package authz

import (
	"net/netip"
	"slices"
	"time"

	"github.com/keyward/keyward/pkg/scope"
)

// Action is one management action on a key.
type Action string

// Actions, one per management route (batch delete decides Delete per id).
const (
	Read           Action = "read"   // GET a key; a key in a list
	ReadEvents     Action = "events" // a key's events; an event in the audit log
	Create         Action = "create"
	Patch          Action = "patch"
	Rotate         Action = "rotate"
	FinishRotation Action = "finish_rotation"
	Revoke         Action = "revoke"
	Delete         Action = "delete"
	// Introspect is RFC 7662 introspection of a token of the key (tokens:introspect).
	Introspect Action = "introspect"
	// Verify is POST /v1/keys/verify of the key (keys:verify).
	Verify Action = "verify"
)

// The built-in permissions the rule reads.
const (
	PermRead   = "keys:read"
	PermWrite  = "keys:write"
	PermRevoke = "keys:revoke"
	PermAudit  = "audit:read"
	// PermIntrospect is the permission of POST /v1/oauth/introspect.
	PermIntrospect = "tokens:introspect"
	// PermVerify is the permission of POST /v1/keys/verify.
	PermVerify = "keys:verify"
)

// Code is the answer: Allowed, or why not.
type Code string

// Answers. Hidden is a 404 (the key's existence is not revealed); the others are 403s.
const (
	Allowed           Code = ""
	Hidden            Code = "key_not_found"
	InsufficientScope Code = "insufficient_scope"
	OwnerNotAllowed   Code = "owner_not_allowed"
	ScopeEscalation   Code = "scope_escalation"
	LimitEscalation   Code = "limit_escalation"
)

// Caller is who asks: the root credential, or a key (or an access token of one, whose
// Scopes are the token's).
type Caller struct {
	Root   bool
	Scopes scope.Set
	// ExpiresAt and CIDRs are the caller's own key's limits; unused for root.
	ExpiresAt time.Time
	CIDRs     []netip.Prefix
}

// Target is a key as the rule sees it.
type Target struct {
	Owner     string
	Scopes    scope.Set
	ExpiresAt time.Time
	CIDRs     []netip.Prefix
}

// NeedFor is the permission a route needs at all, on some owner, before any key is read.
func NeedFor(a Action) string {
	switch a {
	case Read:
		return PermRead
	case ReadEvents:
		return PermAudit
	case Revoke:
		return PermRevoke // or PermWrite: see Holds
	case Introspect:
		return PermIntrospect
	case Verify:
		return PermVerify
	}
	return PermWrite
}

// Holds reports whether c may call a's route at all: it holds a's permission on at
// least one owner. Failing this is InsufficientScope, before the body is read.
func Holds(c Caller, a Action) bool {
	if a == Revoke && c.Scopes.HoldsAction(PermWrite) {
		return true
	}
	return c.Scopes.HoldsAction(NeedFor(a))
}

// Decide answers whether c may apply a to a key that is before and becomes after.
// before is nil for Create; after is nil for Read, ReadEvents, Revoke and Delete,
// and equal to before for Rotate and FinishRotation (they change neither owner,
// scopes nor limits). It is pure: every route, the console and the CLI (through the
// API) get their answer here.
//
// The rule (checked in this order, so the same request always gets the same answer):
//  1. The caller must hold a's permission somewhere (InsufficientScope).
//  2. A key is visible if the caller's keys:read (audit:read for events) covers its
//     owner, or the permission a needs does; otherwise Hidden.
//  3. Writes: keys:write covers the owner before and after (OwnerNotAllowed), and
//     the caller's scopes cover every scope the key holds before and after
//     (ScopeEscalation). Revoke passes by this, or by keys:revoke on the owner.
//  4. Create and Patch: a key caller may not set an expiry later than its own key's,
//     nor allowed_cidrs that are not all inside its own (LimitEscalation). Only a
//     changed field is checked, so editing a name never trips on an old limit; but a
//     patch that adds scopes, and a rotation (which hands the caller the key's new
//     secret), are checked on the whole key, as a create is: otherwise a limited key
//     would obtain, or arm, a credential freer than itself.
func Decide(c Caller, a Action, before, after *Target) Code {
	if !Holds(c, a) {
		return InsufficientScope
	}
	if before != nil && !visible(c, a, before.Owner) {
		return Hidden
	}
	switch a {
	case Read, ReadEvents, Introspect, Verify:
		return Allowed
	case Revoke:
		if c.Scopes.AllowsOwner(PermRevoke, before.Owner) {
			return Allowed
		}
		return writeRule(c, before, nil)
	}
	if code := writeRule(c, before, after); code != Allowed {
		return code
	}
	if a == Create || a == Patch || a == Rotate {
		return limits(c, a, before, after)
	}
	return Allowed
}

func visible(c Caller, a Action, owner string) bool {
	if a == Introspect || a == Verify {
		// Only tokens:introspect (keys:verify) on the owner: reading keys does not
		// reveal their tokens, nor verify their secrets.
		return c.Scopes.AllowsOwner(NeedFor(a), owner)
	}
	read := PermRead
	if a == ReadEvents {
		read = PermAudit
	}
	if c.Scopes.AllowsOwner(read, owner) || c.Scopes.AllowsOwner(NeedFor(a), owner) {
		return true
	}
	return a == Revoke && c.Scopes.AllowsOwner(PermWrite, owner)
}

// writeRule: keys:write covers the owner, and the caller's scopes cover the key's,
// both before and after.
func writeRule(c Caller, before, after *Target) Code {
	states := []*Target{before, after}
	for _, t := range states {
		if t != nil && !c.Scopes.AllowsOwner(PermWrite, t.Owner) {
			return OwnerNotAllowed
		}
	}
	for _, t := range states {
		if t != nil && !c.Scopes.Covers(t.Scopes) {
			return ScopeEscalation
		}
	}
	return Allowed
}

// limits are inherited: a key caller's expiry and networks bound what it sets, and
// bound the whole key when the caller creates it, gives it scopes or takes its secret.
func limits(c Caller, a Action, before, after *Target) Code {
	if c.Root || after == nil {
		return Allowed
	}
	whole := before == nil || a == Rotate || !before.Scopes.Covers(after.Scopes)
	expiryChanged := whole || !before.ExpiresAt.Equal(after.ExpiresAt)
	if expiryChanged && after.ExpiresAt.After(c.ExpiresAt) {
		return LimitEscalation
	}
	cidrsChanged := whole || !slices.Equal(before.CIDRs, after.CIDRs)
	if cidrsChanged && !Within(after.CIDRs, c.CIDRs) {
		return LimitEscalation
	}
	return Allowed
}

// Within reports whether every network of inner lies inside some network of outer.
// An empty list means anywhere: inside an empty outer, and inside nothing else.
func Within(inner, outer []netip.Prefix) bool {
	if len(outer) == 0 {
		return true
	}
	if len(inner) == 0 {
		return false
	}
	for _, p := range inner {
		if !slices.ContainsFunc(outer, func(o netip.Prefix) bool { return contains(o, p) }) {
			return false
		}
	}
	return true
}

// contains reports whether network p lies inside network o.
func contains(o, p netip.Prefix) bool {
	o, p = o.Masked(), p.Masked()
	return o.Addr().Is4() == p.Addr().Is4() && o.Bits() <= p.Bits() && o.Contains(p.Addr())
}
