// Package route matches a request's method and path against route patterns the way
// API Gateway does, for the two places that must agree: the local gateway (which
// route serves a request) and the authorizer's route table (which scope it needs).
//
// A pattern is `METHOD /path`, METHOD being an HTTP method or ANY; a path segment is a
// literal, `{name}` (one non-empty segment) or, last, `{name+}` (one or more).
//
// Precedence (API Gateway's "most specific match"): segment by segment, a literal
// beats {name}, which beats {name+}; then the longer path; then a method beats ANY.
// So for GET /a/b/c, /a/b/{y} beats /a/{x}/c, and GET /pets/dog/1 beats
// GET /pets/dog/{id}, which beats GET /pets/{proxy+}, which beats ANY /{proxy+}.
//
// Invariant: Best is the only way either caller picks a route. Pattern.Match and
// MatchSegments are one matcher: MatchSegments only binds no parameters (and so
// allocates nothing, for the authorizer's table on every request).
package route
