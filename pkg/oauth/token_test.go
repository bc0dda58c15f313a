package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
	"github.com/keyward/keyward/pkg/token"
)

// claimsOf decodes a JWT's header and claims without verifying (the verifying
// tests are below).
func claimsOf(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact token: %q", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func TestClientCredentials(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read", "orders:write"}, nil)
	cases := []struct {
		name string
		r    func() response
	}{
		{"body", func() response { return h.clientCredentials(id, secret) }},
		{"basic", func() response {
			return h.call("token-client-credentials-basic", basic(id, secret), form("grant_type", "client_credentials"))
		}},
		{"oidc path", func() response {
			return h.call("oauth-oidc-token", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.r().must(t, 200)
			if r.headers["Cache-Control"] != "no-store" || r.headers["Pragma"] != "no-cache" {
				t.Errorf("headers %v", r.headers)
			}
			if r.str("token_type") != "Bearer" || r.body["expires_in"] != 300.0 || r.body["refresh_expires_in"] != 36000.0 {
				t.Errorf("body %s", r.raw)
			}
			if r.str("scope") != "orders:read orders:write" {
				t.Errorf("scope %q", r.str("scope"))
			}
			if !strings.HasPrefix(r.str("refresh_token"), "kwr_") {
				t.Errorf("refresh_token %q", r.str("refresh_token"))
			}
			hdr, cl := claimsOf(t, r.str("access_token"))
			if hdr["alg"] != "RS256" || hdr["kid"] == nil || hdr["kid"] == "" {
				t.Errorf("header %v", hdr)
			}
			now := float64(h.clock.Now().Unix())
			if cl["iss"] != issuer || cl["sv"] != 1.0 || cl["sub"] != id || cl["client_id"] != id ||
				cl["scope"] != "orders:read orders:write" || cl["iat"] != now || cl["nbf"] != now || cl["exp"] != now+300 || cl["jti"] == "" {
				t.Errorf("claims %v", cl)
			}
			if aud, _ := cl["aud"].(string); aud != "keyward" {
				if l, _ := cl["aud"].([]any); len(l) != 1 || l[0] != "keyward" {
					t.Errorf("aud %v", cl["aud"])
				}
			}
		})
	}
	if n := count(h.events(id), store.EventTokenIssued); n != 3 {
		t.Errorf("%d token.issued events, want 3: %v", n, h.events(id))
	}
	// The refresh token is stored only as a hash.
	r := h.clientCredentials(id, secret).must(t, 200)
	for _, item := range h.env.Items(t) {
		b, _ := json.Marshal(item)
		if strings.Contains(string(b), r.str("refresh_token")) || strings.Contains(string(b), strings.TrimPrefix(r.str("refresh_token"), "kwr_")[16:]) {
			t.Fatalf("a refresh token is stored in plaintext: %s", b)
		}
	}
}

func TestScopeNarrowing(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read", "keys:read", "credentials:delete@cred/prod-*"}, nil)
	cases := []struct {
		scope, want, err string
	}{
		{"orders:read", "orders:read", ""},
		{"keys:read orders:read", "keys:read orders:read", ""},
		{"credentials:delete@cred/prod-db", "credentials:delete@cred/prod-db", ""},
		{"orders:write", "", "invalid_scope"},
		{"orders:read keys:write", "", "invalid_scope"},
		{"credentials:delete@cred/dev-db", "", "invalid_scope"},
		{"*", "", "invalid_scope"},
		{"BAD SCOPE!", "", "invalid_scope"},
	}
	for _, c := range cases {
		t.Run(c.scope, func(t *testing.T) {
			r := h.clientCredentials(id, secret, "scope", c.scope)
			if c.err != "" {
				r.oauthError(t, 400, c.err)
				return
			}
			r.must(t, 200)
			if r.str("scope") != c.want {
				t.Errorf("scope %q, want %q", r.str("scope"), c.want)
			}
			if _, cl := claimsOf(t, r.str("access_token")); cl["scope"] != c.want {
				t.Errorf("claim scope %v", cl["scope"])
			}
		})
	}
	// A narrowed token is bounded by its scope on the management API.
	tok := h.clientCredentials(id, secret, "scope", "orders:read").must(t, 200).str("access_token")
	h.keysCall("keys-list", tok, "").must(t, 403)
	tok = h.clientCredentials(id, secret, "scope", "keys:read").must(t, 200).str("access_token")
	h.keysCall("keys-list", tok, "").must(t, 200)
	// Refresh may narrow further, never widen.
	rt := h.clientCredentials(id, secret, "scope", "keys:read orders:read").must(t, 200).str("refresh_token")
	r := h.refresh(id, secret, rt, "scope", "keys:read").must(t, 200)
	if r.str("scope") != "keys:read" {
		t.Errorf("refreshed scope %q", r.str("scope"))
	}
	h.refresh(id, secret, r.str("refresh_token"), "scope", "credentials:delete@cred/prod-db").oauthError(t, 400, "invalid_scope")
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	otherID, otherSecret := h.createKey([]string{"orders:read"}, nil)
	revokedID, revokedSecret := h.createKey([]string{"orders:read"}, nil)
	h.keysCall("keys-revoke", h.env.RootKey, "").must(t, 404) // the fixture's id is unknown
	revokeReq := fixture(t, "keys-revoke")
	revokeReq.Headers["authorization"] = "Bearer " + h.env.RootKey
	revokeReq.PathParameters = map[string]string{"id": revokedID}
	serve(t, h.keys, revokeReq).must(t, 200)
	deletedID, deletedSecret := h.createKey([]string{"orders:read"}, nil)
	del := fixture(t, "keys-delete")
	del.Headers["authorization"] = "Bearer " + h.env.RootKey
	del.PathParameters = map[string]string{"id": deletedID}
	serve(t, h.keys, del).must(t, 204)
	cidrID, cidrSecret := h.createKey([]string{"orders:read"}, map[string]any{"allowed_cidrs": []string{"10.0.0.0/8"}})
	expiringID, expiringSecret := h.createKey([]string{"orders:read"}, map[string]any{"expires_in_days": 1})

	cc := func(extra ...string) []string {
		return append([]string{"grant_type", "client_credentials"}, extra...)
	}
	cases := []struct {
		name   string
		opts   []opt
		status int
		code   string
		basic  bool // WWW-Authenticate: Basic expected
	}{
		{"no grant_type", []opt{form("client_id", id, "client_secret", secret)}, 400, "invalid_request", false},
		{"unsupported grant", []opt{form("grant_type", "password", "client_id", id, "client_secret", secret, "username", "a", "password", "b")}, 400, "unsupported_grant_type", false},
		{"authorization_code", []opt{form("grant_type", "authorization_code", "code", "x")}, 400, "unsupported_grant_type", false},
		{"repeated parameter", []opt{rawBody("grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret + "&scope=orders:read&scope=orders:read")}, 400, "invalid_request", false},
		{"json body", []opt{header("content-type", "application/json"), rawBody(`{"grant_type":"client_credentials"}`)}, 400, "invalid_request", false},
		{"no content type", []opt{header("content-type", "")}, 400, "invalid_request", false},
		{"no client authentication", []opt{form(cc()...)}, 401, "invalid_client", false},
		{"client_id only", []opt{form(cc("client_id", id)...)}, 401, "invalid_client", false},
		{"wrong secret", []opt{form(cc("client_id", id, "client_secret", otherSecret)...)}, 401, "invalid_client", false},
		{"malformed secret", []opt{form(cc("client_id", id, "client_secret", "nope")...)}, 401, "invalid_client", false},
		{"wrong basic", []opt{basic(id, otherSecret), form(cc()...)}, 401, "invalid_client", true},
		{"garbled basic", []opt{header("authorization", "Basic %%%"), form(cc()...)}, 401, "invalid_client", true},
		{"basic and body secret", []opt{basic(id, secret), form(cc("client_secret", secret)...)}, 400, "invalid_request", false},
		{"root credential as client", []opt{form(cc("client_id", "root", "client_secret", h.env.RootKey)...)}, 401, "invalid_client", false},
		{"root credential as a key's secret", []opt{form(cc("client_id", id, "client_secret", h.env.RootKey)...)}, 401, "invalid_client", false},
		{"root credential by basic", []opt{basic("root", h.env.RootKey), form(cc()...)}, 401, "invalid_client", true},
		{"root credential refreshing", []opt{form("grant_type", "refresh_token", "refresh_token", "kwr_aaaaaaaaaaaaaaaa"+strings.Repeat("A", 43), "client_id", "root", "client_secret", h.env.RootKey)}, 401, "invalid_client", false},
		{"revoked key", []opt{form(cc("client_id", revokedID, "client_secret", revokedSecret)...)}, 401, "invalid_client", false},
		{"deleted key", []opt{form(cc("client_id", deletedID, "client_secret", deletedSecret)...)}, 401, "invalid_client", false},
		{"outside allowed_cidrs", []opt{form(cc("client_id", cidrID, "client_secret", cidrSecret)...)}, 401, "invalid_client", false},
		{"other client's id", []opt{form(cc("client_id", otherID, "client_secret", secret)...)}, 401, "invalid_client", false},
		{"refresh without refresh_token", []opt{form("grant_type", "refresh_token", "client_id", id, "client_secret", secret)}, 400, "invalid_request", false},
		{"unknown refresh token", []opt{form("grant_type", "refresh_token", "refresh_token", "kwr_aaaaaaaaaaaaaaaa"+strings.Repeat("A", 43), "client_id", id, "client_secret", secret)}, 400, "invalid_grant", false},
		{"malformed refresh token", []opt{form("grant_type", "refresh_token", "refresh_token", "garbage", "client_id", id, "client_secret", secret)}, 400, "invalid_grant", false},
		{"malformed scope", []opt{form(cc("client_id", id, "client_secret", secret, "scope", "Orders:Read")...)}, 400, "invalid_scope", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.call("token-client-credentials", c.opts...).oauthError(t, c.status, c.code)
			if r.str("error_description") == "" {
				t.Errorf("no error_description: %s", r.raw)
			}
			got := r.headers["WWW-Authenticate"]
			if c.basic && got != `Basic realm="keyward"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			if !c.basic && got != "" {
				t.Errorf("unexpected WWW-Authenticate %q", got)
			}
		})
	}
	t.Run("allowed network", func(t *testing.T) {
		h.call("token-client-credentials", form(cc("client_id", cidrID, "client_secret", cidrSecret)...), sourceIP("10.1.2.3")).must(t, 200)
	})
	t.Run("expired key", func(t *testing.T) {
		r := h.clientCredentials(expiringID, expiringSecret).must(t, 200)
		if r.body["refresh_expires_in"].(float64) > 36000 {
			t.Errorf("refresh outlives nothing: %v", r.body["refresh_expires_in"])
		}
		h.clock.Advance(25 * time.Hour)
		h.clientCredentials(expiringID, expiringSecret).oauthError(t, 401, "invalid_client")
		h.refresh(expiringID, expiringSecret, r.str("refresh_token")).oauthError(t, 401, "invalid_client")
	})
	t.Run("body too large", func(t *testing.T) {
		h.call("token-client-credentials", rawBody("grant_type=client_credentials&x="+strings.Repeat("a", 70<<10))).oauthError(t, 413, "invalid_request")
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	first := h.clientCredentials(id, secret).must(t, 200)
	rt1 := first.str("refresh_token")

	second := h.refresh(id, secret, rt1).must(t, 200)
	rt2 := second.str("refresh_token")
	if rt2 == rt1 || !strings.HasPrefix(rt2, "kwr_") || second.str("access_token") == first.str("access_token") {
		t.Fatalf("refresh did not rotate: %s", second.raw)
	}
	if second.headers["Cache-Control"] != "no-store" || second.str("scope") != "orders:read" {
		t.Errorf("answer %v %s", second.headers, second.raw)
	}
	// Basic authentication works for refresh too.
	third := h.call("token-refresh", basic(id, secret), form("grant_type", "refresh_token", "refresh_token", rt2)).must(t, 200)
	rt3 := third.str("refresh_token")

	// Another client cannot use it, and its attempt revokes nothing.
	otherID, otherSecret := h.createKey([]string{"orders:read"}, nil)
	h.refresh(otherID, otherSecret, rt3).oauthError(t, 400, "invalid_grant")

	// Reusing rt1 (already used) revokes the whole family: rt3 dies with it.
	h.refresh(id, secret, rt1).oauthError(t, 400, "invalid_grant")
	h.refresh(id, secret, rt3).oauthError(t, 400, "invalid_grant")
	evs := h.events(id)
	if count(evs, store.EventTokenRefreshed) != 2 || count(evs, store.EventTokenRevoked) != 1 || count(evs, store.EventTokenIssued) != 1 {
		t.Errorf("events %v", evs)
	}
	if count(h.events(otherID), store.EventTokenRevoked) != 0 {
		t.Errorf("other client's events %v", h.events(otherID))
	}
	// A fresh grant is unaffected.
	rt := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")
	h.refresh(id, secret, rt).must(t, 200)
}

func TestRefreshConcurrentUse(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	rt := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")
	const n = 8
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fixture(t, "token-refresh")
			form("grant_type", "refresh_token", "refresh_token", rt, "client_id", id, "client_secret", secret)(&req)
			resp, err := h.oauth.Serve(t.Context(), req)
			if err != nil {
				t.Error(err)
			}
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one refresh token succeeded, want exactly 1 (%v)", ok, n, statuses)
	}
}

func TestRefreshFollowsKey(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read", "keys:read"}, nil)
	rt := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")

	// Rotating the key: the refresh token lives on while the old secret does.
	rot := fixture(t, "keys-rotate")
	rot.Headers["authorization"] = "Bearer " + h.env.RootKey
	rot.PathParameters = map[string]string{"id": id}
	rot.Body = `{"grace_seconds": 3600}`
	newSecret := serve(t, h.keys, rot).must(t, 200).str("secret")
	r := h.refresh(id, newSecret, rt).must(t, 200)
	rt = r.str("refresh_token")
	rt = h.refresh(id, secret, rt).must(t, 200).str("refresh_token") // old secret, in grace
	// A family issued under the new secret outlives the grace.
	rtNew := h.clientCredentials(id, newSecret).must(t, 200).str("refresh_token")
	h.clock.Advance(time.Hour + time.Second)
	h.refresh(id, newSecret, rt).oauthError(t, 400, "invalid_grant")
	rtNew = h.refresh(id, newSecret, rtNew).must(t, 200).str("refresh_token")

	// Narrowing the key's scopes narrows refreshed tokens.
	patch := fixture(t, "keys-patch")
	patch.Headers["authorization"] = "Bearer " + h.env.RootKey
	patch.PathParameters = map[string]string{"id": id}
	patch.Body = `{"scopes": ["orders:read"]}`
	serve(t, h.keys, patch).must(t, 200)
	r = h.refresh(id, newSecret, rtNew).must(t, 200)
	if r.str("scope") != "orders:read" {
		t.Errorf("scope after narrowing the key: %q", r.str("scope"))
	}
	rtNew = r.str("refresh_token")

	// Revoking the key ends its refresh tokens.
	rev := fixture(t, "keys-revoke")
	rev.Headers["authorization"] = "Bearer " + h.env.RootKey
	rev.PathParameters = map[string]string{"id": id}
	serve(t, h.keys, rev).must(t, 200)
	h.refresh(id, newSecret, rtNew).oauthError(t, 401, "invalid_client")
}

func TestRefreshTokenExpires(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	rt := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")
	h.clock.Advance(36000 * time.Second)
	h.refresh(id, secret, rt).oauthError(t, 400, "invalid_grant")
}

// TestRefreshFamilyStaysBounded: a family refreshed for a long time keeps a bounded
// memory of spent tokens, and reuse of a recent one still revokes it.
func TestRefreshFamilyStaysBounded(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	rt := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")
	var spent []string
	for range 40 {
		spent = append(spent, rt)
		rt = h.refresh(id, secret, rt).must(t, 200).str("refresh_token")
	}
	presented, ok := token.ParseRefresh(rt)
	if !ok {
		t.Fatalf("refresh token %q does not parse", rt)
	}
	f, err := h.api.Families.Get(t.Context(), presented.Family)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Used) > 16 || len(f.Used) < 8 {
		t.Fatalf("family remembers %d spent tokens after 40 refreshes, want 8 to 16", len(f.Used))
	}
	// The oldest spent token is refused without revoking anything; a recent one
	// is reuse, and revokes the family.
	h.refresh(id, secret, spent[0]).oauthError(t, 400, "invalid_grant")
	h.refresh(id, secret, rt).must(t, 200)
	if n := count(h.events(id), store.EventTokenRevoked); n != 0 {
		t.Fatalf("a forgotten spent token revoked the family (%d token.revoked)", n)
	}
	h.refresh(id, secret, spent[len(spent)-1]).oauthError(t, 400, "invalid_grant")
	if n := count(h.events(id), store.EventTokenRevoked); n != 1 {
		t.Fatalf("reuse of a recent spent token: %d token.revoked, want 1", n)
	}
}

// TestClientLockout: wrong client secrets from one address lock that client id and
// address (429 invalid_client); the client on another address keeps working.
func TestClientLockout(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	wrong := apikey.NewWithID(testenv.KeyPrefix, id).String()
	for range 5 {
		h.clientCredentials(id, wrong).oauthError(t, 401, "invalid_client")
	}
	h.clientCredentials(id, wrong).oauthError(t, 429, "invalid_client")
	h.clientCredentials(id, secret).oauthError(t, 429, "invalid_client")
	r := h.call("token-client-credentials", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret),
		func(req *events.APIGatewayV2HTTPRequest) { req.RequestContext.HTTP.SourceIP = "198.51.100.200" })
	r.must(t, 200)
}
