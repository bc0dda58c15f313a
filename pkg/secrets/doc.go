// Package secrets reads Keyward's secrets from Secrets Manager and caches them.
//
// Every read names its VersionStage (AWSCURRENT or AWSPREVIOUS) explicitly. Values
// are cached in memory for a bounded time so the hot path makes no Secrets Manager
// call; a value the cache does not know (a pepper id written by a newer instance)
// triggers at most one refresh per minRefresh.
//
// Invariant: no value read here is ever logged or put into an error.
package secrets
