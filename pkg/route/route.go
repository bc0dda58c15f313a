package route

import (
	"net/url"
	"sort"
	"strings"
)

// Any is the method of a route that takes every method.
const Any = "ANY"

// Pattern is one parsed route pattern.
type Pattern struct {
	Method string
	Path   string
	segs   []string
}

// New returns the pattern of method and path (not validated: see Valid).
func New(method, path string) Pattern {
	return Pattern{Method: method, Path: path, segs: Split(path)}
}

// Segments returns the pattern's path segments.
func (p Pattern) Segments() []string { return p.segs }

// Split returns the segments of a path, without the leading and trailing slash.
func Split(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// IsParam reports whether a segment is {name} or {name+}.
func IsParam(s string) bool { return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' }

// IsGreedy reports whether a segment is {name+}.
func IsGreedy(s string) bool { return IsParam(s) && strings.HasSuffix(s, "+}") }

// Match reports whether a request's method and path segments match p, with the path
// parameters it binds (values unescaped; a greedy one is the rest of the path).
func (p Pattern) Match(method string, segs []string) (map[string]string, bool) {
	if p.Method != Any && !strings.EqualFold(p.Method, method) {
		return nil, false
	}
	params := map[string]string{}
	if !bind(p.segs, segs, params) {
		return nil, false
	}
	return params, true
}

// MatchSegments reports whether request path segments match pattern segments, as
// Match does, without binding the parameters (and with no allocation).
func MatchSegments(pattern, segs []string) bool { return bind(pattern, segs, nil) }

// bind matches segs against pattern, recording the parameters in params unless it is
// nil.
func bind(pattern, segs []string, params map[string]string) bool {
	for i, s := range pattern {
		if IsGreedy(s) {
			if i >= len(segs) {
				return false
			}
			if params != nil {
				params[s[1:len(s)-2]] = strings.Join(segs[i:], "/")
			}
			return true
		}
		if i >= len(segs) || segs[i] == "" {
			return false
		}
		if IsParam(s) {
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return false
			}
			if params != nil {
				params[s[1:len(s)-1]] = v
			}
			continue
		}
		if s != segs[i] {
			return false
		}
	}
	return len(pattern) == len(segs)
}

// MoreSpecific reports whether a takes precedence over b (see the package doc).
func MoreSpecific(a, b Pattern) bool {
	rank := func(s string) int {
		switch {
		case IsGreedy(s):
			return 2
		case IsParam(s):
			return 1
		}
		return 0
	}
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if ra, rb := rank(a.segs[i]), rank(b.segs[i]); ra != rb {
			return ra < rb
		}
	}
	if len(a.segs) != len(b.segs) {
		return len(a.segs) > len(b.segs)
	}
	if (a.Method == Any) != (b.Method == Any) {
		return b.Method == Any
	}
	return a.Method+" "+a.Path < b.Method+" "+b.Path
}

// Sort orders items most specific first, by the pattern of each.
func Sort[T any](items []T, pattern func(T) Pattern) {
	sort.SliceStable(items, func(i, j int) bool { return MoreSpecific(pattern(items[i]), pattern(items[j])) })
}

// Best returns the index of the most specific of items (sorted by Sort) that matches
// method and path, with its parameters; -1 if none does.
func Best[T any](items []T, pattern func(T) Pattern, method, path string) (int, map[string]string) {
	segs := Split(path)
	for i, it := range items {
		if params, ok := pattern(it).Match(method, segs); ok {
			return i, params
		}
	}
	return -1, nil
}
