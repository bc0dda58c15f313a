// Package auth verifies a presented credential and says who is calling with which scopes.
//
// It is the one verification path: the management API, the token endpoint, the
// Lambda authorizer and POST /v1/keys/verify all call Verifier.VerifyUse (Verify is a
// use of cost 1 with no scope), so their answers cannot drift apart. A use also
// counts against the key's limits (rate limit, credits) and its owner's shared rate
// limit, when they have any (package limits; store.Dynamo.UseKey and UseOwner).
//
// Order of checks for an API key, cheapest first:
//  1. format and checksum, no I/O (a bad string never reaches DynamoDB); then a
//     (key id, source IP) pair this instance knows to be locked is refused, no I/O;
//  2. one consistent GetItem by key id; a pair locked on the key item (by any
//     instance, package lockout) is refused before the secret is compared, so a right
//     and a wrong secret get the same answer and neither counts or resets anything;
//  3. constant-time HMAC comparison against the current secret, then against the
//     previous secret while its grace lasts; a wrong secret and an unknown key id get
//     the same answer (Unknown) for the same HMAC work (a dummy hash for an unknown id);
//  4. status and expiry at read time, then allowed_cidrs, then the scope the use
//     requires (Use.Scope: InsufficientScope) and the owners the caller may see
//     (Use.Owners: any other owner's key is Unknown);
//  5. only then, for a key with limits, one conditional UpdateItem (ReturnValues
//     ALL_NEW) that counts the use on condition that the item still holds the
//     presented secret's HMAC and is not revoked, and returns the key: checks 2 to 4
//     are made again on what it returns. A key without limits stops at 4: one
//     GetItem, no write;
//  6. the owner's shared rate limit, only for an owner that has one (one UpdateItem).
//
// A limited key this instance has used before skips the GetItem: the key as the last
// use returned it (kept per instance, at most MaxHints keys) answers checks 3 and 4,
// and step 5 is the use's one round trip. Whenever that view would refuse (a wrong
// secret, a rotated secret, expiry, networks, scope, a lock), the key is read instead
// and the read decides, so a stale view never refuses. An owner's limit state is
// kept per instance too: an owner seen without a limit is read again after
// OwnerLimitTTL (10 s), so a new owner limit is enforced within that time; an owner
// with one costs one UpdateItem per use (and a first read per instance).
//
// A refused use spends nothing where it can be known in advance: every refusal of
// steps 1 to 4 comes before any write, and the update of step 5 writes nothing unless
// the key's credits and window have room for the whole cost. What can remain: a use
// counted on the key and then refused because its owner's window is full (when this
// instance's view of the owner showed room; when it showed none, the owner is asked
// first), or an owner's window counted and then the key refused; and a use counted
// and then refused because the key changed after this instance's last view (its
// expiry, networks or scopes patched, or a lock set by another instance) — the
// update's answer is checked again, and it is the answer that counts.
//
// Reasons of limits: RateLimited (the key's or owner's window is full; RetryAfter to
// its end) and UsageExceeded (credits do not cover the cost; RetryAfter to the next
// refill, zero without one). Decision.Limits shows what a key's use left of its
// credits and window. A Verifier without a LimitCounter fails a limited key closed
// and reads no owner limits; every function's Verifier has one (package service).
//
// Use.Free verifies without a use: every check is made, nothing is counted on the key
// or its owner, and nothing is reported (the authorizer on an unconfigured route,
// token revocation and introspection).
//
// Every decided use of an existing key is reported to Verifier.Uses, once, with its
// code (limits.CodeValid, or EXPIRED, REVOKED, INSUFFICIENT_SCOPE, IP_NOT_ALLOWED,
// RATE_LIMITED, USAGE_EXCEEDED, LOCKED). Not reported: unknown ids and wrong secrets
// (not a use of the key), the root credential, malformed strings, and a pair refused
// by this instance's in-memory lock (no read tells that the key exists).
//
// An access token: signature, issuer, audience and times (package token), then the key
// behind it (one read, cached up to 5 s in the authorizer): the key's status, expiry
// and networks, the token not revoked on it (its jti listed, or its iat at or before the key's
// watermark), and the token's secret version
// (sv) still live on it, the current one or the previous one in its grace. So
// rotation with grace 0, finishing a rotation and the end of grace end the old
// version's tokens, with no read beyond the one that checks revocation. A token newer
// than a cached key (sv above its current version: a rotation since the read) makes
// that one request read the key afresh (KeyRefresher), so a new secret's tokens are
// never refused for the cache's lifetime. A token of a key with limits counts one use
// of the key (one UpdateItem, without the secret's HMAC: the token's signature proves
// it), from this instance's last view of the key, and the update's answer is checked
// again; a limit set on the key is seen by a token within the key cache's lifetime.
//
// The root credential is recognised only where the Verifier has a Root checker; a
// function configured without ROOT_SECRET_ID refuses it as Malformed.
//
// A TooManyAttempts Decision carries RetryAfter, the lock's remaining time, for the
// Retry-After header.
//
// Results vs errors: an unknown, expired, revoked or out-of-network credential is a
// Decision with a Reason, not an error. An error means the infrastructure failed, and
// every caller must then refuse (fail closed).
package auth
