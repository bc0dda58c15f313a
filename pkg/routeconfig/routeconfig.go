package routeconfig

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/keyward/keyward/pkg/route"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/scope"
)

// AnyMethod is the method of a pattern that matches every method.
const AnyMethod = "ANY"

// Rule is one pattern and the scope it needs.
type Rule struct {
	Method string // upper case, or AnyMethod
	Path   string // e.g. /orders/{id}
	Scope  string // "" means any valid credential
	segs   []string
}

// Pattern returns the rule as written in the configuration, e.g. "GET /orders/{id}".
func (r Rule) Pattern() string { return r.Method + " " + r.Path }

// ARNPath returns the rule as the method/path tail of an execute-api ARN, with every
// path parameter as a wildcard: "GET/orders/*".
func (r Rule) ARNPath() string {
	m := r.Method
	if m == AnyMethod {
		m = "*"
	}
	var b strings.Builder
	b.WriteString(m)
	for _, s := range r.segs {
		b.WriteByte('/')
		if isParam(s) {
			b.WriteByte('*')
		} else {
			b.WriteString(s)
		}
	}
	if len(r.segs) == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// Table is an immutable set of rules.
type Table struct{ rules []Rule }

// Parse builds a table from pattern → scope. Patterns are read in sorted order, so
// a table with several bad patterns always names the same one. Two patterns for one
// route ("GET /a" and "get /a/") are refused: which scope applied would otherwise
// depend on map order.
func Parse(m map[string]string) (*Table, error) {
	t := &Table{}
	patterns := make([]string, 0, len(m))
	for p := range m {
		patterns = append(patterns, p)
	}
	sort.Strings(patterns)
	seen := make(map[string]string, len(m))
	for _, pattern := range patterns {
		sc := m[pattern]
		method, path, segs, err := parsePattern(pattern)
		if err != nil {
			return nil, err
		}
		if sc != "" {
			if _, err := scope.Parse(sc); err != nil {
				return nil, fmt.Errorf("route %q: scope %q: %w", pattern, sc, err)
			}
		}
		key := canonical(method, segs)
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("routes %q and %q are the same route", other, pattern)
		}
		seen[key] = pattern
		t.rules = append(t.rules, Rule{Method: method, Path: path, Scope: sc, segs: segs})
	}
	sort.SliceStable(t.rules, func(i, j int) bool { return moreSpecific(t.rules[i], t.rules[j]) })
	return t, nil
}

// parsePattern reads "METHOD /path": the method in upper case, the path trimmed and
// its segments, none of them empty.
func parsePattern(pattern string) (method, path string, segs []string, err error) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return "", "", nil, fmt.Errorf("route %q: want \"METHOD /path\"", pattern)
	}
	segs = split(path)
	for i, s := range segs {
		if s == "" {
			return "", "", nil, fmt.Errorf("route %q: empty path segment", pattern)
		}
		if greedy(s) && i != len(segs)-1 {
			return "", "", nil, fmt.Errorf("route %q: a {name+} segment must be last", pattern)
		}
	}
	return strings.ToUpper(method), path, segs, nil
}

// canonical is the route a pattern stands for: its method and segments.
func canonical(method string, segs []string) string {
	return method + " /" + strings.Join(segs, "/")
}

// routeKey is the canonical route of a pattern, or the pattern itself when it does
// not parse (Parse then reports it).
func routeKey(pattern string) string {
	method, _, segs, err := parsePattern(pattern)
	if err != nil {
		return pattern
	}
	return canonical(method, segs)
}

// ParseJSON builds a table from its JSON form; "" is the empty table.
func ParseJSON(s string) (*Table, error) {
	m := map[string]string{}
	if strings.TrimSpace(s) != "" {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("route table: %w", err)
		}
	}
	return Parse(m)
}

// Rules returns the rules, most specific first.
func (t *Table) Rules() []Rule { return t.rules }

// Match returns the most specific rule for method and path. A concrete path is
// matched against the rules' patterns; a route template (API Gateway's routeKey or
// resource, such as /orders/{proxy+}) only against a rule of the same shape, because
// a template segment stands for whatever the request had there: {proxy+} must not
// pass for the single segment a {id} rule covers.
func (t *Table) Match(method, path string) (Rule, bool) {
	segs := split(path)
	match := matches
	if slices.ContainsFunc(segs, isParam) {
		match = sameShape
	}
	for _, r := range t.rules {
		if (r.Method == AnyMethod || strings.EqualFold(r.Method, method)) && match(r.segs, segs) {
			return r, true
		}
	}
	return Rule{}, false
}

// sameShape reports whether two route templates are the same route: equal literals,
// and parameters (of any name) where the other has a parameter of the same kind.
func sameShape(pattern, template []string) bool {
	if len(pattern) != len(template) {
		return false
	}
	for i, p := range pattern {
		t := template[i]
		switch {
		case greedy(p) || greedy(t):
			if !greedy(p) || !greedy(t) {
				return false
			}
		case isParam(p) || isParam(t):
			if !isParam(p) || !isParam(t) {
				return false
			}
		case p != t:
			return false
		}
	}
	return true
}

func isParam(s string) bool      { return route.IsParam(s) }
func greedy(s string) bool       { return route.IsGreedy(s) }
func split(path string) []string { return route.Split(path) }

// matches reports whether request path segments match a rule's pattern segments.
func matches(pattern, segs []string) bool {
	return route.MatchSegments(pattern, segs)
}

// moreSpecific orders rules the way API Gateway picks a route (package route).
func moreSpecific(a, b Rule) bool {
	return route.MoreSpecific(route.New(a.Method, a.Path), route.New(b.Method, b.Path))
}

// Source reads the route table item; *store.Dynamo implements it.
type Source interface {
	// GetRoutes returns the stored pattern → scope map, nil when there is none.
	GetRoutes(ctx context.Context) (map[string]string, error)
}

// Sink writes the route table item; *store.Dynamo implements it.
type Sink interface {
	// PutRoutes replaces the stored pattern → scope map.
	PutRoutes(ctx context.Context, routes map[string]string) error
}

// Loader keeps the current table, reloading it every interval.
type Loader struct {
	src   Source // nil: the environment's table only
	base  map[string]string
	every time.Duration
	now   func() time.Time

	mu       sync.Mutex
	cur      *Table
	loadedAt time.Time
}

// NewLoader loads the table at cold start: base (the JSON of ROUTE_SCOPES) overlaid
// with the route table item of src (pk=CONFIG sk=ROUTES), if src is not nil.
func NewLoader(ctx context.Context, src Source, baseJSON string, every time.Duration) (*Loader, error) {
	base := map[string]string{}
	if strings.TrimSpace(baseJSON) != "" {
		if err := json.Unmarshal([]byte(baseJSON), &base); err != nil {
			return nil, fmt.Errorf("ROUTE_SCOPES: %w", err)
		}
	}
	if _, err := Parse(base); err != nil {
		return nil, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	l := &Loader{src: src, base: base, every: every, now: time.Now}
	if err := l.load(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Current returns the table, reloading it first when it is older than the interval.
// A failed reload keeps the last good table (and is retried at the next interval).
func (l *Loader) Current(ctx context.Context) (*Table, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Sub(l.loadedAt) >= l.every {
		if err := l.load(ctx); err != nil && l.cur == nil {
			return nil, err
		}
	}
	return l.cur, nil
}

// load reads the item and rebuilds the table; the caller holds mu (or owns l).
func (l *Loader) load(ctx context.Context) error {
	l.loadedAt = l.now()
	// Merged by route, not by spelling, so that the item's "get /a" replaces the
	// environment's "GET /a" instead of standing beside it.
	m := make(map[string]string, len(l.base))
	for k, v := range l.base {
		m[routeKey(k)] = v
	}
	if l.src != nil {
		item, err := l.src.GetRoutes(ctx)
		if err != nil {
			return err
		}
		if _, err := Parse(item); err != nil {
			return fmt.Errorf("route table item: %w", err)
		}
		for k, v := range item {
			m[routeKey(k)] = v
		}
	}
	t, err := Parse(m)
	if err != nil {
		return err
	}
	l.cur = t
	return nil
}

// Put writes the route table item (pattern → scope) through w, replacing the stored
// one, if it parses.
func Put(ctx context.Context, w Sink, routes map[string]string) error {
	if _, err := Parse(routes); err != nil {
		return err
	}
	return w.PutRoutes(ctx, routes)
}
