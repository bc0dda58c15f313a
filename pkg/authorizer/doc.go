// Package authorizer is Keyward's Lambda authorizer for anyone's API Gateway API: one
// handler for REST REQUEST, REST TOKEN and HTTP API payload 2.0 events, told apart from
// the event itself.
//
// Every credential goes through auth.Verifier, the path the management API uses: for
// an API key, checksum first (no I/O), one consistent GetItem, constant-time HMAC
// against the current and (in grace) previous secret, status and expiry at read time,
// allowed_cidrs against the event's source IP. Access tokens are checked by signature;
// the key behind a token is read through KeyCache, at most 5 s old, so a token of a
// revoked or deleted key is refused within 5 s with no read per request otherwise. The
// same cached read decides whether the token's secret version (sv) is still live, so
// a token of a secret rotated away (grace 0, finish, end of grace) is refused within
// the same 5 s; a token of a secret newer than the cached key refreshes that entry at
// once. A token's iss must be the configured issuer.
//
// The root credential is refused as an invalid credential unless
// AUTHORIZER_ACCEPTS_ROOT=true ("true" or "false" only; anything else stops the cold
// start); off, the root checker is not even wired in, so no ROOT_SECRET_ID is needed.
//
// Answers:
//   - valid credential, route permitted: REST Allow policy; HTTP isAuthorized true.
//   - invalid credential (missing, malformed, unknown, wrong secret, expired, revoked,
//     the root credential unless accepted):
//     REST the error "Unauthorized" (401); HTTP isAuthorized false (403).
//   - valid credential without the route's scope, outside allowed_cidrs, an
//     unconfigured route, or a locked-out (key id, IP) pair: REST Deny (403); HTTP false
//     (403). The context's "error" says which (too_many_attempts for a lockout; a REST
//     Gateway Response can map it). API Gateway cannot answer 429 from a Lambda
//     authorizer; the management API can.
//   - valid credential over its limits (package limits: the key's or its owner's
//     rate limit, the key's credits): REST Deny (403); HTTP false (403), with context
//     "error" rate_limited or usage_exceeded. Each request is one use
//     (auth.Verifier.VerifyUse with the route's scope): the scope is checked before
//     the use is counted, and an unconfigured route is verified without counting
//     (Use.Free), so a refused request spends nothing. An access token's use counts
//     on its key too.
//   - infrastructure failure: the error ErrUnavailable (500), never an Allow, also when
//     a limited key's use cannot be counted. An error is not cached by API Gateway, a
//     Deny would be. So is an event that does not
//     decode: it is refused before the fast decoder unless it is one JSON object, and
//     a decoder panic is an error, never a crash.
//   - context: key_id, owner, scopes (space-separated), auth (api_key, access_token,
//     root), all strings.
//
// Source IP per event kind: REST REQUEST requestContext.identity.sourceIp; HTTP API
// requestContext.http.sourceIp; REST TOKEN events carry none, so a key with
// allowed_cidrs is refused there (fail closed) and failures are not counted for
// lockout (a shared "no address" pair would let anyone lock the real client out).
//
// Caching (API Gateway's authorizer result cache) and identity sources:
//   - The cache key is the identity sources' values. A decision depends on the
//     credential, the route and the source IP, so all three must be in it, or a
//     cached Allow for one route or address is reused on another (the classic trap).
//   - HTTP API: $request.header.Authorization, $context.routeKey,
//     $context.httpMethod (an ANY route's routeKey says ANY), $context.identity.sourceIp. To accept X-API-Key instead, use
//     $request.header.X-API-Key (an identity source is required, so one header per
//     authorizer; with caching off, leave identity sources out to accept either).
//   - REST REQUEST: method.request.header.Authorization, context.httpMethod,
//     context.resourcePath, context.identity.sourceIp. The policy allows or denies the
//     called methodArn and its route pattern only (never other routes).
//   - REST TOKEN: the token is the only cache key, so leave caching off (TTL 0) unless
//     every route of the API needs the same scope.
//   - TTL: 0 (the template's choice) keeps every guarantee exact: revocation, lockout,
//     last-used, usage limits. A TTL of up to 5 s adds at most that much to
//     revocation; requests answered from API Gateway's cache never reach the
//     authorizer, so they count no use and a limited key's cached Allow (or Deny)
//     lasts the TTL.
//
// The route → scope table is deployment configuration: package routeconfig.
// Last use is recorded by package usage; failed attempts are counted by package
// lockout through auth.Verifier, so the management and OAuth routes apply the same rule.
package authorizer
