// Package jwks holds Keyward's token-signing keys: the JWK set kept in one Secrets
// Manager secret, its in-memory cache, the public set published at
// /.well-known/jwks.json, and the Secrets Manager rotation handler that renews it.
//
// Invariants:
//   - The secret's AWSCURRENT value is a JWK set of private keys, newest first: the
//     first key signs, every key in the set verifies.
//   - A rotation puts a new key first and keeps the previous one, plus any key retired
//     less than Retention ago (at least 2 h, because API Gateway caches a JWKS that
//     long), each with the time it was retired.
//   - Only public keys ever leave this package as JSON (Set.PublicJSON).
//   - A refresh of the cache is bounded: at most every TTL on its own, and at most
//     once per MinRefresh when a token names an unknown kid.
package jwks
