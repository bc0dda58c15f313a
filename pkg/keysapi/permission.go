package keysapi

import (
	"math"
	"net/http"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
)

// decide asks the rule about action on key id (before → after) and maps a refusal to
// its answer: a 404 that does not reveal the key, or a 403 with the rule's code.
func (c *call) decide(action authz.Action, id string, before, after *store.Key) error {
	return deny(authz.Decide(c.who, action, authz.TargetOf(before), authz.TargetOf(after)), id, action)
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
