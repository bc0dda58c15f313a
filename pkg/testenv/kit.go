package testenv

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/store"
)

var (
	eventsDirOnce sync.Once
	eventsDir     string
	eventsDirErr  error
)

// FixtureBytes returns events/<name>.json, a sample event of the repository (the same
// file `sam local invoke -e` reads), found from the test's directory upwards.
func FixtureBytes(t testing.TB, name string) []byte {
	t.Helper()
	eventsDirOnce.Do(func() {
		var path string
		if path, eventsDirErr = stack.FindTemplate("."); eventsDirErr == nil {
			eventsDir = filepath.Join(filepath.Dir(path), "events")
		}
	})
	if eventsDirErr != nil {
		t.Fatalf("testenv: %v", eventsDirErr)
	}
	b, err := os.ReadFile(filepath.Join(eventsDir, name+".json"))
	if err != nil {
		t.Fatalf("testenv: fixture %s: %v", name, err)
	}
	return b
}

// Fixture decodes events/<name>.json into v.
func Fixture(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(FixtureBytes(t, name), v); err != nil {
		t.Fatalf("testenv: fixture %s: %v", name, err)
	}
}

// HTTPRequest returns events/<name>.json as an HTTP API (payload 2.0) request, with
// opts applied in order.
func HTTPRequest(t testing.TB, name string, opts ...RequestOption) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var req events.APIGatewayV2HTTPRequest
	Fixture(t, name, &req)
	if req.Headers == nil {
		req.Headers = map[string]string{}
	}
	for _, o := range opts {
		o(&req)
	}
	return req
}

// RequestOption changes a request built from a fixture.
type RequestOption func(*events.APIGatewayV2HTTPRequest)

// Header sets header name (lower case, as API Gateway gives it) to value; an empty
// value removes it.
func Header(name, value string) RequestOption {
	return func(r *events.APIGatewayV2HTTPRequest) {
		if value == "" {
			delete(r.Headers, name)
			return
		}
		r.Headers[name] = value
	}
}

// Bearer presents credential in the Authorization header; "" sends none.
func Bearer(credential string) RequestOption {
	if credential == "" {
		return Header("authorization", "")
	}
	return Header("authorization", "Bearer "+credential)
}

// Body replaces the body with s.
func Body(s string) RequestOption {
	return func(r *events.APIGatewayV2HTTPRequest) { r.Body = s }
}

// JSONBody replaces the body with v in JSON.
func JSONBody(v any) RequestOption {
	b, _ := json.Marshal(v)
	return Body(string(b))
}

// SourceIP sets the caller's address.
func SourceIP(ip string) RequestOption {
	return func(r *events.APIGatewayV2HTTPRequest) { r.RequestContext.HTTP.SourceIP = ip }
}

// Query sets the query string both ways API Gateway gives it: parsed and raw.
func Query(q map[string]string) RequestOption {
	return func(r *events.APIGatewayV2HTTPRequest) {
		r.QueryStringParameters = q
		v := url.Values{}
		for k, s := range q {
			v.Set(k, s)
		}
		r.RawQueryString = v.Encode()
	}
}

// Server is a function's HTTP handler (httpapi.Router.Serve).
type Server interface {
	Serve(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

// Response is a handler's answer, its JSON object body decoded.
type Response struct {
	Status  int
	Headers map[string]string
	Body    map[string]any // nil when the body is empty
	Raw     string
}

// Serve sends req to s. An error from s, or a body that is not a JSON object, fails t.
func Serve(t testing.TB, s Server, req events.APIGatewayV2HTTPRequest) Response {
	t.Helper()
	resp, err := s.Serve(context.Background(), req)
	if err != nil {
		t.Fatalf("%s %s: Serve returned an error: %v", req.RequestContext.HTTP.Method, req.RawPath, err)
	}
	r := Response{Status: resp.StatusCode, Headers: resp.Headers, Raw: resp.Body}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
			t.Fatalf("%s %s: body is not a JSON object: %q", req.RequestContext.HTTP.Method, req.RawPath, resp.Body)
		}
	}
	return r
}

// KeyWriter stores a new key with its event (store.Dynamo.CreateKey).
type KeyWriter interface {
	CreateKey(ctx context.Context, k *store.Key, e *store.Event) error
}

// NewSecret returns a fresh secret of version n for key id, as presented (the full
// key string) and as stored (hashed under the current pepper of peppers).
func NewSecret(t testing.TB, peppers auth.PepperSource, id string, n int64) (string, store.Secret) {
	t.Helper()
	k := apikey.NewWithID(KeyPrefix, id)
	sec, err := auth.HashSecret(context.Background(), peppers, n, k.Secret)
	if err != nil {
		t.Fatalf("testenv: hash secret: %v", err)
	}
	return k.String(), sec
}

// SeedKey stores an active key with scopes, owned by alice@example.com, created by
// root at now and expiring 90 days later, with a real secret (version 1), changed by
// edit (if not nil) before it is written; it returns the key and its full string.
// It writes through st as the management API does, with a key.created event.
func SeedKey(t testing.TB, st KeyWriter, peppers auth.PepperSource, now time.Time, scopes []string,
	edit func(k *store.Key)) (*store.Key, string) {
	t.Helper()
	ak := apikey.New(KeyPrefix)
	sec, err := auth.HashSecret(context.Background(), peppers, 1, ak.Secret)
	if err != nil {
		t.Fatalf("testenv: hash secret: %v", err)
	}
	k := &store.Key{
		ID: ak.ID, Name: "test", Owner: "alice@example.com", Scopes: scopes, Status: store.StatusActive,
		Start: ak.Start(), CreatedAt: now, UpdatedAt: now, CreatedBy: "root",
		ExpiresAt: now.Add(90 * 24 * time.Hour), Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1, Secret: sec,
	}
	if edit != nil {
		edit(k)
	}
	if err := st.CreateKey(context.Background(), k, &store.Event{Time: now, Type: store.EventKeyCreated, KeyID: k.ID, Actor: "root"}); err != nil {
		t.Fatalf("testenv: create key: %v", err)
	}
	return k, ak.String()
}

// StaticKeys is a signing-key set held in memory: token.Keys without Secrets Manager.
type StaticKeys struct{ Keys *jwks.Set }

// Set returns the set.
func (s StaticKeys) Set(context.Context) (*jwks.Set, error) { return s.Keys, nil }

// Lookup returns the set, whatever the key id.
func (s StaticKeys) Lookup(context.Context, string) (*jwks.Set, error) { return s.Keys, nil }
