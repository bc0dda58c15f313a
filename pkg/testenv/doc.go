// Package testenv gives integration tests a private slice of the local services that
// `make test` starts (DynamoDB Local and moto, see infra/services.sh): a fresh table
// created from template.yaml's KeywardTable, and fresh pepper and root secrets, all
// removed when the test ends.
//
// Without the services (plain `go test`), New skips the test, unless
// KEYWARD_REQUIRE_SERVICES=1 says they must be there, in which case it fails.
package testenv
