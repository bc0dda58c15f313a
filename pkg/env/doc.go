// Package env reads Keyward's configuration variables: typed getters whose errors
// name the variable and what it should hold, and the one answer to "is this process
// running against the local stack?" (Local, from AWS_ENDPOINT_URL_DYNAMODB).
//
// Invariants:
//   - An unset or empty variable takes its default; a set one that does not parse is
//     an error, never the default, so a typo is seen at cold start.
//   - Booleans are strict: "true", "false" or unset; anything else is an error.
//   - Numbers are non-negative whole numbers.
//   - Nothing here exits or logs: callers (the function mains) decide.
package env
