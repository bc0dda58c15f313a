package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML is openapi.yaml as committed.
//
//go:embed openapi.yaml
var YAML []byte

// JSON returns openapi.yaml converted to JSON.
func JSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(YAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	v, err := jsonValue(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(v)
}

// Routes returns every operation of the document as "METHOD /path" (the method in
// upper case, the path as the document writes it, as template.yaml keys routes).
func Routes() (map[string]bool, error) {
	data, err := JSON()
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	out := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			if operations[m] {
				out[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	return out, nil
}

// operations are the fields of an OpenAPI path item that are operations (the others,
// such as parameters or summary, describe the path).
var operations = map[string]bool{"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true}

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
