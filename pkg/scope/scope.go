package scope

import (
	"fmt"
	"strings"
)

// All is the scope that grants every permission.
const All = "*"

// maxLen bounds one scope string; long enough for ARNs, short enough to keep items small.
const maxLen = 256

// Scope is one parsed permission.
type Scope struct {
	Action   string // "*" for All
	Resource string // empty means every resource of Action
}

// String returns the scope in its textual form.
func (s Scope) String() string {
	if s.Resource == "" {
		return s.Action
	}
	return s.Action + "@" + s.Resource
}

// Parse parses one scope string.
func Parse(s string) (Scope, error) {
	if s == All {
		return Scope{Action: All}, nil
	}
	if len(s) == 0 || len(s) > maxLen {
		return Scope{}, fmt.Errorf("scope %q: must be 1 to %d characters", s, maxLen)
	}
	action, resource, hasAt := strings.Cut(s, "@")
	if !validAction(action) {
		return Scope{}, fmt.Errorf("scope %q: action must match [a-z0-9][a-z0-9:._-]*", s)
	}
	if hasAt {
		if !validResource(resource) {
			return Scope{}, fmt.Errorf("scope %q: resource must be printable ASCII, without spaces, with '*' only at its end", s)
		}
	}
	sc := Scope{Action: action, Resource: resource}
	if err := checkBuiltIn(sc); err != nil {
		return Scope{}, err
	}
	return sc, nil
}

func validAction(a string) bool {
	if a == "" {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if i == 0 && !alnum || !alnum && c != ':' && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validResource(r string) bool {
	if r == "" {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		// '@' is allowed: an owner is often an address (keys:read@owner:alice@example.com);
		// the action is everything before the first '@'.
		if c <= ' ' || c >= 0x7f || c == '*' && i != len(r)-1 {
			return false
		}
	}
	return true
}

// covers reports whether holding s permits t.
func (s Scope) covers(t Scope) bool {
	if s.Action == All {
		return true
	}
	if s.Action != t.Action {
		return false
	}
	if s.Resource == "" {
		return true
	}
	if t.Resource == "" {
		return false
	}
	if p, ok := strings.CutSuffix(s.Resource, "*"); ok {
		// A prefix grant covers a narrower prefix grant too: cred/* covers cred/prod-*.
		return strings.HasPrefix(t.Resource, p)
	}
	return s.Resource == t.Resource
}

// Set is a parsed list of scopes.
type Set []Scope

// ParseList parses every scope of list, rejecting an empty list, duplicates
// are kept out of the result.
func ParseList(list []string) (Set, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("scopes must not be empty")
	}
	if len(list) > 100 {
		return nil, fmt.Errorf("at most 100 scopes")
	}
	set := make(Set, 0, len(list))
	seen := make(map[Scope]bool, len(list))
	for _, s := range list {
		p, err := Parse(s)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			set = append(set, p)
		}
	}
	return set, nil
}

// MustParseList is ParseList for trusted, already-validated input (stored items).
// Scopes that fail to parse are dropped, which can only narrow a permission.
func MustParseList(list []string) Set {
	set := make(Set, 0, len(list))
	for _, s := range list {
		if p, err := Parse(s); err == nil {
			set = append(set, p)
		}
	}
	return set
}

// Allows reports whether the set permits the scope t.
func (set Set) Allows(t Scope) bool {
	for _, s := range set {
		if s.covers(t) {
			return true
		}
	}
	return false
}

// AllowsString is Allows for a scope in textual form; an unparseable scope is not allowed.
func (set Set) AllowsString(t string) bool {
	p, err := Parse(t)
	return err == nil && set.Allows(p)
}

// Covers reports whether the set permits every scope of other (no escalation).
func (set Set) Covers(other Set) bool {
	for _, t := range other {
		if !set.Allows(t) {
			return false
		}
	}
	return true
}

// Strings returns the textual form of every scope.
func (set Set) Strings() []string {
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = s.String()
	}
	return out
}

// Join returns the scopes space-separated, as OAuth and the authorizer context carry them.
func (set Set) Join() string { return strings.Join(set.Strings(), " ") }

// Intersect returns the scopes of want that set permits, for narrowing a token.
func (set Set) Intersect(want Set) Set {
	out := make(Set, 0, len(want))
	for _, t := range want {
		if set.Allows(t) {
			out = append(out, t)
		}
	}
	return out
}
