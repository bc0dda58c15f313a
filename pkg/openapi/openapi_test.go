package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/apidoc"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "write pkg/apidoc/openapi.json from openapi.yaml")

// TestServedDocument: the document the keys API serves (pkg/apidoc) is openapi.yaml
// as JSON. After a change to openapi.yaml:
// go test ./pkg/openapi -run TestServedDocument -update
func TestServedDocument(t *testing.T) {
	want, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(filepath.Join("..", "apidoc", "openapi.json"), want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(apidoc.JSON, want) {
		t.Error("pkg/apidoc/openapi.json is not openapi.yaml as JSON: run go test ./pkg/openapi -run TestServedDocument -update")
	}
}

// TestDocument checks the document is OpenAPI 3.1 and describes operations.
func TestDocument(t *testing.T) {
	data, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	routes, err := Routes()
	if err != nil {
		t.Fatal(err)
	}
	if !routes["POST /v1/keys"] || routes["PARAMETERS /v1/keys/{id}"] {
		t.Errorf("Routes() = %v: want POST /v1/keys and no non-operation fields", routes)
	}
}

// TestJSONKeysAreStrings: YAML keys that are not strings (an unquoted 200, true)
// become JSON object keys, at any depth.
func TestJSONKeysAreStrings(t *testing.T) {
	var doc any
	if err := yaml.Unmarshal([]byte("responses:\n  200: {a: [ {true: x} ]}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	v, err := jsonValue(doc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"responses":{"200":{"a":[{"true":"x"}]}}}`; string(out) != want {
		t.Errorf("JSON = %s, want %s", out, want)
	}
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
	documented, err := Routes()
	if err != nil {
		t.Fatal(err)
	}
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
	data, err := JSON()
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
