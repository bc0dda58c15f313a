// Package routeconfig holds the deployment's route → scope table: which permission a
// request needs, by HTTP method and path pattern.
//
// The table is configuration, not code. It is read from the ROUTE_SCOPES environment
// variable (JSON) and from the table item pk=CONFIG sk=ROUTES (attribute "routes", a
// map of pattern → scope; the item wins per route), at cold start and again every
// reload interval (30 s by default), so a change reaches every warm instance within it.
//
// Format: {"GET /v1/whoami": "", "GET /orders/{id}": "orders:read",
// "ANY /admin/{proxy+}": "admin"}. A method is an HTTP method or ANY; {name} matches one
// path segment, {name+} the rest of the path. The scope "" means any valid credential.
//
// Invariants:
//   - A request that matches no pattern needs a scope nobody has: it is denied.
//   - The most specific pattern wins (literal segments before {name}, {name} before
//     {name+}, a method before ANY), as API Gateway selects routes.
//   - A route has one pattern: two spellings of one route ("GET /a", "get /a/"), or an
//     empty path segment, are refused, and a table's first bad pattern in sorted
//     order is the one named, so nothing depends on map order.
//   - A failed reload keeps the last good table; no table at all is an error, and the
//     authorizer then fails closed.
package routeconfig
