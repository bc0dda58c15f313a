package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var translated struct {
	once sync.Once
	out  []byte
	err  string
}

// translation is template.yaml as aws-sam-translator turns it into CloudFormation (as
// sam deploy does), translated once per test binary.
func translation(t *testing.T) *Template {
	t.Helper()
	if err := exec.Command("python3", "-c", "import samtranslator").Run(); err != nil {
		if os.Getenv("KEYWARD_REQUIRE_SERVICES") == "1" {
			t.Fatalf("python3 cannot import samtranslator (make test requires it): %v", err)
		}
		t.Skip("aws-sam-translator is not installed (pip install aws-sam-translator)")
	}
	tmpl := loadRepoTemplate(t)
	translated.once.Do(func() {
		cmd := exec.Command("python3", filepath.Join(filepath.Dir(tmpl.Path), "infra", "sam-translate.py"), tmpl.Path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			translated.err = err.Error() + "\n" + stderr.String()
			return
		}
		translated.out = out
	})
	if translated.err != "" {
		t.Fatalf("sam translate: %s", translated.err)
	}
	out, err := Parse(translated.out)
	if err != nil {
		t.Fatalf("parse the translation: %v", err)
	}
	return out
}

// TestAuthorizerTakesEveryCredential checks the deployed authorizer's configuration
// as API Gateway receives it (the translated OpenAPI body): a REQUEST authorizer with
// caching off and no identity source, so that API Gateway refuses nothing before the
// function runs and a credential in X-API-Key reaches it as one in Authorization does.
// A listed header would make API Gateway answer 401 to every request without it.
func TestAuthorizerTakesEveryCredential(t *testing.T) {
	tmpl := loadRepoTemplate(t)
	a, ok := tmpl.Authorizers()["KeywardAuthorizer"]
	if !ok {
		t.Fatal("template.yaml declares no KeywardAuthorizer")
	}
	if len(a.IdentitySource) != 0 {
		t.Errorf("KeywardAuthorizer's identity sources %v: a request without one of them never reaches the function", a.IdentitySource)
	}

	api, err := translation(t).Resource("HttpApi")
	if err != nil {
		t.Fatal(err)
	}
	body := mapping(api.Properties["Body"])
	scheme := mapping(mapping(mapping(body["components"])["securitySchemes"])["KeywardAuthorizer"])
	auth := mapping(scheme["x-amazon-apigateway-authorizer"])
	if len(auth) == 0 {
		t.Fatalf("the translated HttpApi has no KeywardAuthorizer security scheme: %v", mapping(body["components"]))
	}
	if str(auth["type"]) != "request" {
		t.Errorf("authorizer type %q, want request", str(auth["type"]))
	}
	if src, ok := auth["identitySource"]; ok && len(list(src)) != 0 || ok && str(src) != "" {
		t.Errorf("identitySource %v, want none", src)
	}
	if ttl, ok := auth["authorizerResultTtlInSeconds"]; !ok || str(ttl) != "0" {
		t.Errorf("authorizerResultTtlInSeconds %v (set: %v), want 0: with caching on, API Gateway requires identity sources", ttl, ok)
	}
	if str(auth["authorizerPayloadFormatVersion"]) != "2.0" || auth["enableSimpleResponses"] != true {
		t.Errorf("payload %v, simple responses %v; want 2.0 and true", auth["authorizerPayloadFormatVersion"], auth["enableSimpleResponses"])
	}

	// Every route that names the authorizer in the template is protected by it in the
	// translation, and no other route is.
	routes, err := tmpl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, r := range routes {
		want[r.Key()] = r.Authorizer == "KeywardAuthorizer"
	}
	for path, ops := range mapping(body["paths"]) {
		for method, op := range mapping(ops) {
			key := strings.ToUpper(method) + " " + path
			got := false
			for _, s := range list(mapping(op)["security"]) {
				_, named := mapping(s)["KeywardAuthorizer"]
				got = got || named
			}
			if got != want[key] {
				t.Errorf("%s: behind the authorizer %v in the translation, %v in the template", key, got, want[key])
			}
		}
	}
}
