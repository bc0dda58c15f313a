// Package service reads a function's configuration from its environment and builds
// the dependencies every Keyward function shares: the AWS clients, the store, the
// cached secrets and the verifier. Mains call Load once at cold start.
//
// Invariants:
//   - Configuration errors are returned, never fatal here; only main exits.
//   - The root credential is recognised only by a function given ROOT_SECRET_ID
//     (template.yaml: the management API, and the authorizer with
//     AuthorizerAcceptsRoot=true). Without it the Verifier has no root checker and
//     never reads the root secret.
//   - The issuer is ISSUER, else the SSM parameter ISSUER_PARAMETER, read once by Load;
//     a parameter that cannot be read, or is not an http(s) URL without a trailing
//     slash, fails the cold start. Config never takes it from a request.
package service
