package keyward

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/keyward/keyward/infra/stack"
)

// documentedRoutes returns every "METHOD /path" of openapi.yaml.
func documentedRoutes(t *testing.T) map[string]bool {
	t.Helper()
	data, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true,
		"options": true, "head": true, "patch": true, "trace": true}
	out := map[string]bool{}
	for path, item := range doc.Paths {
		for m := range item {
			if methods[m] {
				out[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	return out
}

// TestOpenAPIMatchesTemplate checks that openapi.yaml documents exactly the HttpApi
// routes of template.yaml: every route is described, and nothing else is.
func TestOpenAPIMatchesTemplate(t *testing.T) {
	path, err := stack.FindTemplate(".")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	routes, err := tmpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	deployed := map[string]bool{}
	for _, r := range routes {
		deployed[r.Key()] = true
	}
	documented := documentedRoutes(t)
	var undocumented, undeployed []string
	for k := range deployed {
		if !documented[k] {
			undocumented = append(undocumented, k)
		}
	}
	for k := range documented {
		if !deployed[k] {
			undeployed = append(undeployed, k)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(undeployed)
	for _, k := range undocumented {
		t.Errorf("template.yaml route %s is not in openapi.yaml", k)
	}
	for _, k := range undeployed {
		t.Errorf("openapi.yaml documents %s, which template.yaml does not route", k)
	}
}

// TestOpenAPIJSON checks the JSON form keeps the document's shape.
func TestOpenAPIJSON(t *testing.T) {
	data, err := OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"openapi", "info", "paths", "components"} {
		if doc[k] == nil {
			t.Errorf("no %q in the JSON document", k)
		}
	}
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for _, s := range []string{"Key", "Event", "Problem", "OAuthError", "TokenResponse"} {
		if schemas[s] == nil {
			t.Errorf("no schema %s", s)
		}
	}
}
