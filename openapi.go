// Package keyward holds what belongs to the repository as a whole: the OpenAPI 3.1
// description of the HTTP API (openapi.yaml), embedded so that the binaries serve the
// very document that is reviewed and tested against template.yaml.
//
// Its tests hold the repository together: openapi.yaml routes exactly what
// template.yaml deploys; docs/ (the API reference in prose) has a section for exactly
// the routes of openapi.yaml; every relative link of docs/ and README.md names a file
// inside the repository; plain `make` prints the help, which lists every target; and
// the prerequisite check names every missing tool at once.
package keyward

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// OpenAPIYAML is openapi.yaml as committed.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// OpenAPIJSON returns openapi.yaml converted to JSON.
func OpenAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(OpenAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	v, err := jsonValue(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(v)
}

// jsonValue turns what yaml.v3 decodes into values encoding/json accepts: JSON object
// keys must be strings, and YAML allows others (e.g. an unquoted 200).
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		for i, e := range v {
			c, err := jsonValue(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	default:
		return v, nil
	}
}
