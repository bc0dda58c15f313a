// Package testenv gives integration tests a private slice of the local services that
// `make test` starts (DynamoDB Local and moto, see infra/services.sh): a fresh table
// created from template.yaml's KeywardTable, and fresh pepper and root secrets, all
// removed when the test ends.
//
// Without the services (plain `go test`), New skips the test, unless
// KEYWARD_REQUIRE_SERVICES=1 says they must be there, in which case it fails. The
// table is made by stack.Template.CreateTable, as the local stack makes its own.
//
// It is also the one test kit the packages share: the events/*.json fixtures
// (Fixture, FixtureBytes, HTTPRequest), request options (Bearer, Header, Body,
// JSONBody, Query, SourceIP), Serve for a function's router, key seeding (SeedKey,
// NewSecret), a settable Clock, a call-counting DynamoDB client (CountingDB) and an
// in-memory signing-key set (StaticKeys), and DrainQueue for what an SQS queue
// received. Pure tests need none of the services.
package testenv
