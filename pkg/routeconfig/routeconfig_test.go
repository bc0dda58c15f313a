package routeconfig

import "testing"

func TestMatch(t *testing.T) {
	table, err := Parse(map[string]string{
		"GET /orders/{id}":        "orders:read",
		"GET /orders/{proxy+}":    "orders:admin",
		"ANY /orders/{proxy+}":    "orders:any",
		"DELETE /orders/{proxy+}": "orders:delete",
		"GET /orders/summary":     "orders:summary",
		"POST /orders":            "orders:write",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, scope string
		ok                  bool
	}{
		// Concrete paths ($default routes, REST paths): pattern matching.
		{"GET", "/orders/1", "orders:read", true},
		{"GET", "/orders/summary", "orders:summary", true},
		{"GET", "/orders/1/items", "orders:admin", true},
		{"DELETE", "/orders/1/items", "orders:delete", true},
		{"PUT", "/orders/1", "orders:any", true},
		{"POST", "/orders", "orders:write", true},
		{"GET", "/orders", "", false},
		{"GET", "/other", "", false},
		// Route templates: the same route, whatever its parameters are called.
		{"GET", "/orders/{orderId}", "orders:read", true},
		{"GET", "/orders/{proxy+}", "orders:admin", true},
		{"DELETE", "/orders/{proxy+}", "orders:delete", true},
		{"PATCH", "/orders/{proxy+}", "orders:any", true},
		{"GET", "/orders/{id}/items", "", false},
		{"GET", "/{x}/summary", "", false},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r, ok := table.Match(c.method, c.path)
			if ok != c.ok || ok && r.Scope != c.scope {
				t.Fatalf("Match = %+v, %v; want scope %q, %v", r, ok, c.scope, c.ok)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []map[string]string{
		{"/orders": "a"},
		{"GET orders": "a"},
		{"GET /a/{p+}/b": "a"},
		{"GET /a": "Not A Scope"},
		{"GET /a//b": "a"},
		{"GET /a": "a", "get /a/": "b"},
		{" GET /a": "a", "GET  /a": "a"},
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%v) accepted", bad)
		}
	}
}

func TestParseErrorsAreDeterministic(t *testing.T) {
	bad := map[string]string{"GET /a": "", "get /a": "x", "/nope": "", "GET /b//c": "", "GET /{p+}/x": ""}
	_, first := Parse(bad)
	for range 20 {
		if _, err := Parse(bad); err == nil || err.Error() != first.Error() {
			t.Fatalf("Parse error %v, then %v", first, err)
		}
	}
}
