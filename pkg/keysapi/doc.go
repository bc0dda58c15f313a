// Package keysapi serves the key-management routes of the contract (docs/api.md): create, list, get,
// patch, rotate, finish rotation, revoke, delete, batch delete, the event logs, a key's
// usage per day, and the rate limit an owner's keys share (/v1/owners/{owner}/limits:
// the caller's keys:read or keys:write must cover the owner, else 403
// owner_not_allowed; each change is written with its owner.limits_updated event).
//
// Every route authenticates the caller with auth.Verifier (the same code as the
// authorizer) and checks its scope. A handler parses and validates its request, asks
// the delegation rule (package authz), and answers an httpapi.Response or an error:
// an *httpapi.Error for what the caller did wrong, rendered once, as problem+json,
// by httpapi.Router.
//
// The key lifecycle itself (create, patch, rotate, finish, revoke) is the store's:
// pure transitions on store.Key, applied by store.Apply, the one optimistic loop
// (read the key, decide, write with `version = read version`, and on a lost race read
// again, bounded: 409 concurrent_change). keyError maps the store's refusals to their
// answers: a change to a revoked key is refused with 409 and writes nothing, and so
// is rotating an expired key. Rotation keeps at most two valid secrets: rotating
// while a previous secret is still in grace drops that oldest secret at once, and the
// current one becomes the previous.
package keysapi
