package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
)

// recorder is an httptest handler that answers from a script, one answer per
// request, and records when each request came and what it carried.
type recorder struct {
	mu      sync.Mutex
	answers []answer
	got     []seen
}

type answer struct {
	status int
	header map[string]string
	body   string
}

type seen struct {
	at          time.Time
	method      string
	path        string
	auth        string
	contentType string
	body        string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.got = append(r.got, seen{time.Now(), req.Method, req.URL.RequestURI(), req.Header.Get("Authorization"), req.Header.Get("Content-Type"), string(body)})
	a := answer{status: 500, body: `{"code":"script_exhausted"}`}
	if len(r.answers) > 0 {
		a, r.answers = r.answers[0], r.answers[1:]
	}
	r.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (r *recorder) requests() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.got...)
}

func newClient(t *testing.T, r *recorder, opts Options) *Client {
	t.Helper()
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	if opts.BaseDelay == 0 {
		opts.BaseDelay = time.Millisecond
	}
	c, err := New(srv.URL, APIKey("the-credential"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const locked = `{"type":"https://keyward.dev/problems/locked","title":"Too Many Requests","status":429,"detail":"Too many failed attempts; try again later.","code":"locked"}`

const keyJSON = `{"id":"abcdefghijklmnop","name":"ci","description":"","owner":"alice@example.com","scopes":["orders:read"],"status":"active","start":"kw_live_abcd","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","created_by":"root","expires_at":"2026-04-02T03:04:05Z","last_used_at":null,"last_used_ip":null,"rotation":null,"metadata":{},"allowed_cidrs":[]}`

// TestRetryAfterHonoured: a read answered 429 with Retry-After: 1 is sent again, and
// not before that second has passed.
func TestRetryAfterHonoured(t *testing.T) {
	r := &recorder{answers: []answer{
		{429, map[string]string{"Retry-After": "1", "Content-Type": "application/problem+json"}, locked},
		{200, nil, keyJSON},
	}}
	c := newClient(t, r, Options{})
	k, err := c.GetKey(context.Background(), "abcdefghijklmnop")
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "ci" || k.Owner != "alice@example.com" || k.CreatedAt.IsZero() {
		t.Errorf("decoded key: %+v", k)
	}
	got := r.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	if gap := got[1].at.Sub(got[0].at); gap < time.Second {
		t.Errorf("retried %s after the 429, before its Retry-After of 1s", gap)
	}
	if got[0].auth != "Bearer the-credential" || got[1].auth != got[0].auth {
		t.Errorf("Authorization %q then %q", got[0].auth, got[1].auth)
	}
}

// TestNeverRetried: a create, a rotation and a refresh-token grant are sent once,
// whatever the failure (a 429 with a short Retry-After, a 503, a 500), and the error
// carries the status, the code and the Retry-After for the caller to decide.
func TestNeverRetried(t *testing.T) {
	failures := []answer{
		{429, map[string]string{"Retry-After": "1"}, locked},
		{503, nil, `{"message":"Service Unavailable"}`},
		{500, nil, `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"An internal error occurred; it has been logged.","code":"internal_error"}`},
	}
	calls := map[string]func(*Client) error{
		"create": func(c *Client) error {
			_, err := c.CreateKey(context.Background(), KeyCreate{Name: "ci", Scopes: []string{"orders:read"}})
			return err
		},
		"rotate": func(c *Client) error {
			_, err := c.RotateKey(context.Background(), "abcdefghijklmnop", Rotate{})
			return err
		},
		"refresh": func(c *Client) error {
			_, err := c.RefreshToken(context.Background(), "abcdefghijklmnop", "s", "r")
			return err
		},
	}
	for name, f := range calls {
		for _, fail := range failures {
			t.Run(name+"/"+http.StatusText(fail.status), func(t *testing.T) {
				// The script would answer success on a second try.
				r := &recorder{answers: []answer{fail, {201, nil, keyJSON}, {200, nil, keyJSON}}}
				c := newClient(t, r, Options{})
				err := f(c)
				var e *Error
				if !errors.As(err, &e) || e.Status != fail.status {
					t.Fatalf("error %v, want an *Error with status %d", err, fail.status)
				}
				if n := len(r.requests()); n != 1 {
					t.Errorf("%d requests, want exactly 1", n)
				}
				if fail.status == 429 && (e.Code != "locked" || e.RetryAfter != time.Second) {
					t.Errorf("429 error: code %q RetryAfter %s, want locked and 1s", e.Code, e.RetryAfter)
				}
			})
		}
	}
}

// TestRetriesBounded: a repeatable call is retried on 5xx with backoff, MaxRetries
// times and no more; a 4xx other than 429 is not retried.
func TestRetriesBounded(t *testing.T) {
	r := &recorder{answers: []answer{{502, nil, ""}, {503, nil, ""}, {500, nil, ""}, {500, nil, ""}, {200, nil, keyJSON}}}
	c := newClient(t, r, Options{MaxRetries: 3})
	_, err := c.RevokeKey(context.Background(), "abcdefghijklmnop")
	if StatusOf(err) != 500 {
		t.Fatalf("error %v, want the last 500", err)
	}
	if n := len(r.requests()); n != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", n)
	}

	r = &recorder{answers: []answer{{503, nil, ""}, {200, nil, keyJSON}}}
	c = newClient(t, r, Options{})
	if _, err := c.GetKey(context.Background(), "abcdefghijklmnop"); err != nil {
		t.Errorf("a 503 then a 200: %v", err)
	}

	for _, status := range []int{400, 401, 403, 404, 409} {
		r := &recorder{answers: []answer{{status, nil, `{"code":"x"}`}, {200, nil, keyJSON}}}
		c := newClient(t, r, Options{})
		if _, err := c.GetKey(context.Background(), "abcdefghijklmnop"); StatusOf(err) != status {
			t.Errorf("%d: error %v", status, err)
		}
		if n := len(r.requests()); n != 1 {
			t.Errorf("%d: %d requests, want 1", status, n)
		}
	}
}

// TestRetryAfterTooLong: a Retry-After longer than MaxRetryAfter, or than the context's
// deadline allows, is answered at once with the 429 rather than waited for.
func TestRetryAfterTooLong(t *testing.T) {
	r := &recorder{answers: []answer{{429, map[string]string{"Retry-After": "300"}, locked}, {200, nil, keyJSON}}}
	c := newClient(t, r, Options{})
	start := time.Now()
	_, err := c.GetKey(context.Background(), "abcdefghijklmnop")
	var e *Error
	if !errors.As(err, &e) || e.Status != 429 || e.RetryAfter != 300*time.Second {
		t.Fatalf("error %v, want the 429 with its Retry-After", err)
	}
	if len(r.requests()) != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("%d requests in %s: waited for a 5-minute lock", len(r.requests()), time.Since(start))
	}

	r = &recorder{answers: []answer{{429, map[string]string{"Retry-After": "5"}, locked}, {200, nil, keyJSON}}}
	c = newClient(t, r, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.GetKey(ctx, "abcdefghijklmnop"); StatusOf(err) != 429 {
		t.Errorf("Retry-After beyond the deadline: %v, want the 429", err)
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// TestErrors: each kind of error answer becomes an *Error with its code and detail.
func TestErrors(t *testing.T) {
	cases := []struct {
		name   string
		ans    answer
		status int
		code   string
		detail string
		line   string
	}{
		{"problem", answer{404, map[string]string{"Request-Id": "req-1"}, `{"type":"t","title":"Not Found","status":404,"detail":"No key with this id.","code":"key_not_found"}`},
			404, "key_not_found", "No key with this id.", "No key with this id. (key_not_found, status 404)"},
		{"oauth", answer{401, nil, `{"error":"invalid_client","error_description":"Client authentication failed."}`},
			401, "invalid_client", "Client authentication failed.", "Client authentication failed. (invalid_client, status 401)"},
		{"gateway", answer{403, nil, `{"message":"Forbidden"}`}, 403, "", "Forbidden", "Forbidden (status 403)"},
		{"not json", answer{502, nil, `<html>bad gateway</html>`}, 502, "", "", "Bad Gateway (status 502)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{answers: []answer{tc.ans, tc.ans, tc.ans, tc.ans}}
			c := newClient(t, r, Options{MaxRetries: -1})
			_, err := c.GetKey(context.Background(), "abcdefghijklmnop")
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Status != tc.status || e.Code != tc.code || e.Detail != tc.detail || e.Error() != tc.line {
				t.Errorf("got %d %q %q %q", e.Status, e.Code, e.Detail, e.Error())
			}
			if tc.name == "problem" && e.RequestID != "req-1" {
				t.Errorf("RequestID %q", e.RequestID)
			}
		})
	}
}

// TestRequests: what the typed calls put on the wire.
func TestRequests(t *testing.T) {
	r := &recorder{answers: []answer{
		{201, nil, strings.Replace(keyJSON, `"allowed_cidrs":[]`, `"allowed_cidrs":[],"secret":"kw_live_x"`, 1)},
		{200, nil, `{"items":[],"next_cursor":null}`},
		{200, nil, keyJSON},
		{200, nil, `{"deleted":["a"],"not_found":[],"forbidden":["b"]}`},
		{204, nil, ""},
		{200, nil, `{"key_id":"abcdefghijklmnop","days":[{"day":"2026-12-01","accepted":3,"refused":{"RATE_LIMITED":1}}]}`},
		{200, nil, `{"owner":"team-a/api","ratelimit":{"limit":100,"window_seconds":60}}`},
		{200, nil, `{"owner":"team-a/api","ratelimit":null}`},
	}}
	c := newClient(t, r, Options{})
	ctx := context.Background()
	days := 30
	created, err := c.CreateKey(ctx, KeyCreate{Name: "ci", Scopes: []string{"orders:read"}, Owner: "alice@example.com", ExpiresInDays: &days})
	if err != nil || created.Secret != "kw_live_x" || created.ID != "abcdefghijklmnop" {
		t.Fatalf("create: %+v %v", created, err)
	}
	if _, err := c.ListKeys(ctx, ListKeys{Owner: "a b", Limit: 10}); err != nil {
		t.Fatal(err)
	}
	empty := []string{}
	if _, err := c.UpdateKey(ctx, "abcdefghijklmnop", KeyPatch{AllowedCIDRs: &empty, Metadata: json.RawMessage("null")}); err != nil {
		t.Fatal(err)
	}
	res, err := c.BatchDelete(ctx, []string{"a", "b"})
	if err != nil || len(res.Forbidden) != 1 {
		t.Fatalf("batch: %+v %v", res, err)
	}
	if err := c.DeleteKey(ctx, "x/y"); err != nil {
		t.Fatal(err)
	}
	u, err := c.KeyUsage(ctx, "abcdefghijklmnop", 7)
	if err != nil || len(u.Days) != 1 || u.Days[0].Refused["RATE_LIMITED"] != 1 {
		t.Fatalf("usage: %+v %v", u, err)
	}
	if l, err := c.PutOwnerLimits(ctx, "team-a/api", &RateLimit{Limit: 100, WindowSeconds: 60}); err != nil || l.RateLimit == nil || l.RateLimit.Limit != 100 {
		t.Fatalf("put owner limits: %+v %v", l, err)
	}
	if l, err := c.PutOwnerLimits(ctx, "team-a/api", nil); err != nil || l.RateLimit != nil {
		t.Fatalf("remove owner limits: %+v %v", l, err)
	}
	got := r.requests()
	want := []seen{
		{method: "POST", path: "/v1/keys", contentType: "application/json", body: `{"name":"ci","scopes":["orders:read"],"owner":"alice@example.com","expires_in_days":30}`},
		{method: "GET", path: "/v1/keys?limit=10&owner=a+b"},
		{method: "PATCH", path: "/v1/keys/abcdefghijklmnop", contentType: "application/json", body: `{"metadata":null,"allowed_cidrs":[]}`},
		{method: "POST", path: "/v1/keys/batch-delete", contentType: "application/json", body: `{"ids":["a","b"]}`},
		{method: "DELETE", path: "/v1/keys/x%2Fy"},
		{method: "GET", path: "/v1/keys/abcdefghijklmnop/usage?days=7"},
		{method: "PUT", path: "/v1/owners/team-a%2Fapi/limits", contentType: "application/json", body: `{"ratelimit":{"limit":100,"window_seconds":60}}`},
		{method: "PUT", path: "/v1/owners/team-a%2Fapi/limits", contentType: "application/json", body: `{"ratelimit":null}`},
	}
	for i, w := range want {
		g := got[i]
		if g.method != w.method || g.path != w.path || g.contentType != w.contentType || g.body != w.body {
			t.Errorf("request %d: %s %s %q %s, want %s %s %q %s", i, g.method, g.path, g.contentType, g.body, w.method, w.path, w.contentType, w.body)
		}
	}
}

// TestTokenSourceCaches: the token is fetched once, reused while it has more than a
// fifth of its lifetime left, and fetched again after that.
func TestTokenSourceCaches(t *testing.T) {
	tok := `{"access_token":"at","token_type":"Bearer","expires_in":300,"refresh_token":"rt","refresh_expires_in":36000,"scope":"orders:read"}`
	r := &recorder{answers: []answer{{200, nil, tok}, {200, nil, tok}}}
	c := newClient(t, r, Options{})
	secret := apikey.New("kw_test_")
	ts, err := c.TokenSource(secret.String())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ts.now = func() time.Time { return now }
	ctx := context.Background()
	for range 3 {
		if got, err := ts.Token(ctx); err != nil || got.AccessToken != "at" {
			t.Fatalf("token: %+v %v", got, err)
		}
	}
	if n := len(r.requests()); n != 1 {
		t.Fatalf("%d token requests for three calls within its lifetime, want 1", n)
	}
	if b := r.requests()[0].body; !strings.Contains(b, "client_id="+secret.ID) || !strings.Contains(b, "grant_type=client_credentials") {
		t.Errorf("token request body %q", b)
	}
	now = now.Add(269 * time.Second) // 31 s left: still used
	if _, err := ts.Token(ctx); err != nil || len(r.requests()) != 1 {
		t.Fatalf("31 s before expiry: %d requests, %v", len(r.requests()), err)
	}
	now = now.Add(2 * time.Second) // 29 s left: replaced
	if _, err := ts.Token(ctx); err != nil || len(r.requests()) != 2 {
		t.Fatalf("29 s before expiry: %d requests, %v", len(r.requests()), err)
	}
	if _, err := c.TokenSource("kw_root_notakey"); err == nil {
		t.Error("a TokenSource for a string that is not an API key")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"0":                             0,
		"-3":                            0,
		"soon":                          0,
		"Thu, 01 Jan 2026 00:00:10 GMT": 10 * time.Second,
		"Wed, 31 Dec 2025 23:00:00 GMT": 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestKeyID(t *testing.T) {
	for _, prefix := range []string{"kw_live_", "kw_test_", "acme_"} {
		k := apikey.New(prefix)
		if id, ok := KeyID(k.String()); !ok || id != k.ID {
			t.Errorf("KeyID(%s…) = %q %v, want %q", prefix, id, ok, k.ID)
		}
		s := k.String()
		if _, ok := KeyID(s[:len(s)-1] + "x"); ok && s[len(s)-1] != 'x' {
			t.Errorf("KeyID accepted a bad checksum")
		}
	}
	if _, ok := KeyID("kw_root_abc"); ok {
		t.Error("KeyID accepted a root-like string")
	}
}
