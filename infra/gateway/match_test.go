package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/routeconfig"
)

// TestGatewayAndAuthorizerPickTheSameRoute: for every request, the route the local
// gateway serves is the rule the authorizer's route table applies.
func TestGatewayAndAuthorizerPickTheSameRoute(t *testing.T) {
	patterns := []string{"GET /a/{x}/c", "GET /a/b/{y}", "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "POST /orders/{id}", "ANY /orders/{id}"}
	var routes []stack.Route
	rules := map[string]string{}
	for i, p := range patterns {
		method, path, _ := cut(p)
		routes = append(routes, stack.Route{Function: "F", Method: method, Path: path})
		rules[p] = fmt.Sprintf("route:%d", i)
	}
	g := New(routes, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	table, err := routeconfig.Parse(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range [][2]string{{"GET", "/a/b/c"}, {"GET", "/a/z/c"}, {"GET", "/pets/dog/1"}, {"GET", "/pets/dog/2"},
		{"GET", "/pets/cat"}, {"PUT", "/pets/dog/1"}, {"POST", "/orders/1"}, {"GET", "/orders/1"}} {
		r, _ := g.match(req[0], req[1])
		rule, ok := table.Match(req[0], req[1])
		if r == nil || !ok {
			t.Fatalf("%s %s: gateway %v, authorizer %v", req[0], req[1], r, ok)
		}
		if got, want := r.Method+" "+r.Path, rule.Pattern(); got != want {
			t.Errorf("%s %s: the gateway serves %s, the authorizer applies %s", req[0], req[1], got, want)
		}
	}
	if r, _ := g.match("GET", "/a/b/c"); r.Path != "/a/b/{y}" {
		t.Errorf("GET /a/b/c served by %s, want /a/b/{y} (a literal second segment wins)", r.Path)
	}
}

func cut(p string) (string, string, bool) {
	for i := range p {
		if p[i] == ' ' {
			return p[:i], p[i+1:], true
		}
	}
	return p, "", false
}
