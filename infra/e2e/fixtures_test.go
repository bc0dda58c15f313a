package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/pkg/testenv"
)

// fixtureFunction returns the LogicalId that the fixture named name (with its
// routeKey, if any) belongs to, following the rule in doc.go; "" if none.
func fixtureFunction(name, routeKey string, routes map[string]string, folders map[string]string) string {
	switch {
	case strings.HasPrefix(name, "authorizer-"):
		return "AuthorizerFunction"
	case name == "scheduled.json":
		return "SweeperFunction"
	case routeKey != "":
		return routes[routeKey]
	}
	best, id := "", ""
	for logicalID, folder := range folders {
		if strings.HasPrefix(name, folder) && len(folder) > len(best) {
			best, id = folder, logicalID
		}
	}
	return id
}

// TestFixturesAgainstBootstraps invokes every events/*.json fixture against the host
// build of its function's bootstrap, through the local Lambda Runtime API, and checks
// that the function answers with a response of the kind its event calls for.
func TestFixturesAgainstBootstraps(t *testing.T) {
	needServices(t)
	p, root := project(t)
	folders := functionFolders(t, p.Root)
	routes := map[string]string{}
	for _, f := range p.Functions {
		for _, r := range f.Routes {
			routes[r.Key()] = f.LogicalID
		}
	}
	paths, err := filepath.Glob(filepath.Join(p.Root, "events", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in events/: %v", err)
	}
	sort.Strings(paths)

	type running struct {
		fn  *gateway.Function
		out *testenv.Buffer
		err error
	}
	started := map[string]*running{}
	t.Cleanup(func() {
		for _, r := range started {
			if r.fn != nil {
				r.fn.Close()
			}
		}
	})
	get := func(id string) *running {
		if r, ok := started[id]; ok {
			return r
		}
		r := &running{out: &testenv.Buffer{}}
		started[id] = r
		fn, ok := p.Function(id)
		if !ok {
			r.err = errors.New("not in template.yaml")
			return r
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		bin, err := p.Build(ctx, id, filepath.Join(p.Dir, "bin", id), runtime.GOOS, runtime.GOARCH)
		if err != nil {
			r.err = err
			return r
		}
		env := localstack.AWSEnv()
		// Tokens' iss is configured, never derived: the local stack's listen address.
		env["ISSUER"] = "http://127.0.0.1:3000"
		r.fn = p.NewFunction(fn, bin, env, nil)
		r.fn.Stderr = r.out
		r.fn.Log = nil
		return r
	}

	for _, path := range paths {
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var probe struct {
				RouteKey string `json:"routeKey"`
			}
			if err := json.Unmarshal(data, &probe); err != nil {
				t.Fatalf("%s is not JSON: %v", name, err)
			}
			id := fixtureFunction(name, probe.RouteKey, routes, folders)
			if id == "" {
				t.Fatalf("%s: no function for it (routeKey %q): see the rule in infra/e2e/doc.go", name, probe.RouteKey)
			}
			folder := folders[id]
			if folder == "" {
				t.Skipf("%s: the Makefile has no build-%s target yet", name, id)
			}
			if _, err := os.Stat(filepath.Join(p.Root, "functions", folder)); err != nil {
				t.Skipf("%s: %s (functions/%s) does not exist yet", name, id, folder)
			}
			r := get(id)
			if r.err != nil {
				t.Fatalf("%s: %v", id, r.err)
			}
			// The fixtures' placeholders become the stack's root credential, so that the
			// functions go past authentication.
			payload := bytes.ReplaceAll(data, []byte("ROOT_CREDENTIAL"), []byte(root))
			payload = bytes.ReplaceAll(payload, []byte("API_KEY"), []byte(root))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := r.fn.Invoke(ctx, payload)
			var fe *gateway.FunctionError
			if id == "AuthorizerFunction" && errors.As(err, &fe) && fe.Message == "Unauthorized" {
				return // a REST authorizer's documented refusal (API Gateway answers 401)
			}
			if err != nil {
				t.Fatalf("%s answered an error: %v\n%s", id, err, r.out.String())
			}
			if err := checkAnswer(name, probe.RouteKey, id, out); err != nil {
				t.Errorf("%s: %v\nanswer: %s\n%s", id, err, out, r.out.String())
			}
		})
	}
}

// checkAnswer checks that out is the kind of answer the event calls for: an HTTP API
// payload 2.0 response below 500, an authorizer answer, any JSON for the sweeper, or
// the console's HTML page.
func checkAnswer(name, routeKey, function string, out []byte) error {
	switch {
	case function == "ConsoleFunction":
		return checkPage(out)
	case function == "AuthorizerFunction" || strings.HasPrefix(name, "authorizer-"):
		var a struct {
			IsAuthorized   *bool           `json:"isAuthorized"`
			PrincipalID    string          `json:"principalId"`
			PolicyDocument json.RawMessage `json:"policyDocument"`
		}
		if err := json.Unmarshal(out, &a); err != nil {
			return err
		}
		if a.IsAuthorized == nil && (a.PrincipalID == "" || len(a.PolicyDocument) == 0) {
			return errors.New("neither a simple response (isAuthorized) nor an IAM policy (principalId, policyDocument)")
		}
		return nil
	case routeKey != "":
		var resp struct {
			StatusCode int               `json:"statusCode"`
			Headers    map[string]string `json:"headers"`
			Body       string            `json:"body"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			return err
		}
		if resp.StatusCode < 200 || resp.StatusCode >= 500 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if resp.Body != "" && !json.Valid([]byte(resp.Body)) {
			return errors.New("body is not JSON")
		}
		return nil
	default:
		if len(out) > 0 && !json.Valid(out) {
			return errors.New("answer is not JSON")
		}
		return nil
	}
}

// checkPage checks the console's answer: 200, its security policy, and an HTML page
// (gzip and base64 undone).
func checkPage(out []byte) error {
	var resp struct {
		StatusCode      int               `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.Contains(resp.Headers["Content-Security-Policy"], "frame-ancestors 'none'") {
		return fmt.Errorf("status %d, CSP %q", resp.StatusCode, resp.Headers["Content-Security-Policy"])
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return err
		}
	}
	if resp.Headers["Content-Encoding"] == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return err
		}
	}
	if !bytes.HasPrefix(bytes.ToLower(body), []byte("<!doctype html>")) {
		return fmt.Errorf("not an HTML page: %.60q", body)
	}
	return nil
}
