package apidoc

import _ "embed"

// JSON is pkg/openapi's openapi.yaml as JSON.
//
//go:embed openapi.json
var JSON []byte
