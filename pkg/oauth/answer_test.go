package oauth_test

import (
	"maps"
	"testing"
)

// TestAnswerHeaders pins every header of each kind of answer the OAuth routes give:
// token-bearing answers and errors are no-store and no-cache, discovery and the JWKS
// are public for 5 minutes, a Basic client's failure says how to authenticate, and
// every answer carries the request's Request-Id.
func TestAnswerHeaders(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	noStore := map[string]string{"Content-Type": "application/json;charset=UTF-8", "Cache-Control": "no-store", "Pragma": "no-cache"}
	public := func(ct string) map[string]string {
		return map[string]string{"Content-Type": ct, "Cache-Control": "public, max-age=300"}
	}
	withAuth := maps.Clone(noStore)
	withAuth["WWW-Authenticate"] = `Basic realm="keyward"`
	cases := []struct {
		name   string
		r      func() response
		status int
		header map[string]string
		body   string // "" to not pin it
	}{
		{"token", func() response { return h.clientCredentials(id, secret) }, 200, noStore, ""},
		{"revoke", func() response {
			return h.call("oauth-revoke", form("token", "garbage", "client_id", id, "client_secret", secret))
		}, 200, noStore, "{}"},
		{"error", func() response {
			return h.call("token-client-credentials", form("grant_type", "password"))
		}, 400, noStore, `{"error":"unsupported_grant_type","error_description":"Supported grant types: client_credentials, refresh_token."}`},
		{"basic client failure", func() response {
			return h.call("oauth-revoke", basic(id, "nope"), form("token", "x"))
		}, 401, withAuth, `{"error":"invalid_client","error_description":"Client authentication failed."}`},
		{"discovery", func() response { return h.call("well-known-openid-configuration") }, 200, public("application/json;charset=UTF-8"), ""},
		{"jwks", func() response { return h.call("well-known-jwks") }, 200, public("application/json"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r()
			got := maps.Clone(r.headers)
			if got["Request-Id"] == "" {
				t.Errorf("no Request-Id: %v", r.headers)
			}
			delete(got, "Request-Id")
			if r.status != c.status || !maps.Equal(got, c.header) || c.body != "" && r.raw != c.body {
				t.Fatalf("answer %d %v %s\nwant   %d %v %s", r.status, got, r.raw, c.status, c.header, c.body)
			}
		})
	}
}
