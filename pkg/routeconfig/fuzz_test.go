package routeconfig

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzTable: a table from up to a few "pattern=scope" lines. Parse never panics and
// answers the same however Go orders the map; every rule prints as a pattern that
// parses back to itself, the rules are in a consistent specificity order, every
// rule covers its own path, and Match answers the first rule that matches.
func FuzzTable(f *testing.F) {
	f.Add("GET /orders/{id}=orders:read\nANY /orders/{proxy+}=orders:any\nGET /orders/mine=", "GET", "/orders/1")
	f.Add("GET /v1/whoami=\nPOST /a/{b}/c=x@y*", "POST", "/a/{b}/c")
	f.Add("get /a/=x\nGET /a=y", "GET", "/a")
	f.Add("ANY /{proxy+}=*\nDELETE /x/{id}=x:delete", "DELETE", "/x/{proxy+}")
	f.Add("GET /a//b=x", "GET", "/a//b")
	f.Add("GET /=x", "get", "/")
	f.Fuzz(func(t *testing.T, lines, method, path string) {
		m := map[string]string{}
		for i, line := range strings.Split(lines, "\n") {
			if i == 8 {
				break
			}
			p, sc, _ := strings.Cut(line, "=")
			m[p] = sc
		}
		tab, err := Parse(m)
		for range 3 {
			again, err2 := Parse(m)
			if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
				t.Fatalf("Parse(%q): %v, then %v", m, err, err2)
			}
			if err == nil && !reflect.DeepEqual(again.Rules(), tab.Rules()) {
				t.Fatalf("Parse(%q) orders its rules differently: %v / %v", m, tab.Rules(), again.Rules())
			}
		}
		if err != nil {
			return
		}
		rules := tab.Rules()
		for i, r := range rules {
			single, err := Parse(map[string]string{r.Pattern(): r.Scope})
			if err != nil || !reflect.DeepEqual(single.Rules(), []Rule{r}) {
				t.Fatalf("rule %+v prints as %q, which parses to %v, %v", r, r.Pattern(), single, err)
			}
			_ = r.ARNPath()
			for _, later := range rules[i+1:] {
				if moreSpecific(later, r) {
					t.Fatalf("%q is ordered before the more specific %q", r.Pattern(), later.Pattern())
				}
			}
			if r.Method != AnyMethod {
				if got, ok := tab.Match(r.Method, r.Path); !ok || moreSpecific(r, got) {
					t.Fatalf("rule %q does not cover its own path: %+v, %v", r.Pattern(), got, ok)
				}
			}
		}
		got, ok := tab.Match(method, path)
		if again, ok2 := tab.Match(method, path); ok != ok2 || !reflect.DeepEqual(got, again) {
			t.Fatalf("Match is not deterministic")
		}
		segs := split(path)
		match := matches
		for _, s := range segs {
			if isParam(s) {
				match = sameShape
			}
		}
		for _, r := range rules {
			if (r.Method == AnyMethod || strings.EqualFold(r.Method, method)) && match(r.segs, segs) {
				if !ok || !reflect.DeepEqual(got, r) {
					t.Fatalf("Match(%q, %q) = %+v, %v; the first matching rule is %+v", method, path, got, ok, r)
				}
				return
			}
		}
		if ok {
			t.Fatalf("Match(%q, %q) = %+v, but no rule matches", method, path, got)
		}
	})
}
