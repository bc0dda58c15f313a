// Package apikey holds the API key format and the hashing of key secrets.
//
// A key is one URL-safe string: prefix, key id, secret, checksum, with no separators
// after the prefix, so a double click selects the whole key:
//
//	kw_live_ 2x7m4q6w3k5n8p2r  <43 chars: 256 random bits, base64url>  <7 chars: CRC-32, base32>
//	prefix   id (16, base32)   secret                                   checksum
//
// Invariants:
//   - Parse checks the checksum with no I/O, so a mistyped or invented string never
//     costs a database read.
//   - The id is recoverable from the string, so verification is one GetItem by id.
//   - The secret is never stored: only HMAC-SHA256(pepper, secret), and the pepper
//     lives in Secrets Manager. Comparison is constant time (hmac.Equal).
package apikey
