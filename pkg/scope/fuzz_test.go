package scope

import (
	"reflect"
	"strings"
	"testing"
)

var scopeSeeds = []string{
	"*", "keys:read", "keys:read@owner:alice@example.com", "keys:write@owner:team-payments/*",
	"credentials:delete@cred/prod-*", "orders:read@*", "a", "a@", "@b", "A:read", "a b", "a@b c",
	"a@b*c", "a@" + strings.Repeat("r", maxLen), "x:y@\x00", "x@é", "",
}

// FuzzParse: a parsed scope prints as exactly the string it came from, parses back
// to itself, and is covered by itself and by *; a prefix grant covers a longer
// resource with that prefix.
func FuzzParse(f *testing.F) {
	for _, s := range scopeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if _, err2 := Parse(s); (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("Parse(%q) is not deterministic: %v / %v", s, err, err2)
		}
		if err != nil {
			return
		}
		if p.String() != s || len(s) > maxLen {
			t.Fatalf("Parse(%q) = %+v, which prints as %q", s, p, p.String())
		}
		if again, err := Parse(p.String()); err != nil || again != p {
			t.Fatalf("Parse(String(%+v)) = %+v, %v", p, again, err)
		}
		if !(Set{p}).Allows(p) || !(Set{{Action: All}}).Allows(p) {
			t.Fatalf("%q is not covered by itself or by *", s)
		}
		if prefix, ok := strings.CutSuffix(p.Resource, "*"); ok {
			longer := Scope{Action: p.Action, Resource: prefix + "x/y"}
			if !(Set{p}).Allows(longer) {
				t.Fatalf("%q does not cover %q", s, longer)
			}
		}
		if p.Action != All && (Set{p}).Allows(Scope{Action: p.Action + "x"}) {
			t.Fatalf("%q covers another action", s)
		}
	})
}

// FuzzParseList: a parsed list holds each distinct scope once, covers every scope it
// was given, parses back from its strings, and coverage is transitive (a covers b,
// b covers c, so a covers c: no chain of grants reaches further than its head).
func FuzzParseList(f *testing.F) {
	for i := range scopeSeeds {
		f.Add(scopeSeeds[i], scopeSeeds[(i+1)%len(scopeSeeds)], scopeSeeds[(i+5)%len(scopeSeeds)])
	}
	f.Add("a@x*", "a@xy*", "a@xyz")
	f.Add("a", "a@b*", "a@b")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		list := []string{a, b, c}
		set, err := ParseList(list)
		if err != nil {
			return
		}
		seen := map[Scope]bool{}
		for _, p := range set {
			if seen[p] {
				t.Fatalf("ParseList(%q) holds %q twice", list, p)
			}
			seen[p] = true
		}
		for _, s := range list {
			if !set.AllowsString(s) {
				t.Fatalf("ParseList(%q) does not cover %q", list, s)
			}
		}
		if !set.Covers(set) || !reflect.DeepEqual(set.Intersect(set), set) {
			t.Fatalf("%q does not cover itself", list)
		}
		again, err := ParseList(set.Strings())
		if err != nil || !reflect.DeepEqual(again, set) {
			t.Fatalf("ParseList(Strings(%v)) = %v, %v", set, again, err)
		}
		pa, pb, pc := MustParseList([]string{a})[0], MustParseList([]string{b})[0], MustParseList([]string{c})[0]
		if (Set{pa}).Allows(pb) && (Set{pb}).Allows(pc) && !(Set{pa}).Allows(pc) {
			t.Fatalf("%q covers %q covers %q, but not transitively", a, b, c)
		}
	})
}
