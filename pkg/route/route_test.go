package route

import "testing"

// TestPrecedence holds the matcher to API Gateway's documented examples and to the
// case the local gateway and the authorizer once disagreed on.
func TestPrecedence(t *testing.T) {
	routes := []Pattern{
		New(Any, "/{proxy+}"),
		New("GET", "/pets/{proxy+}"),
		New("GET", "/pets/dog/{id}"),
		New("GET", "/pets/dog/1"),
		New("GET", "/a/{x}/c"),
		New("GET", "/a/b/{y}"),
		New(Any, "/orders/{id}"),
		New("POST", "/orders/{id}"),
	}
	Sort(routes, func(p Pattern) Pattern { return p })
	cases := []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/pets/dog/1", "GET /pets/dog/1", map[string]string{}},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}", map[string]string{"id": "2"}},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}", map[string]string{"proxy": "cat/1"}},
		{"POST", "/pets/dog/1", "ANY /{proxy+}", map[string]string{"proxy": "pets/dog/1"}},
		{"GET", "/a/b/c", "GET /a/b/{y}", map[string]string{"y": "c"}},
		{"GET", "/a/z/c", "GET /a/{x}/c", map[string]string{"x": "z"}},
		{"POST", "/orders/7", "POST /orders/{id}", map[string]string{"id": "7"}},
		{"DELETE", "/orders/7", "ANY /orders/{id}", map[string]string{"id": "7"}},
		{"GET", "/orders/a%2Fb", "ANY /orders/{id}", map[string]string{"id": "a/b"}},
	}
	for _, c := range cases {
		i, params := Best(routes, func(p Pattern) Pattern { return p }, c.method, c.path)
		if i < 0 {
			t.Errorf("%s %s: no route", c.method, c.path)
			continue
		}
		if got := routes[i].Method + " " + routes[i].Path; got != c.want || len(params) != len(c.params) {
			t.Errorf("%s %s = %s %v, want %s %v", c.method, c.path, got, params, c.want, c.params)
			continue
		}
		for k, v := range c.params {
			if params[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, params[k], v)
			}
		}
	}
	for _, miss := range [][2]string{{"GET", "/pets"}, {"GET", "/pets/dog//"}} {
		if i, _ := Best(routes[1:4], func(p Pattern) Pattern { return p }, miss[0], miss[1]); i >= 0 {
			t.Errorf("%s %s matched %v", miss[0], miss[1], routes[1+i])
		}
	}
}
