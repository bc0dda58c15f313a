package oauth_test

import (
	"strconv"
	"testing"
)

// TestGrantsCountUses: each client_credentials and refresh_token grant counts one use
// of the client's key. A key out of credits gets 429 usage_exceeded (no Retry-After:
// its credits are never refilled), for both grants; a key over its rate limit gets
// 429 rate_limited with Retry-After the seconds to the window's end. Revocation
// counts nothing, so a client out of credits can still revoke its tokens.
func TestGrantsCountUses(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, map[string]any{"remaining": 2})
	first := h.clientCredentials(id, secret).must(t, 200)
	rt := first.str("refresh_token")
	if rt == "" {
		t.Fatalf("no refresh token: %s", first.raw)
	}
	next := h.refresh(id, secret, rt).must(t, 200)
	r := h.clientCredentials(id, secret).oauthError(t, 429, "usage_exceeded")
	if _, ok := r.headers["Retry-After"]; ok || r.str("error_description") == "" {
		t.Fatalf("out of credits: headers %v, body %s", r.headers, r.raw)
	}
	h.refresh(id, secret, next.str("refresh_token")).oauthError(t, 429, "usage_exceeded")
	h.call("oauth-revoke", form("token", next.str("refresh_token"), "client_id", id, "client_secret", secret)).must(t, 200)

	rid, rsecret := h.createKey([]string{"orders:read"}, map[string]any{"ratelimit": map[string]any{"limit": 1, "window_seconds": 3600}})
	h.clientCredentials(rid, rsecret).must(t, 200)
	r = h.clientCredentials(rid, rsecret).oauthError(t, 429, "rate_limited")
	now := h.clock.Now().Unix()
	if want := strconv.FormatInt(3600-now%3600, 10); r.headers["Retry-After"] != want {
		t.Fatalf("rate limited: Retry-After %q, want %s", r.headers["Retry-After"], want)
	}
}

// TestMismatchedClientSpendsNothing: a key's secret presented with another client's
// id is refused as invalid_client and spends none of the key's credits.
func TestMismatchedClientSpendsNothing(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, map[string]any{"remaining": 1})
	other, _ := h.createKey([]string{"orders:read"}, nil)
	for range 3 {
		h.clientCredentials(other, secret).oauthError(t, 401, "invalid_client")
	}
	h.clientCredentials(id, secret).must(t, 200)
}
