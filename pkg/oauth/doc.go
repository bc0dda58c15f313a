// Package oauth serves Keyward's OAuth 2.0 routes: the token endpoint (RFC 6749
// client_credentials and refresh_token grants), revocation (RFC 7009),
// introspection (RFC 7662), discovery (RFC 8414) and the public JWKS.
//
// Invariants:
//   - A client is an API key: client_id is the key id, client_secret the whole key,
//     checked by the shared auth.Verifier, so a revoked, expired, deleted or
//     network-restricted key is invalid_client exactly as it is a 401 elsewhere.
//   - Only an API key is a client: the token endpoint never issues for the root
//     credential (invalid_client, whether or not this function recognises it).
//   - iss, in tokens and in the discovery document, is the configured issuer
//     (ISSUER, required at init); the request's Host and domain never change it.
//   - An issued access token is bound (sv) to the secret version the client
//     authenticated with; a refreshed one to its family's, so it never outlives the
//     version its grant was made under. Introspection applies the same rule.
//   - Introspection accepts the root credential only if this function is given
//     ROOT_SECRET_ID; without it the root is an unknown credential (401).
//   - A request body is application/x-www-form-urlencoded, UTF-8, decoded strictly
//     (httpapi.ParseParams), each parameter at most once (RFC 6749 §3.2); anything
//     else is invalid_request, whose description stays within RFC 6749's characters.
//   - Handlers return a value or an error; errors are answered in one place
//     (renderError, the Router's ErrorRenderer) as RFC 6749 §5.2 bodies, never a Go
//     error string. Every token-bearing answer, and every error, carries
//     Cache-Control: no-store and Pragma: no-cache; discovery and a non-empty JWKS are public
//     and cacheable for 5 minutes.
//
// The writes each route makes (package token and package store write them):
//   - client_credentials: the client's key is read (one consistent GetItem, by
//     auth.Verifier); the new refresh-token family (RT#<family>) and its token.issued
//     event are put in one BatchWriteItem (two new items under random ids: no
//     condition), while the access token is signed.
//   - refresh_token: the key is read as above; the family is read first only when a
//     narrowing scope must be checked before the token is spent. One conditional
//     UpdateItem consumes the presented token and returns the family as rotated;
//     then the token.refreshed event is put (PutItem) while the access token is
//     signed (a failed event put is logged: the old token is already spent). A token
//     presented again revokes its family and records token.revoked in one transaction.
//   - revoke: a refresh token's family is revoked with its token.revoked event in one
//     transaction, if it is the client's; an access token's jti is recorded on its
//     key item (bounded, package token) with the event in one transaction.
//   - introspect writes nothing; it reads the key and, for a refresh token, the family.
//   - After a successful request the caller's last use is recorded (package usage: a
//     conditional UpdateItem of last_used_* and a key.used event, at most once per
//     key per interval); a failed client authentication is counted by package lockout.
//   - Usage limits (package limits, through auth.Verifier.VerifyUse): each
//     client_credentials and refresh_token grant counts one use of the client's key;
//     over its limits it is 429 rate_limited or usage_exceeded with Retry-After (none
//     for credits never refilled). Revoke and introspect verify without counting.
package oauth
