// Package openapi holds the OpenAPI 3.1 description of Keyward's HTTP API
// (openapi.yaml), the very document that is reviewed and tested against
// template.yaml. The keys API serves it as JSON from package apidoc, converted ahead.
//
// Invariants:
//   - YAML is the committed file, byte for byte; JSON is the same document, with
//     YAML's non-string keys (e.g. an unquoted 200) written as strings.
//   - Its tests hold the document to the deployment: it describes exactly the HttpApi
//     routes of template.yaml; and apidoc.JSON is JSON, byte for byte.
package openapi
