// Package authz is the one permission rule of the management API: given a caller, an
// action and the target key before and after the change, Decide answers Allowed or
// the code of the refusal. It is the only place such decisions are made, and it is
// pure (no I/O), so it costs well under a microsecond and is tested exhaustively.
//
// The rule, as the contract states it:
//
//	action                    needs                                 and
//	read a key / list         keys:read covering the key's owner    otherwise 404 / left out
//	read events / audit log   audit:read covering the key's owner   otherwise 404 / left out
//	create, patch, rotate,    keys:write covering the owner before  owner_not_allowed
//	finish, delete            and after; the caller's scopes        scope_escalation
//	                          covering the key's before and after
//	revoke                    the write rule, or keys:revoke        (incident response)
//	                          covering the owner
//	introspect a token        tokens:introspect covering the        otherwise inactive
//	                          owner of the token's key
//	verify a key              keys:verify covering the key's        otherwise NOT_FOUND
//	                          owner
//	create, patch, rotate     expires_at no later than the          limit_escalation
//	(key callers only)        caller's key's; allowed_cidrs inside
//	                          the caller's key's (a patch: the
//	                          changed ones, or all when it adds
//	                          scopes; create, rotate: the key's)
//
// Invariants:
//   - An allowed change never widens scopes, owner range, networks or expiry beyond
//     the caller's (the property test in this package).
//   - A key the caller may not see is Hidden, whatever the action: a 404 that does not
//     reveal whether the key exists.
//   - Checks run in a fixed order, so the same request always gets the same answer.
//   - The answer is the same for an API key, an access token of it (with the token's
//     narrower scopes) and the root credential (every scope, no limits).
package authz
