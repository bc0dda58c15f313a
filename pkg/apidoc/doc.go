// Package apidoc is the API's description as the keys API serves it
// (GET /v1/openapi.json): openapi.json, generated from pkg/openapi's openapi.yaml.
//
// Invariant: JSON is openapi.yaml as JSON, byte for byte as pkg/openapi converts it;
// pkg/openapi's tests fail otherwise (and rewrite it with -update). It is embedded
// already converted so that the keys function carries no YAML parser: the parser's
// init and size would be paid on every cold start.
package apidoc
