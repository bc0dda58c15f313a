// Package service reads a function's configuration from its environment and builds
// the dependencies every Keyward function shares: the AWS clients, the store, the
// cached secrets and the verifier. Mains call Load once at cold start.
//
// Invariant: configuration errors are returned, never fatal here; only main exits.
package service
