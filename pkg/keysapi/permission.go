package keysapi

import (
	"math"
	"net/http"
	"net/netip"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
)

// callerOf is the principal as the permission rule sees it: the root credential, or
// a key (an access token is its key with the token's scopes) with that key's limits.
func callerOf(p auth.Principal) authz.Caller {
	if p.Kind == auth.KindRoot || p.Key == nil {
		return authz.Caller{Root: p.Kind == auth.KindRoot, Scopes: p.Scopes}
	}
	return authz.Caller{Scopes: p.Scopes, ExpiresAt: p.Key.ExpiresAt, CIDRs: prefixes(p.Key.AllowedCIDRs)}
}

// targetOf is a key as the permission rule sees it.
func targetOf(k *store.Key) *authz.Target {
	return &authz.Target{Owner: k.Owner, Scopes: scope.MustParseList(k.Scopes), ExpiresAt: k.ExpiresAt, CIDRs: prefixes(k.AllowedCIDRs)}
}

// prefixes parses stored, already canonical CIDRs; one that fails to parse is kept as
// an empty prefix, which contains nothing, so it can only narrow.
func prefixes(list []string) []netip.Prefix {
	out := make([]netip.Prefix, len(list))
	for i, c := range list {
		out[i], _ = netip.ParsePrefix(c)
	}
	return out
}

// decide asks the rule about action on key id (before → after) and maps a refusal to
// its answer: a 404 that does not reveal the key, or a 403 with the rule's code.
func (c *call) decide(action authz.Action, id string, before, after *store.Key) error {
	var b, af *authz.Target
	if before != nil {
		b = targetOf(before)
	}
	if after != nil {
		af = targetOf(after)
	}
	return deny(authz.Decide(c.who, action, b, af), id, action)
}

func deny(code authz.Code, id string, action authz.Action) error {
	switch code {
	case authz.Allowed:
		return nil
	case authz.Hidden:
		return notFound(id)
	case authz.InsufficientScope:
		if action == authz.Revoke {
			return httpapi.Errorf(http.StatusForbidden, string(code), "This credential lacks the keys:write or keys:revoke permission.")
		}
		return httpapi.Errorf(http.StatusForbidden, string(code), "This credential lacks the %s permission.", authz.NeedFor(action))
	case authz.OwnerNotAllowed:
		return httpapi.Errorf(http.StatusForbidden, string(code), "This credential's keys:write does not cover the key's owner.")
	case authz.ScopeEscalation:
		return httpapi.Errorf(http.StatusForbidden, string(code), "A key may only be created or changed by a caller holding every scope it has, before and after the change.")
	case authz.LimitEscalation:
		return httpapi.Errorf(http.StatusForbidden, string(code), "A key may not expire later than, or be usable from networks outside, the key that creates or edits it.")
	}
	return httpapi.Errorf(http.StatusForbidden, string(code), "Not allowed.")
}

// readRange is the owners whose keys (perm keys:read) or events (audit:read) the
// caller may read; nil means every owner.
func (c *call) readRange(perm string) *scope.OwnerRange {
	r := c.who.Scopes.OwnerRange(perm)
	if r.All {
		return nil
	}
	return &r
}

// retryAfterSeconds is the Retry-After of a lock: its real remaining time, rounded
// up to a whole second.
func retryAfterSeconds(d auth.Decision) int {
	return max(1, int(math.Ceil(d.RetryAfter.Seconds())))
}
