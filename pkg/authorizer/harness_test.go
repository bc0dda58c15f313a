package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authorizer"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
	"github.com/keyward/keyward/pkg/usage"
)

// routes is the route table every test deploys.
const routes = `{"GET /v1/whoami": "", "GET /orders/{id}": "orders:read", "POST /orders": "orders:write"}`

// clock is the settable test clock.
type clock = testenv.Clock

// countingReader counts key reads.
type countingReader struct {
	auth.KeyReader
	n atomic.Int64
}

func (c *countingReader) GetKey(ctx context.Context, id string) (*store.Key, error) {
	c.n.Add(1)
	return c.KeyReader.GetKey(ctx, id)
}

// failingReader is a store that is down.
type failingReader struct{}

func (failingReader) GetKey(context.Context, string) (*store.Key, error) {
	return nil, errors.New("dynamodb: connection refused")
}

type harness struct {
	t     testing.TB
	env   *testenv.Env
	deps  *service.Deps
	clock *clock
	db    *testenv.CountingDB
	keys  *countingReader
	a     *authorizer.Authorizer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return harnessOn(t, testenv.New(t), testenv.NewClock())
}

// harnessOn is one cold start of the authorizer on env: a separate instance, as
// deployed (the root credential refused).
func harnessOn(t testing.TB, env *testenv.Env, c *clock) *harness {
	t.Helper()
	h, err := harnessWith(t, env, c, env.RootSecretID, authorizer.Config{RouteScopes: routes, ReloadEvery: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// harnessWith is one cold start with the root secret rootSecretID ("" for none) and
// the authorizer's own config acfg; it returns New's error.
func harnessWith(t testing.TB, env *testenv.Env, c *clock, rootSecretID string, acfg authorizer.Config) (*harness, error) {
	t.Helper()
	cfg := service.Config{
		Local: true, // DynamoDB Local, as FromEnv finds it (env.Local)
		Table: env.Table, Prefix: testenv.KeyPrefix, PepperSecretID: env.PepperSecretID, RootSecretID: rootSecretID,
		DefaultExpiry: 90 * 24 * time.Hour, EventRetention: 400 * 24 * time.Hour,
	}
	deps := service.Build(cfg, env.AWS)
	h := &harness{t: t, env: env, deps: deps, clock: c, db: &testenv.CountingDB{API: deps.DDB}}
	deps.Store = store.New(h.db, env.Table, cfg.EventRetention)
	h.keys = &countingReader{KeyReader: deps.Store}
	deps.Verifier.Keys = h.keys
	deps.Verifier.Limits = deps.Store // uses are counted through the counting client too
	// Last use is written through the counting client too (the authorizer's writes).
	deps.Verifier.Usage = usage.New(deps.Store)
	deps.Verifier.Now = c.Now
	deps.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	a, err := authorizer.New(context.Background(), authorizerDeps(deps), acfg)
	if err != nil {
		return nil, err
	}
	h.a = a
	return h, nil
}

// authorizerDeps are the parts of a function's dependencies the authorizer takes, as
// its main passes them.
func authorizerDeps(d *service.Deps) authorizer.Deps {
	return authorizer.Deps{Verifier: d.Verifier, Store: d.Store, Log: d.Log}
}

// newKey stores a key with scopes, changed by edit, and returns its id and full string.
// edit's secret makes another secret of the key, of version n.
func (h *harness) newKey(scopes []string, edit func(k *store.Key, secret func(n int64) (string, store.Secret))) (string, string) {
	h.t.Helper()
	var change func(k *store.Key)
	if edit != nil {
		change = func(k *store.Key) {
			edit(k, func(n int64) (string, store.Secret) { return testenv.NewSecret(h.t, h.deps.Peppers, k.ID, n) })
		}
	}
	k, full := testenv.SeedKey(h.t, h.deps.Store, h.deps.Peppers, h.clock.Now(), scopes, change)
	return k.ID, full
}

// fixture reads events/<name>.json with API_KEY replaced by cred, then applies edits
// to its decoded form.
func fixture(t testing.TB, name, cred string, edits ...func(ev map[string]any)) json.RawMessage {
	t.Helper()
	b := []byte(strings.ReplaceAll(string(testenv.FixtureBytes(t, name)), "API_KEY", cred))
	if len(edits) == 0 {
		return b
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		e(ev)
	}
	out, _ := json.Marshal(ev)
	return out
}

// Event kinds and their fixtures.
var kinds = []struct{ name, fixture string }{
	{"http", "authorizer-http"},
	{"rest-request", "authorizer-rest-request"},
	{"rest-token", "authorizer-rest-token"},
}

func obj(ev map[string]any, path ...string) map[string]any {
	for _, p := range path {
		ev = ev[p].(map[string]any)
	}
	return ev
}

// withIP sets the source IP of an HTTP or REST REQUEST event.
func withIP(ip string) func(map[string]any) {
	return func(ev map[string]any) {
		if _, ok := ev["routeArn"]; ok {
			obj(ev, "requestContext", "http")["sourceIp"] = ip
		} else if ev["type"] == "REQUEST" {
			obj(ev, "requestContext", "identity")["sourceIp"] = ip
		}
	}
}

// withRoute makes the event a call of method path (HTTP route key, REST resource, ARN).
func withRoute(method, path string) func(map[string]any) {
	return func(ev map[string]any) {
		if _, ok := ev["routeArn"]; ok {
			ev["routeKey"] = method + " " + path
			ev["routeArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/" + method + path
			return
		}
		ev["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/" + method + path
		if ev["type"] == "REQUEST" {
			ev["httpMethod"], ev["resource"], ev["path"] = method, path, path
		}
	}
}

// withHeaders replaces the credential headers (HTTP, REST REQUEST) or the token (TOKEN).
func withHeaders(hs map[string]string) func(map[string]any) {
	return func(ev map[string]any) {
		if ev["type"] == "TOKEN" {
			for _, v := range hs {
				ev["authorizationToken"] = v
			}
			return
		}
		headers := map[string]any{"host": "example.com"}
		for k, v := range hs {
			headers[k] = v
		}
		ev["headers"] = headers
	}
}

// verdict is an answer of any kind, reduced to what the tests check.
type verdict struct {
	allowed      bool
	unauthorized bool // REST error "Unauthorized"
	unavailable  bool // any other error: fails closed
	ctx          map[string]any
	resources    []string
}

func (h *harness) call(raw json.RawMessage) verdict {
	h.t.Helper()
	out, err := h.a.Handle(context.Background(), raw)
	if err != nil {
		if err.Error() == "Unauthorized" {
			return verdict{unauthorized: true}
		}
		return verdict{unavailable: true}
	}
	// Round-trip through JSON, as the Lambda runtime sends it.
	b, err := json.Marshal(out)
	if err != nil {
		h.t.Fatal(err)
	}
	if strings.Contains(string(b), `"isAuthorized"`) {
		var r events.APIGatewayV2CustomAuthorizerSimpleResponse
		_ = json.Unmarshal(b, &r)
		return verdict{allowed: r.IsAuthorized, ctx: r.Context}
	}
	var r events.APIGatewayCustomAuthorizerResponse
	if err := json.Unmarshal(b, &r); err != nil {
		h.t.Fatal(err)
	}
	v := verdict{ctx: r.Context}
	allow, deny := false, false
	for _, s := range r.PolicyDocument.Statement {
		if len(s.Action) != 1 || s.Action[0] != "execute-api:Invoke" {
			h.t.Fatalf("policy action %v", s.Action)
		}
		v.resources = append(v.resources, s.Resource...)
		switch s.Effect {
		case "Allow":
			allow = true
		case "Deny":
			deny = true
		}
	}
	if r.PrincipalID == "" {
		h.t.Fatal("no principalId")
	}
	v.allowed = allow && !deny
	return v
}

// refused reports whether v refuses the credential as invalid, for the event kind.
func (v verdict) refusedInvalid(kind string) bool {
	if kind == "http" {
		return !v.allowed && !v.unavailable && !v.unauthorized
	}
	return v.unauthorized
}

// denied reports whether v is a Deny of a valid credential (HTTP: false; REST: policy).
func (v verdict) denied(kind string) bool {
	if kind == "http" {
		return !v.allowed && !v.unavailable && !v.unauthorized
	}
	return !v.allowed && !v.unauthorized && !v.unavailable && len(v.resources) > 0
}

// apikeyParse returns a new key string for the id of key s, with a fresh secret.
func apikeyParse(s string) (string, error) {
	k, err := apikey.Parse(s, testenv.KeyPrefix)
	if err != nil {
		return "", err
	}
	return apikey.NewWithID(testenv.KeyPrefix, k.ID).String(), nil
}

// benchHarness is a harness for benchmarks.
func benchHarness(b *testing.B) *harness {
	b.Helper()
	return harnessOn(b, testenv.New(b), testenv.NewClock())
}
