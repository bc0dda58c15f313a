// Package service is the wiring every Keyward function shares: from an explicit
// Config (FromEnv reads it through package env) it builds the AWS clients (package
// awsclient's configuration), the store, the cached secrets and the verifier. Mains
// call Load once at cold start, then Prefetch to read the secrets in parallel with
// the rest of init, and hand the parts each API package needs to its constructor; no
// API package imports this one.
//
// Invariants:
//   - Configuration errors are returned, never fatal here; only main exits.
//   - Wherever tokens are verified (SIGNING_KEYS_SECRET_ID set), the issuer is
//     required and is the only issuer: the Verifier checks it on every token. It is
//     ISSUER, else the SSM parameter ISSUER_PARAMETER, read once by Load; a parameter
//     that cannot be read, or is not an http(s) URL without a trailing slash, fails
//     the cold start. Config never takes it from a request.
//   - ROOT_SECRET_ID is optional: without it Deps.Root and the Verifier's Root are nil
//     and the root credential is not recognised (no read access to it is needed). A
//     function that must accept it (the management API) checks Deps.Root itself.
//   - Build reads no environment: everything it needs is in Config (Config.Local
//     is the one "local stack" flag, env.Local()).
//   - Deps.Meter (package meter) is built on every Build, with the EventBridge bus
//     EVENT_BUS_NAME when set (on the local stack, its first put creates it). Deps.Shutdown
//     flushes its counts within 400 ms: the functions where keys are presented call
//     it on SIGTERM, which Lambda sends them because lambda.WithEnableSIGTERM
//     registers an internal extension.
//   - Each key the Verifier reads for a credential is noted for the request's log
//     line (httpapi.NoteKeyID): a key id is logged once its API key's checksum held or
//     its access token's signature verified, never from a string nothing checked.
package service
