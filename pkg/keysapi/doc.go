// Package keysapi serves the key-management routes of the contract (docs/api.md): create, list, get,
// patch, rotate, finish rotation, revoke, delete, batch delete, and the event logs.
//
// Every route authenticates the caller with auth.Verifier (the same code as the
// authorizer) and checks its scope. Every change is optimistic: read the key, decide,
// write with `version = read version`, and on a lost race read again (bounded). A
// change to a revoked key is refused with 409 and writes nothing.
//
// Rotation keeps at most two valid secrets: rotating while a previous secret is still
// in grace drops that oldest secret at once, and the current one becomes the previous.
package keysapi
