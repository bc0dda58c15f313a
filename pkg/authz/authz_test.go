package authz

import (
	"flag"
	"net/netip"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/scope"
	"pgregory.net/rapid"
)

var (
	owners     = []string{"alice@example.com", "team-payments/api", "team-payments/web", "team-ops", "erin", "erin2"}
	ownerGrant = []string{"", "@owner:alice@example.com", "@owner:team-payments/*", "@owner:team-*", "@owner:erin*", "@owner:erin", "@owner:*"}
	actions    = []string{"keys:read", "keys:write", "keys:revoke", "audit:read", "tokens:introspect", "orders:read"}
	cidrs      = []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3/32", "192.168.0.0/24", "2001:db8::/32", "2001:db8:1::/48"}
	epoch      = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

func genScopes(t *rapid.T, label string) scope.Set {
	n := rapid.IntRange(0, 5).Draw(t, label+"_n")
	var list []string
	for i := 0; i < n; i++ {
		a := rapid.SampledFrom(actions).Draw(t, label+"_action")
		g := ""
		if a != "orders:read" {
			g = rapid.SampledFrom(ownerGrant).Draw(t, label+"_owner")
		}
		list = append(list, a+g)
	}
	if rapid.IntRange(0, 20).Draw(t, label+"_star") == 0 {
		list = append(list, "*")
	}
	return scope.MustParseList(list)
}

func subset(t *rapid.T, set scope.Set) scope.Set {
	var out scope.Set
	for _, s := range set {
		if rapid.Bool().Draw(t, "keep_scope") {
			out = append(out, s)
		}
	}
	return out
}

func genCIDRs(t *rapid.T, label string) []netip.Prefix {
	n := rapid.IntRange(0, 2).Draw(t, label+"_n")
	var out []netip.Prefix
	for i := 0; i < n; i++ {
		out = append(out, netip.MustParsePrefix(rapid.SampledFrom(cidrs).Draw(t, label+"_cidr")))
	}
	return out
}

func genTarget(t *rapid.T, label string) *Target {
	return &Target{
		Owner:     rapid.SampledFrom(owners).Draw(t, label+"_owner"),
		Scopes:    genScopes(t, label+"_scopes"),
		ExpiresAt: epoch.Add(time.Duration(rapid.IntRange(1, 10).Draw(t, label+"_days")) * 24 * time.Hour),
		CIDRs:     genCIDRs(t, label+"_cidrs"),
	}
}

func genCaller(t *rapid.T) Caller {
	if rapid.IntRange(0, 9).Draw(t, "root") == 0 {
		return Caller{Root: true, Scopes: scope.Set{{Action: scope.All}}}
	}
	target := genTarget(t, "caller")
	return Caller{Scopes: target.Scopes, ExpiresAt: target.ExpiresAt, CIDRs: target.CIDRs}
}

// TestAllowedChangeNeverWidens: whatever the caller, target and action, a change the
// rule allows leaves the key with no scope, owner, network or expiry beyond the caller's.
func TestAllowedChangeNeverWidens(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		_ = f.Value.Set("3000") // the default 100 rarely reaches the allowed corners
	}
	rapid.Check(t, func(t *rapid.T) {
		c := genCaller(t)
		a := rapid.SampledFrom([]Action{Read, ReadEvents, Introspect, Create, Patch, Rotate, FinishRotation, Revoke, Delete}).Draw(t, "action")
		var before, after *Target
		switch a {
		case Create:
			after = genTarget(t, "after")
		case Patch:
			before, after = genTarget(t, "before"), genTarget(t, "after")
			// Half the time a patch leaves limits alone, as most patches do.
			if rapid.Bool().Draw(t, "keep_expiry") {
				after.ExpiresAt = before.ExpiresAt
			}
			if rapid.Bool().Draw(t, "keep_cidrs") {
				after.CIDRs = before.CIDRs
			}
		case Rotate, FinishRotation:
			before = genTarget(t, "before")
			after = before
		default:
			before = genTarget(t, "before")
		}
		// Half the time the target holds only what the caller holds, so that the rule
		// has allowed changes to check and not only refusals.
		if after != nil && after != before && rapid.Bool().Draw(t, "subset") {
			after.Scopes = subset(t, c.Scopes)
		}
		if before != nil && rapid.Bool().Draw(t, "subset_before") {
			before.Scopes = subset(t, c.Scopes)
		}
		code := Decide(c, a, before, after)
		if code2 := Decide(c, a, before, after); code2 != code {
			t.Fatalf("not deterministic: %q then %q", code, code2)
		}
		if code != Allowed {
			if code == Hidden && before == nil {
				t.Fatalf("Hidden without a target")
			}
			return
		}
		switch a {
		case Read:
			if !c.Scopes.AllowsOwner(PermRead, before.Owner) {
				t.Fatalf("read allowed outside keys:read")
			}
			return
		case Introspect:
			if !c.Scopes.AllowsOwner(PermIntrospect, before.Owner) {
				t.Fatalf("introspection allowed outside tokens:introspect")
			}
			return
		case ReadEvents:
			if !c.Scopes.AllowsOwner(PermAudit, before.Owner) {
				t.Fatalf("events allowed outside audit:read")
			}
			return
		case Revoke:
			byWrite := c.Scopes.AllowsOwner(PermWrite, before.Owner) && c.Scopes.Covers(before.Scopes)
			if !byWrite && !c.Scopes.AllowsOwner(PermRevoke, before.Owner) {
				t.Fatalf("revoke allowed without the write rule or keys:revoke on %s", before.Owner)
			}
			return
		}
		for _, k := range []*Target{before, after} {
			if k == nil {
				continue
			}
			if !c.Scopes.AllowsOwner(PermWrite, k.Owner) {
				t.Fatalf("%s allowed on owner %s outside the caller's keys:write", a, k.Owner)
			}
			if !c.Scopes.Covers(k.Scopes) {
				t.Fatalf("%s allowed on scopes %v beyond the caller's %v", a, k.Scopes.Strings(), c.Scopes.Strings())
			}
			// No owner range wider than the caller's, for any built-in action.
			for _, perm := range []string{PermRead, PermWrite, PermRevoke, PermAudit} {
				for _, o := range owners {
					if k.Scopes.AllowsOwner(perm, o) && !c.Scopes.AllowsOwner(perm, o) {
						t.Fatalf("%s grants %s on %s, which the caller lacks", a, perm, o)
					}
				}
			}
		}
		if c.Root || after == nil {
			return
		}
		// A rotation hands out the key's secret and a patch that adds scopes arms it:
		// the whole key must be within the caller's limits then, as on create.
		whole := before == nil || a == Rotate || !before.Scopes.Covers(after.Scopes)
		if (whole || !before.ExpiresAt.Equal(after.ExpiresAt)) && after.ExpiresAt.After(c.ExpiresAt) {
			t.Fatalf("%s set expiry %v past the caller's %v", a, after.ExpiresAt, c.ExpiresAt)
		}
		changed := whole || len(before.CIDRs) != len(after.CIDRs)
		for i := 0; !changed && i < len(after.CIDRs); i++ {
			changed = before.CIDRs[i] != after.CIDRs[i]
		}
		if changed && len(c.CIDRs) > 0 {
			if len(after.CIDRs) == 0 {
				t.Fatalf("%s dropped the networks of a caller limited to %v", a, c.CIDRs)
			}
			for _, p := range after.CIDRs {
				inside := false
				for _, o := range c.CIDRs {
					inside = inside || o.Bits() <= p.Bits() && o.Contains(p.Addr()) && o.Addr().Is4() == p.Addr().Is4()
				}
				if !inside {
					t.Fatalf("%s set network %v outside the caller's %v", a, p, c.CIDRs)
				}
			}
		}
	})
}

func key(owner string, scopes ...string) *Target {
	return &Target{Owner: owner, Scopes: scope.MustParseList(scopes), ExpiresAt: epoch.Add(24 * time.Hour)}
}

func caller(scopes ...string) Caller {
	return Caller{Scopes: scope.MustParseList(scopes), ExpiresAt: epoch.Add(48 * time.Hour)}
}

// TestDecideCases pins the answer of each rule, including the attacks the rule exists for.
func TestDecideCases(t *testing.T) {
	ops := key("team-ops", "*")
	erin := key("erin", "orders:read")
	narrowed := caller("keys:read@owner:erin*", "keys:write@owner:erin*", "orders:read")
	withCIDR := caller("keys:write", "orders:read")
	withCIDR.CIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	longer := *erin
	longer.ExpiresAt = epoch.Add(3650 * 24 * time.Hour)
	open := *erin
	inside := *erin
	inside.CIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	renamed := *ops
	cases := []struct {
		name          string
		c             Caller
		a             Action
		before, after *Target
		want          Code
	}{
		{"read/write takes over a * key", caller("keys:read", "keys:write"), Patch, ops, &renamed, ScopeEscalation},
		{"write-only revives an expired * key", caller("keys:write"), Patch, ops, &renamed, ScopeEscalation},
		{"write-only cannot delete a * key", caller("keys:read", "keys:write"), Delete, ops, nil, ScopeEscalation},
		{"write-only cannot finish a * key's rotation", caller("keys:read", "keys:write"), FinishRotation, ops, ops, ScopeEscalation},
		{"narrowed reader cannot see another owner", narrowed, Read, ops, nil, Hidden},
		{"narrowed reader sees its owner", narrowed, Read, erin, nil, Allowed},
		{"narrowed writer cannot move a key out", narrowed, Patch, erin, key("team-ops", "orders:read"), OwnerNotAllowed},
		{"narrowed writer cannot create for another owner", narrowed, Create, nil, key("team-ops", "orders:read"), OwnerNotAllowed},
		{"narrowed writer creates for its owner", narrowed, Create, nil, key("erin2", "orders:read"), Allowed},
		{"a key cannot outlive its creator", caller("keys:write", "orders:read"), Create, nil, &longer, LimitEscalation},
		{"a CIDR-bound key cannot drop its networks", withCIDR, Patch, &inside, &open, LimitEscalation},
		{"a CIDR-bound key cannot create an open key", withCIDR, Create, nil, &open, LimitEscalation},
		{"a CIDR-bound key creates inside its networks", withCIDR, Create, nil, &inside, Allowed},
		{"root has no limits", Caller{Root: true, Scopes: scope.MustParseList([]string{"*"})}, Create, nil, &longer, Allowed},
		{"keys:revoke kills any key of its owners", caller("keys:revoke@owner:team-*"), Revoke, ops, nil, Allowed},
		{"keys:revoke does nothing else", caller("keys:revoke@owner:team-*"), Delete, ops, nil, InsufficientScope},
		{"keys:revoke is bounded by owner", caller("keys:revoke@owner:team-*"), Revoke, erin, nil, Hidden},
		{"no permission at all", caller("orders:read"), Read, erin, nil, InsufficientScope},
		{"events need audit:read", caller("keys:read"), ReadEvents, erin, nil, InsufficientScope},
		{"audit narrowed to owners", caller("audit:read@owner:erin"), ReadEvents, ops, nil, Hidden},
		{"introspection narrowed to owners", caller("tokens:introspect@owner:erin*"), Introspect, erin, nil, Allowed},
		{"introspection of another owner's token", caller("tokens:introspect@owner:erin*", "keys:read"), Introspect, ops, nil, Hidden},
		{"introspection needs tokens:introspect", caller("keys:read"), Introspect, erin, nil, InsufficientScope},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.c, tc.a, tc.before, tc.after); got != tc.want {
				t.Errorf("Decide = %q, want %q", got, tc.want)
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	c := caller("keys:read@owner:team-*", "keys:write@owner:team-*", "orders:read", "orders:write@o/*")
	before := key("team-payments/api", "orders:read", "orders:write@o/1")
	after := *before
	after.ExpiresAt = before.ExpiresAt.Add(-time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if Decide(c, Patch, before, &after) != Allowed {
			b.Fatal("refused")
		}
	}
}
