package keysapi_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// authorizerContext replaces the fixture's requestContext.authorizer.lambda with ctx;
// a nil ctx removes the authorizer altogether (a direct invoke, or a gateway without
// the Lambda authorizer).
func authorizerContext(ctx map[string]any) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		if ctx == nil {
			r.RequestContext.Authorizer = nil
			return
		}
		r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: ctx}
	}
}

// TestWhoami covers GET /v1/whoami behind the authorizer (its context, no I/O) and
// without one (the function verifies the credential itself).
func TestWhoami(t *testing.T) {
	h := newHarness(t)

	// The fixture itself is the deployed shape: an authorizer context in
	// requestContext.authorizer.lambda.
	if fx := fixture(t, "whoami"); fx.RequestContext.Authorizer == nil || fx.RequestContext.Authorizer.Lambda["key_id"] == nil {
		t.Fatalf("events/whoami.json has no requestContext.authorizer.lambda.key_id")
	}

	kid, secret := h.createKey(map[string]any{"owner": "bob@example.com", "scopes": []string{"orders:read", "keys:read"}})
	revoked, revokedSecret := h.createKey(nil)
	h.call("keys-revoke", id(revoked)).must(t, 200)
	badSum := secret[:len(secret)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(secret, "a")]

	fromAuthorizer := map[string]any{"key_id": "ctxkeyid", "owner": "carol@example.com", "scopes": "a b", "auth": "api_key"}

	type who struct {
		keyID, owner string
		scopes       []string
		auth         string
	}
	cases := []struct {
		name   string
		opts   []opt
		status int
		want   who    // for 200
		code   string // for 401
	}{
		// (a) behind the authorizer: the answer is its context, whatever the headers.
		{"authorizer context", []opt{authorizerContext(fromAuthorizer), cred("")}, 200,
			who{"ctxkeyid", "carol@example.com", []string{"a", "b"}, "api_key"}, ""},
		{"authorizer context wins over headers", []opt{authorizerContext(fromAuthorizer)}, 200,
			who{"ctxkeyid", "carol@example.com", []string{"a", "b"}, "api_key"}, ""},
		{"authorizer context for an access token", []opt{authorizerContext(map[string]any{
			"key_id": "ctxkeyid", "owner": "carol@example.com", "scopes": "orders:read", "auth": "access_token"}), cred("")}, 200,
			who{"ctxkeyid", "carol@example.com", []string{"orders:read"}, "access_token"}, ""},
		{"authorizer context with no scopes", []opt{authorizerContext(map[string]any{
			"key_id": "ctxkeyid", "owner": "carol@example.com", "scopes": "", "auth": "api_key"}), cred("")}, 200,
			who{"ctxkeyid", "carol@example.com", []string{}, "api_key"}, ""},

		// (b) no authorizer context: the function verifies the credential itself.
		{"api key, bearer", []opt{authorizerContext(nil), cred(secret)}, 200,
			who{kid, "bob@example.com", []string{"orders:read", "keys:read"}, "api_key"}, ""},
		{"api key, ApiKey scheme", []opt{authorizerContext(nil), header("authorization", "ApiKey "+secret)}, 200,
			who{kid, "bob@example.com", []string{"orders:read", "keys:read"}, "api_key"}, ""},
		{"api key, X-API-Key", []opt{authorizerContext(nil), header("x-api-key", secret)}, 200,
			who{kid, "bob@example.com", []string{"orders:read", "keys:read"}, "api_key"}, ""},
		{"root key", []opt{authorizerContext(nil), cred(h.env.RootKey)}, 200,
			who{"root", "root", []string{"*"}, "root"}, ""},

		// (c) no authorizer context and no valid credential: 401, never an answer for
		// an unverified caller.
		{"no credential", []opt{authorizerContext(nil), cred("")}, 401, who{}, "missing_credential"},
		{"garbage credential", []opt{authorizerContext(nil), cred("hello")}, 401, who{}, "invalid_credential"},
		{"bad checksum", []opt{authorizerContext(nil), cred(badSum)}, 401, who{}, "invalid_credential"},
		{"unknown key", []opt{authorizerContext(nil), cred("kw_test_" + strings.Repeat("a", 16) + secret[len("kw_test_")+16:])}, 401, who{}, "invalid_credential"},
		{"revoked key", []opt{authorizerContext(nil), cred(revokedSecret)}, 401, who{}, "revoked_credential"},
		{"authorizer context without key_id, no credential", []opt{authorizerContext(map[string]any{"owner": "x"}), cred("")}, 401, who{}, "missing_credential"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.call("whoami", tc.opts...).must(t, tc.status)
			if tc.status != 200 {
				if ct := r.headers["Content-Type"]; ct != "application/problem+json" {
					t.Errorf("Content-Type = %q, want application/problem+json", ct)
				}
				if got := r.str("code"); got != tc.code {
					t.Errorf("code = %q, want %q", got, tc.code)
				}
				if got, _ := r.body["status"].(float64); int(got) != tc.status {
					t.Errorf("problem status = %v, want %d", r.body["status"], tc.status)
				}
				if r.str("title") == "" || r.str("type") == "" {
					t.Errorf("problem without type or title: %s", r.raw)
				}
				if r.headers["WWW-Authenticate"] == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				return
			}
			if ct := r.headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := r.str("key_id"); got != tc.want.keyID {
				t.Errorf("key_id = %q, want %q", got, tc.want.keyID)
			}
			if got := r.str("owner"); got != tc.want.owner {
				t.Errorf("owner = %q, want %q", got, tc.want.owner)
			}
			if got := r.str("auth"); got != tc.want.auth {
				t.Errorf("auth = %q, want %q", got, tc.want.auth)
			}
			arr, ok := r.body["scopes"].([]any)
			if !ok {
				t.Fatalf("scopes is not a JSON array: %s", r.raw)
			}
			scopes := []string{}
			for _, s := range arr {
				str, ok := s.(string)
				if !ok {
					t.Fatalf("scopes has a non-string element: %s", r.raw)
				}
				scopes = append(scopes, str)
			}
			if !sameSet(scopes, tc.want.scopes) {
				t.Errorf("scopes = %q, want %q", scopes, tc.want.scopes)
			}
			if strings.Contains(r.raw, secret) || strings.Contains(r.raw, h.env.RootKey) {
				t.Errorf("whoami echoed a secret: %s", r.raw)
			}
		})
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	count := func(s []string) map[string]int {
		m := map[string]int{}
		for _, x := range s {
			m[x]++
		}
		return m
	}
	return reflect.DeepEqual(count(a), count(b))
}
