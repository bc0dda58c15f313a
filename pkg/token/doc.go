// Package token issues and verifies Keyward's credentials derived from an API key:
// signed access tokens (JWTs) and opaque, rotating refresh tokens.
//
// Invariants:
//   - An access token is a JWT signed with the first key of the jwks set (RS256 by
//     default) through go-jose; its signature is never built or checked by hand. Its
//     sub and client_id are the key id; scope is space-separated. Only the payload
//     go-jose verified is decoded, with go-json, then converted to jwt.Claims as
//     go-jose's own decoders convert it (the same dates, range checks and audience),
//     in a fraction of their time; the claims are checked by go-jose. go-json matches
//     names regardless of case and takes the last of duplicates: the signer writes
//     only fixed claim names, so no client can choose one.
//   - iss is the deployment's configured issuer, on the Signer and the Verifier alike,
//     never derived from a request. Every verification checks it: a token signed by
//     this deployment's keys for another issuer is refused. A Verifier without an
//     Issuer refuses every token with an error (misconfiguration fails closed).
//   - sv is the key's secret version the token was issued under (the family's for a
//     refreshed token). A token lives only while that version is live on its key
//     (store.Key.SecretLive): decided on the key read that checks revocation, with no
//     I/O of its own. A token without sv (issued before the claim) is Malformed.
//   - A verified access token is a result, an unverifiable one is a Reason: only
//     infrastructure failures are errors. A token whose jti was revoked, or whose iat
//     is at or before its key's tokens_not_before, is refused
//     (store.Key.TokenRevoked, on the key read that checks the key anyway).
//   - Revoked-token memory is bounded (RevokeAccess): the key item lists at most
//     store.MaxRevokedJTIs revoked jtis, pruned of expired ones on every write; a
//     revocation that would list more sets tokens_not_before to the newest iat ever
//     listed and empties the list, so no revoked token is forgotten before it expires
//     (the key's other tokens issued by then are refused too). Every such write is
//     conditional and re-planned on the item as it is when it loses a race: a
//     revocation is reported done only once written, never lost.
//   - Refresh tokens are stored only as a SHA-256 hash (they carry 256 random bits).
//     A family (one grant's chain of refresh tokens) is one item: rotating it is one
//     conditional write on the current hash, so two uses of one token cannot both
//     succeed, and presenting a hash the family already used revokes the family.
//   - A family is bound to the key's secret version it was issued under: it lives
//     only while that secret is the key's current one or a previous one in its grace.
//   - Package store does every read and write (store.RefreshFamily and its writers,
//     store.Dynamo.ReviseRevokedTokens); this package decides: the revocation plan,
//     reuse versus an invalid grant, and when a family's spent hashes are trimmed.
package token
