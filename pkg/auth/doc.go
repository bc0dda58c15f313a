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
// An access token is checked by signature, then against the key behind it (one read,
// cached by the authorizer): the key's status, expiry and networks, and whether the
// token was revoked (its jti listed, or its iat at or before the key's watermark).
//
// A TooManyAttempts Decision carries RetryAfter, the lock's remaining time, for the
// Retry-After header.
//
// Results vs errors: an unknown, expired, revoked or out-of-network credential is a
// Decision with a Reason, not an error. An error means the infrastructure failed, and
// every caller must then refuse (fail closed).
package auth
