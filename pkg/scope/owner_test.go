package scope

import (
	"testing"

	"pgregory.net/rapid"
)

// TestAllowsOwnerIsOwnerRange: the fast check and the range that listings read by are
// one rule.
func TestAllowsOwnerIsOwnerRange(t *testing.T) {
	owners := []string{"erin", "erin2", "erin@example.com", "team-a/x", "team-b", "t", ""}
	grants := []string{"keys:read", "keys:write", "keys:read@owner:erin", "keys:read@owner:erin*", "keys:read@owner:team-*",
		"keys:read@owner:team-a/*", "keys:read@owner:*", "keys:write@owner:t", "orders:read@o/1", "*"}
	rapid.Check(t, func(t *rapid.T) {
		set := MustParseList(rapid.SliceOfN(rapid.SampledFrom(grants), 0, 5).Draw(t, "scopes"))
		owner := rapid.SampledFrom(owners).Draw(t, "owner")
		action := rapid.SampledFrom([]string{"keys:read", "keys:write"}).Draw(t, "action")
		r := set.OwnerRange(action)
		if got, want := set.AllowsOwner(action, owner), r.Covers(owner); got != want {
			t.Fatalf("AllowsOwner(%s, %q) = %v, OwnerRange %+v covers = %v", action, owner, got, r, want)
		}
		// The range is normalised: its parts never overlap.
		for _, o := range r.Owners {
			if r.coveredByPrefix(o) {
				t.Fatalf("owner %q also covered by a prefix in %+v", o, r)
			}
		}
		for i, p := range r.Prefixes {
			for j, q := range r.Prefixes {
				if i != j && len(q) <= len(p) && p[:len(q)] == q {
					t.Fatalf("prefix %q covered by %q in %+v", p, q, r)
				}
			}
		}
	})
}

func TestOwnerScopes(t *testing.T) {
	for _, bad := range []string{"keys:read@cred/x", "keys:write@owner:", "audit:read@team-*"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded: a built-in action takes only owner resources", bad)
		}
	}
	for _, good := range []string{"keys:read@owner:alice@example.com", "keys:write@owner:team-payments/*", "orders:read@anything"} {
		if _, err := Parse(good); err != nil {
			t.Errorf("Parse(%q): %v", good, err)
		}
	}
}
