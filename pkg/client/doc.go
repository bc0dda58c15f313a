// Package client is a thin, hand-written Go client for Keyward's HTTP API: the
// management routes, whoami and the OAuth 2.0 routes, with typed requests and answers.
// Every operation of openapi.yaml has a method (a test holds them to each other),
// a key's usage and an owner's limits included.
//
// Invariants:
//   - Every failed call returns an *Error carrying the HTTP status and the API's stable
//     code (a problem+json `code`, or an OAuth `error`); transport failures are wrapped
//     as they come.
//   - Every call runs under a deadline: the caller's context, or Options.Timeout when
//     the context has none.
//   - Retries, with capped exponential backoff and jitter, happen only on 429, 5xx and
//     transport errors, and only for calls that may be repeated: reads, patch, finish
//     rotation, revoke, delete, batch delete, setting an owner's limits, the client_credentials grant,
//     introspection and token revocation. A 429 is retried after its Retry-After, and
//     not at all when that is longer than Options.MaxRetryAfter or than the context
//     allows. A call whose repetition would do something new (create a key, rotate
//     it, redeem a refresh token, which rotates and whose reuse revokes its family)
//     is sent exactly once, whatever the answer; its error carries RetryAfter so the
//     caller can choose.
//   - A retried call whose first attempt did land may answer as a repeated call
//     would (a 404 after a delete, a 409 after finishing a rotation).
//   - TokenSource caches an access token until shortly before it expires (a fifth of
//     its lifetime, at most 30 s, early) and fetches one at a time.
//   - The client never logs, and never puts a credential anywhere but the
//     Authorization header or the OAuth form body.
//   - It imports nothing heavy (no AWS SDK, no JOSE library), so that a CLI built on it
//     starts fast.
package client
