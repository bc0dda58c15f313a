// Package scope parses permission scopes and decides whether one set covers another.
//
// A scope is `<action>` or `<action>@<resource>`. Actions match [a-z0-9][a-z0-9:._-]*;
// a resource is printable, without spaces, and may end with `*` (prefix match).
// `*` alone is every permission.
//
// Invariant: Covers is the only rule for "may this caller do or grant that". A caller
// can grant a scope only when its own set covers it, so no key can mint a wider one.
package scope
