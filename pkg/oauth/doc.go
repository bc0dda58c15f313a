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
//   - Errors are RFC 6749 §5.2 bodies from one place (oauthError), never a Go error
//     string; every answer carries Cache-Control: no-store and Pragma: no-cache.
//   - Issuance writes the refresh-token family and its token.issued event as two
//     conditional puts side by side, and signs the access token meanwhile: one read
//     and one write of wall time. A refresh reads the key and the family side by
//     side, then rotates the family and records token.refreshed in one transaction.
package oauth
