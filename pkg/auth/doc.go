// Package auth verifies a presented credential and says who is calling with which scopes.
//
// It is the one verification path: the management API, the token endpoint and the
// Lambda authorizer all call Verifier.Verify, so their answers cannot drift apart.
//
// Order of checks for an API key, cheapest first:
//  1. format and checksum, no I/O (a bad string never reaches DynamoDB); then a
//     (key id, source IP) pair this instance knows to be locked is refused, no I/O;
//  2. one consistent GetItem by key id; a pair locked on the key item (by any
//     instance, package lockout) is refused before the secret is compared, so a right
//     and a wrong secret get the same answer and neither counts or resets anything;
//  3. constant-time HMAC comparison against the current secret, then against the
//     previous secret while its grace lasts;
//  4. status and expiry at read time, then allowed_cidrs.
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
// never refused for the cache's lifetime.
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
