package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/pkg/authorizer"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/keysapi"
	"github.com/keyward/keyward/pkg/oauth"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// clock is a settable test clock shared by the verifier, the APIs, the key cache
// and the rotator.
// clock is the settable test clock.
type clock = testenv.Clock

type harness struct {
	t        testing.TB
	env      *testenv.Env
	deps     *service.Deps
	clock    *clock
	keys     *httpapi.Router
	oauth    *httpapi.Router
	api      *oauth.API
	rotator  *jwks.Rotator
	signing  string
	rotation int
}

// issuer is the test deployment's configured issuer (ISSUER).
const issuer = "http://127.0.0.1:3000"

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, true)
}

// newHarnessWith builds the token function with or without the root credential's
// secret (ROOT_SECRET_ID); the keys function beside it always has it, as deployed.
func newHarnessWith(t testing.TB, root bool) *harness {
	t.Helper()
	env := testenv.New(t)
	h := &harness{t: t, env: env, clock: testenv.NewClock()}
	h.signing = "keyward-test-signing-" + strings.ToLower(testenv.RandomString(t, 6))
	ctx := context.Background()
	// The placeholder value the template gives the secret: no keys until rotated.
	if _, err := env.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name: aws.String(h.signing), SecretString: aws.String(`{"keys":[]}`),
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.SM.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId: aws.String(h.signing), ForceDeleteWithoutRecovery: aws.Bool(true),
		})
	})
	cfg := h.config()
	if !root {
		cfg.RootSecretID = ""
	}
	h.deps = h.build(cfg)
	h.rotator = &jwks.Rotator{SM: env.SM, SecretID: h.signing, Retention: jwks.MinRetention, Now: h.clock.Now}
	h.rotate() // what RotateImmediatelyOnUpdate does at deploy
	keysDeps := h.deps
	if !root {
		keysDeps = h.build(h.config())
	}
	h.keys = keysapi.New(keysDeps.Store, keysDeps.Verifier, keysDeps.Peppers,
		keysapi.Config{Prefix: cfg.Prefix, DefaultExpiry: cfg.DefaultExpiry}, keysDeps.Log).Router()
	h.api = oauth.New(oauth.Deps{Verifier: h.deps.Verifier, Store: h.deps.Store, SigningKeys: h.deps.SigningKeys,
		Tokens: h.deps.Tokens, Log: h.deps.Log}, oauth.Config{Audience: cfg.TokenAudience, AccessLifetime: 300 * time.Second, RefreshLifetime: 36000 * time.Second})
	h.oauth = h.api.Router()
	return h
}

// config is the environment every function of the test deployment reads.
func (h *harness) config() service.Config {
	return service.Config{
		Local: true, // DynamoDB Local, as FromEnv finds it (env.Local)
		Table: h.env.Table, Prefix: testenv.KeyPrefix, PepperSecretID: h.env.PepperSecretID, RootSecretID: h.env.RootSecretID,
		DefaultExpiry: 90 * 24 * time.Hour, EventRetention: 400 * 24 * time.Hour,
		SigningKeysSecretID: h.signing, TokenAudience: service.DefaultAudience, Issuer: issuer,
	}
}

// build is one function's cold start on the harness's environment and clock.
func (h *harness) build(cfg service.Config) *service.Deps {
	d := service.Build(cfg, h.env.AWS)
	d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	d.Verifier.Now = h.clock.Now
	d.SigningKeys.Now = h.clock.Now
	return d
}

// authorizer is a cold start of the Lambda authorizer on the same deployment (its own
// instance, key cache and clock), and a call of GET /v1/whoami through it with a
// credential: whether it was allowed.
func (h *harness) authorizer() func(credential string) bool {
	h.t.Helper()
	d := h.build(h.config())
	a, err := authorizer.New(context.Background(), authorizer.Deps{Verifier: d.Verifier, Store: d.Store, Log: d.Log},
		authorizer.Config{RouteScopes: `{"GET /v1/whoami": ""}`, ReloadEvery: time.Minute})
	if err != nil {
		h.t.Fatal(err)
	}
	raw := testenv.FixtureBytes(h.t, "authorizer-http")
	return func(credential string) bool {
		h.t.Helper()
		out, err := a.Handle(context.Background(), []byte(strings.ReplaceAll(string(raw), "API_KEY", credential)))
		if err != nil {
			h.t.Fatalf("authorizer: %v", err)
		}
		r, ok := out.(events.APIGatewayV2CustomAuthorizerSimpleResponse)
		if !ok {
			h.t.Fatalf("authorizer answered %T to an HTTP API event", out)
		}
		return r.IsAuthorized
	}
}

// rotate runs the four rotation steps through the handler, as Secrets Manager would,
// with events/rotate-signing-key-*.json.
func (h *harness) rotate() {
	h.t.Helper()
	h.rotation++
	token := "rotation-" + testenv.RandomString(h.t, 24)
	for _, step := range []string{"create", "set", "test", "finish"} {
		var e events.SecretsManagerSecretRotationEvent
		readFixture(h.t, "rotate-signing-key-"+step, &e)
		e.ClientRequestToken = token
		if err := h.rotator.Handle(context.Background(), e); err != nil {
			h.t.Fatalf("rotation step %s: %v", e.Step, err)
		}
	}
}

// readFixture decodes events/<name>.json into v.
func readFixture(t testing.TB, name string, v any) {
	t.Helper()
	testenv.Fixture(t, name, v)
}

func fixture(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return testenv.HTTPRequest(t, name)
}

type opt = testenv.RequestOption

// form replaces the body with the given parameters (pairs: name, value).
func form(pairs ...string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		var b strings.Builder
		for i := 0; i < len(pairs); i += 2 {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1]))
		}
		r.Body = b.String()
	}
}

// The request options shared by every handler's tests.
var (
	rawBody  = testenv.Body
	header   = testenv.Header
	sourceIP = testenv.SourceIP
)

func basic(id, secret string) opt {
	return header("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
}
func bearer(c string) opt { return header("authorization", "Bearer "+c) }

type response struct {
	status  int
	headers map[string]string
	body    map[string]any
	raw     string
}

func (r response) must(t testing.TB, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d; body %s", r.status, want, r.raw)
	}
	return r
}

func (r response) str(field string) string { s, _ := r.body[field].(string); return s }

// oauthError checks an RFC 6749 §5.2 answer.
func (r response) oauthError(t *testing.T, status int, code string) response {
	t.Helper()
	r.must(t, status)
	if r.str("error") != code {
		t.Fatalf("error %q, want %q; body %s", r.str("error"), code, r.raw)
	}
	if r.headers["Cache-Control"] != "no-store" || r.headers["Pragma"] != "no-cache" {
		t.Fatalf("headers %v: want Cache-Control: no-store and Pragma: no-cache", r.headers)
	}
	return r
}

func serve(t testing.TB, router *httpapi.Router, req events.APIGatewayV2HTTPRequest) response {
	t.Helper()
	r := testenv.Serve(t, router, req)
	return response{status: r.Status, headers: r.Headers, body: r.Body, raw: r.Raw}
}

// call sends fixture name to the token function, with opts applied.
func (h *harness) call(name string, opts ...opt) response {
	h.t.Helper()
	req := fixture(h.t, name)
	for _, o := range opts {
		o(&req)
	}
	return serve(h.t, h.oauth, req)
}

// keysCall sends a keys fixture to the management API as credential.
func (h *harness) keysCall(name, credential string, body string) response {
	h.t.Helper()
	req := fixture(h.t, name)
	req.Headers["authorization"] = "Bearer " + credential
	if body != "" {
		req.Body = body
	}
	return serve(h.t, h.keys, req)
}

// createKey creates a key with scopes (and extra fields) and returns id and secret.
func (h *harness) createKey(scopes []string, fields map[string]any) (string, string) {
	h.t.Helper()
	in := map[string]any{"name": "client", "scopes": scopes}
	for k, v := range fields {
		in[k] = v
	}
	b, _ := json.Marshal(in)
	r := h.keysCall("keys-create", h.env.RootKey, string(b)).must(h.t, 201)
	return r.str("id"), r.str("secret")
}

// clientCredentials gets a token for id/secret by body authentication.
func (h *harness) clientCredentials(id, secret string, extra ...string) response {
	h.t.Helper()
	return h.call("token-client-credentials", form(append([]string{"grant_type", "client_credentials", "client_id", id, "client_secret", secret}, extra...)...))
}

func (h *harness) refresh(id, secret, rt string, extra ...string) response {
	h.t.Helper()
	return h.call("token-refresh", form(append([]string{"grant_type", "refresh_token", "refresh_token", rt, "client_id", id, "client_secret", secret}, extra...)...))
}

// events returns the types of key id's events, newest first.
func (h *harness) events(id string) []string {
	h.t.Helper()
	page, err := h.deps.Store.ListEvents(context.Background(), id, 100, "")
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range page.Items {
		out = append(out, e.Type)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

var _ = store.EventTokenIssued
