package keysapi_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/keysapi"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/testenv"
)

// clock is the settable test clock.
type clock = testenv.Clock

type harness struct {
	t      *testing.T
	env    *testenv.Env
	deps   *service.Deps
	clock  *clock
	logs   *testenv.Buffer
	router *httpapi.Router
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.New(t)
	return harnessOn(t, env)
}

// harnessOn builds a fresh "cold start" of the keys function on env.
func harnessOn(t *testing.T, env *testenv.Env) *harness {
	cfg := service.Config{
		Local: true, // DynamoDB Local, as FromEnv finds it (env.Local)
		Table: env.Table, Prefix: "kw_test_", PepperSecretID: env.PepperSecretID, RootSecretID: env.RootSecretID,
		DefaultExpiry: 90 * 24 * time.Hour, EventRetention: 400 * 24 * time.Hour,
	}
	deps := service.Build(cfg, env.AWS)
	h := &harness{t: t, env: env, deps: deps, clock: testenv.NewClock(), logs: &testenv.Buffer{}}
	deps.Log = slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps.Verifier.Now = h.clock.Now
	api := keysapi.New(deps.Store, deps.Verifier, deps.Peppers, keysapi.Config{Prefix: cfg.Prefix, DefaultExpiry: cfg.DefaultExpiry}, deps.Log)
	h.router = api.Router()
	return h
}

// fixture loads events/<name>.json, the same sample event `sam local invoke -e` uses.
func fixture(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return testenv.HTTPRequest(t, name)
}

type opt = testenv.RequestOption

func cred(c string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		if c == "" {
			delete(r.Headers, "authorization")
			return
		}
		r.Headers["authorization"] = "Bearer " + c
	}
}
func header(k, v string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) { delete(r.Headers, "authorization"); r.Headers[k] = v }
}
func id(k string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		r.PathParameters = map[string]string{"id": k}
		r.RawPath = strings.ReplaceAll(r.RawPath, "abcdefghijklmnop", k)
	}
}

// The request options shared by every handler's tests.
var (
	body     = testenv.Body
	jsonBody = testenv.JSONBody
	query    = testenv.Query
	sourceIP = testenv.SourceIP
)

type response struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

func (h *harness) call(name string, opts ...opt) response {
	h.t.Helper()
	req := fixture(h.t, name)
	req.Headers["authorization"] = "Bearer " + h.env.RootKey
	for _, o := range opts {
		o(&req)
	}
	r := testenv.Serve(h.t, h.router, req)
	return response{status: r.Status, headers: r.Headers, body: r.Body, raw: r.Raw}
}

// must fails the test unless the answer has status want.
func (r response) must(t *testing.T, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.raw)
	}
	return r
}

func (r response) str(field string) string { s, _ := r.body[field].(string); return s }

// createKey creates a key through the API and returns its id and secret.
func (h *harness) createKey(fields map[string]any) (string, string) {
	h.t.Helper()
	in := map[string]any{"name": "test-key", "scopes": []string{"orders:read"}}
	for k, v := range fields {
		in[k] = v
	}
	r := h.call("keys-create", jsonBody(in)).must(h.t, 201)
	return r.str("id"), r.str("secret")
}
