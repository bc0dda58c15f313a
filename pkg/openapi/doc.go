// Package openapi holds the OpenAPI 3.1 description of Keyward's HTTP API
// (openapi.yaml), embedded so that the binaries serve the very document that is
// reviewed and tested against template.yaml.
//
// Invariants:
//   - YAML is the committed file, byte for byte; JSON is the same document, with
//     YAML's non-string keys (e.g. an unquoted 200) written as strings.
//   - Its tests hold the document to the deployment: it describes exactly the HttpApi
//     routes of template.yaml.
package openapi
