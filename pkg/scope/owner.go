package scope

import (
	"fmt"
	"slices"
	"strings"
)

// OwnerResource is the resource prefix that narrows a built-in action to owners:
// `keys:write@owner:team-payments/*`, `keys:read@owner:alice@example.com`.
const OwnerResource = "owner:"

// OwnerRange is the set of owners one action of a scope set covers: every owner, or
// some exact owners and owner prefixes. Its lists are normalised: sorted, no prefix
// covered by a shorter one, no exact owner covered by a prefix, so the parts are
// disjoint and a listing can read them one after another without duplicates.
type OwnerRange struct {
	All      bool
	Owners   []string
	Prefixes []string
}

// OwnerRange returns the owners that action covers in set. A scope of action with a
// resource that is not an owner resource covers no owner.
func (set Set) OwnerRange(action string) OwnerRange {
	var r OwnerRange
	for _, s := range set {
		if s.Action != All && s.Action != action {
			continue
		}
		if s.Action == All || s.Resource == "" {
			return OwnerRange{All: true}
		}
		owner, ok := strings.CutPrefix(s.Resource, OwnerResource)
		if !ok {
			continue
		}
		if p, ok := strings.CutSuffix(owner, "*"); ok {
			if p == "" {
				return OwnerRange{All: true}
			}
			r.Prefixes = append(r.Prefixes, p)
		} else {
			r.Owners = append(r.Owners, owner)
		}
	}
	return r.normalise()
}

func (r OwnerRange) normalise() OwnerRange {
	slices.Sort(r.Prefixes)
	r.Prefixes = slices.Compact(r.Prefixes)
	// Sorted, a prefix that covers another comes right before the ones it covers.
	var prefixes []string
	for _, p := range r.Prefixes {
		if n := len(prefixes); n == 0 || !strings.HasPrefix(p, prefixes[n-1]) {
			prefixes = append(prefixes, p)
		}
	}
	r.Prefixes = prefixes
	slices.Sort(r.Owners)
	r.Owners = slices.Compact(r.Owners)
	r.Owners = slices.DeleteFunc(r.Owners, r.coveredByPrefix)
	return r
}

func (r OwnerRange) coveredByPrefix(owner string) bool {
	for _, p := range r.Prefixes {
		if strings.HasPrefix(owner, p) {
			return true
		}
	}
	return false
}

// Covers reports whether owner is in the range.
func (r OwnerRange) Covers(owner string) bool {
	return r.All || slices.Contains(r.Owners, owner) || r.coveredByPrefix(owner)
}

// Empty reports whether the range covers no owner at all.
func (r OwnerRange) Empty() bool { return !r.All && len(r.Owners) == 0 && len(r.Prefixes) == 0 }

// HoldsAction reports whether set grants action on at least one resource: the
// route-level check that comes before any per-key decision.
func (set Set) HoldsAction(action string) bool {
	for _, s := range set {
		if s.Action == All || s.Action == action {
			return true
		}
	}
	return false
}

// AllowsOwner reports whether set grants action on owner: OwnerRange(action).Covers(owner),
// without building the range (it is on every management request's path).
func (set Set) AllowsOwner(action, owner string) bool {
	for _, s := range set {
		if s.Action != All && s.Action != action {
			continue
		}
		if s.Action == All || s.Resource == "" {
			return true
		}
		o, ok := strings.CutPrefix(s.Resource, OwnerResource)
		if !ok {
			continue
		}
		if p, isPrefix := strings.CutSuffix(o, "*"); isPrefix && strings.HasPrefix(owner, p) || !isPrefix && o == owner {
			return true
		}
	}
	return false
}

// BuiltIn are the actions of Keyward's own API. They may only be narrowed to owners
// (`@owner:<owner>` or `@owner:<prefix>*`); any other action is the deploying
// organisation's own and takes any resource.
var BuiltIn = []string{"keys:read", "keys:write", "keys:revoke", "keys:verify", "audit:read", "tokens:introspect"}

// checkBuiltIn refuses a built-in action with a resource that names no owner.
func checkBuiltIn(s Scope) error {
	if s.Resource == "" || !slices.Contains(BuiltIn, s.Action) {
		return nil
	}
	if owner, ok := strings.CutPrefix(s.Resource, OwnerResource); !ok || owner == "" {
		return fmt.Errorf("scope %q: %s may only be narrowed to owners: %s@%s<owner> or %s@%s<prefix>*",
			s.String(), s.Action, s.Action, OwnerResource, s.Action, OwnerResource)
	}
	return nil
}
