package oauth_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/oauth"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
)

func TestRevocation(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"keys:read"}, nil)
	otherID, otherSecret := h.createKey([]string{"keys:read"}, nil)
	revoke := func(cid, csecret, tok string, extra ...string) response {
		return h.call("oauth-revoke", form(append([]string{"token", tok, "client_id", cid, "client_secret", csecret}, extra...)...))
	}

	t.Run("refresh token revokes its family", func(t *testing.T) {
		rt1 := h.clientCredentials(id, secret).must(t, 200).str("refresh_token")
		rt2 := h.refresh(id, secret, rt1).must(t, 200).str("refresh_token")
		revoke(id, secret, rt1, "token_type_hint", "refresh_token").must(t, 200) // a used one of the family
		h.refresh(id, secret, rt2).oauthError(t, 400, "invalid_grant")
	})
	t.Run("another client's refresh token is not revoked", func(t *testing.T) {
		rt := h.clientCredentials(otherID, otherSecret).must(t, 200).str("refresh_token")
		r := revoke(id, secret, rt).must(t, 200)
		if r.headers["Cache-Control"] != "no-store" {
			t.Errorf("headers %v", r.headers)
		}
		h.refresh(otherID, otherSecret, rt).must(t, 200)
	})
	t.Run("access token", func(t *testing.T) {
		tok := h.clientCredentials(id, secret).must(t, 200).str("access_token")
		h.keysCall("keys-list", tok, "").must(t, 200)
		revoke(id, secret, tok, "token_type_hint", "access_token").must(t, 200)
		r := h.keysCall("keys-list", tok, "").must(t, 401)
		if r.str("code") != "revoked_credential" {
			t.Errorf("answer %s", r.raw)
		}
		revoke(id, secret, tok).must(t, 200) // twice is fine
	})
	t.Run("another client's access token is not revoked", func(t *testing.T) {
		tok := h.clientCredentials(otherID, otherSecret).must(t, 200).str("access_token")
		revoke(id, secret, tok).must(t, 200)
		h.keysCall("keys-list", tok, "").must(t, 200)
	})
	t.Run("unknown tokens", func(t *testing.T) {
		for _, tok := range []string{"garbage", "kwr_aaaaaaaaaaaaaaaa" + strings.Repeat("A", 43), "eyJ.x.y"} {
			revoke(id, secret, tok).must(t, 200)
		}
	})
	t.Run("errors", func(t *testing.T) {
		h.call("oauth-revoke", form("client_id", id, "client_secret", secret)).oauthError(t, 400, "invalid_request")
		h.call("oauth-revoke", form("token", "x", "client_id", id, "client_secret", otherSecret)).oauthError(t, 401, "invalid_client")
		r := h.call("oauth-revoke", basic(id, otherSecret), form("token", "x")).oauthError(t, 401, "invalid_client")
		if r.headers["WWW-Authenticate"] != `Basic realm="keyward"` {
			t.Errorf("headers %v", r.headers)
		}
	})
	if n := count(h.events(id), store.EventTokenRevoked); n != 2 {
		t.Errorf("%d token.revoked events, want 2: %v", n, h.events(id))
	}
	if n := count(h.events(otherID), store.EventTokenRevoked); n != 0 {
		t.Errorf("other client: %v", h.events(otherID))
	}
}

func TestIntrospection(t *testing.T) {
	h := newHarness(t)
	rsID, rsSecret := h.createKey([]string{"tokens:introspect"}, nil)
	_, plainSecret := h.createKey([]string{"orders:read"}, nil)
	id, secret := h.createKey([]string{"orders:read", "orders:write"}, nil)
	issued := h.clientCredentials(id, secret, "scope", "orders:read").must(t, 200)
	at, rt := issued.str("access_token"), issued.str("refresh_token")
	introspect := func(tok string, opts ...opt) response {
		return h.call("oauth-introspect", append([]opt{bearer(rsSecret), form("token", tok)}, opts...)...)
	}

	t.Run("access token of another client", func(t *testing.T) {
		r := introspect(at).must(t, 200)
		_, cl := claimsOf(t, at)
		if r.body["active"] != true || r.str("client_id") != id || r.str("sub") != id || r.str("scope") != "orders:read" ||
			r.str("token_type") != "Bearer" || r.str("jti") != cl["jti"] || r.body["exp"] != cl["exp"] || r.str("iss") != "http://127.0.0.1:3000" {
			t.Errorf("introspection %s", r.raw)
		}
	})
	t.Run("refresh token", func(t *testing.T) {
		r := introspect(rt).must(t, 200)
		if r.body["active"] != true || r.str("client_id") != id || r.str("token_type") != "refresh_token" || r.str("scope") != "orders:read" {
			t.Errorf("introspection %s", r.raw)
		}
	})
	t.Run("basic client authentication", func(t *testing.T) {
		r := h.call("oauth-introspect", basic(rsID, rsSecret), form("token", at)).must(t, 200)
		if r.body["active"] != true {
			t.Errorf("introspection %s", r.raw)
		}
	})
	t.Run("an access token with tokens:introspect", func(t *testing.T) {
		rsToken := h.clientCredentials(rsID, rsSecret).must(t, 200).str("access_token")
		if r := introspect(at, bearer(rsToken)).must(t, 200); r.body["active"] != true {
			t.Errorf("introspection %s", r.raw)
		}
	})
	inactive := func(t *testing.T, tok string) {
		t.Helper()
		r := introspect(tok).must(t, 200)
		if len(r.body) != 1 || r.body["active"] != false {
			t.Errorf("introspection of an inactive token: %s", r.raw)
		}
	}
	t.Run("inactive", func(t *testing.T) {
		inactive(t, "garbage")
		inactive(t, "kwr_aaaaaaaaaaaaaaaa"+strings.Repeat("A", 43))
		inactive(t, at[:len(at)-4]+"AAAA") // bad signature
		rt2 := h.refresh(id, secret, rt).must(t, 200).str("refresh_token")
		inactive(t, rt) // used
		h.call("oauth-revoke", form("token", rt2, "client_id", id, "client_secret", secret)).must(t, 200)
		inactive(t, rt2) // revoked
		at2 := h.clientCredentials(id, secret).must(t, 200).str("access_token")
		h.call("oauth-revoke", form("token", at2, "client_id", id, "client_secret", secret)).must(t, 200)
		inactive(t, at2)
		at3 := h.clientCredentials(id, secret).must(t, 200).str("access_token")
		h.clock.Advance(301*time.Second + 30*time.Second)
		inactive(t, at3) // expired
	})
	t.Run("caller", func(t *testing.T) {
		introspect(at, bearer(plainSecret)).oauthError(t, 403, "insufficient_scope")
		r := introspect(at, header("authorization", "")).oauthError(t, 401, "invalid_client")
		if r.headers["WWW-Authenticate"] == "" {
			t.Errorf("headers %v", r.headers)
		}
		introspect(at, bearer("kw_test_nope")).oauthError(t, 401, "invalid_client")
		h.call("oauth-introspect", bearer(rsSecret), form("x", "y")).oauthError(t, 400, "invalid_request")
	})
}

func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	r := h.call("well-known-openid-configuration").must(t, 200)
	want := map[string]string{
		"issuer":                 "http://127.0.0.1:3000",
		"token_endpoint":         "http://127.0.0.1:3000/v1/oauth/token",
		"revocation_endpoint":    "http://127.0.0.1:3000/v1/oauth/revoke",
		"introspection_endpoint": "http://127.0.0.1:3000/v1/oauth/introspect",
		"jwks_uri":               "http://127.0.0.1:3000/.well-known/jwks.json",
	}
	for k, v := range want {
		if r.str(k) != v {
			t.Errorf("%s = %q, want %q", k, r.str(k), v)
		}
	}
	for _, k := range []string{"grant_types_supported", "token_endpoint_auth_methods_supported", "response_types_supported"} {
		if l, _ := r.body[k].([]any); len(l) == 0 {
			t.Errorf("%s missing: %s", k, r.raw)
		}
	}
	// The issuer is configured: a caller's Host header or the domain it called never
	// changes it, in the document or in the tokens it is then handed.
	evil := func(r *events.APIGatewayV2HTTPRequest) {
		r.RequestContext.DomainName = "evil.example.com"
		r.RequestContext.DomainPrefix = "evil"
		r.Headers["host"] = "evil.example.com"
		r.Headers["x-forwarded-host"] = "evil.example.com"
	}
	doc := h.call("well-known-openid-configuration", evil).must(t, 200)
	for k, v := range want {
		if doc.str(k) != v {
			t.Errorf("with an attacker's Host: %s = %q, want %q", k, doc.str(k), v)
		}
	}
	id, secret := h.createKey([]string{"orders:read"}, nil)
	tok := h.call("token-client-credentials", evil, form("grant_type", "client_credentials", "client_id", id, "client_secret", secret)).must(t, 200)
	if _, cl := claimsOf(t, tok.str("access_token")); cl["iss"] != issuer {
		t.Errorf("with an attacker's Host: token iss %v, want %s", cl["iss"], issuer)
	}
	rt := h.call("token-refresh", evil, form("grant_type", "refresh_token", "refresh_token", tok.str("refresh_token"), "client_id", id, "client_secret", secret)).must(t, 200)
	if _, cl := claimsOf(t, rt.str("access_token")); cl["iss"] != issuer {
		t.Errorf("with an attacker's Host: refreshed token iss %v, want %s", cl["iss"], issuer)
	}
}

// TestNoIssuerNoStart: the token function does not start without ISSUER, and an API
// built without one answers server_error rather than derive it from the request.
func TestNoIssuerNoStart(t *testing.T) {
	cfg := oauth.Shared{SigningKeysSecretID: "signing", Audience: service.DefaultAudience}
	if _, err := oauth.ConfigFromEnv(cfg); err == nil || !strings.Contains(err.Error(), "ISSUER") {
		t.Fatalf("ConfigFromEnv without ISSUER: %v", err)
	}
	cfg.Issuer = issuer
	if _, err := oauth.ConfigFromEnv(cfg); err != nil {
		t.Fatalf("ConfigFromEnv with ISSUER: %v", err)
	}
	h := newHarness(t)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	h.api.Signer.Issuer = ""
	h.call("well-known-openid-configuration").oauthError(t, 500, "server_error")
	h.clientCredentials(id, secret).oauthError(t, 500, "server_error")
}

// publicKeys returns the published JWKS and checks it carries no private member.
func (h *harness) publicKeys(t *testing.T) (string, []string) {
	t.Helper()
	r := h.call("well-known-jwks").must(t, 200)
	var kids []string
	for _, k := range r.body["keys"].([]any) {
		m := k.(map[string]any)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := m[private]; ok {
				t.Fatalf("the published JWKS carries private member %q", private)
			}
		}
		if m["kty"] != "RSA" || m["alg"] != "RS256" || m["use"] != "sig" {
			t.Errorf("key %v", m)
		}
		kids = append(kids, m["kid"].(string))
	}
	return r.raw, kids
}

func kidOf(t *testing.T, tok string) string {
	hdr, _ := claimsOf(t, tok)
	return hdr["kid"].(string)
}

func TestSigningKeyRotation(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"keys:read"}, nil)
	old := h.clientCredentials(id, secret).must(t, 200).str("access_token")
	_, kids := h.publicKeys(t)
	if len(kids) != 1 || kids[0] != kidOf(t, old) {
		t.Fatalf("kids %v, token kid %s", kids, kidOf(t, old))
	}

	h.rotate()
	// Warm instances pick the new key up within the cache bound (60 s).
	h.clock.Advance(jwks.DefaultTTL)
	fresh := h.clientCredentials(id, secret).must(t, 200).str("access_token")
	if kidOf(t, fresh) == kidOf(t, old) {
		t.Fatal("a token issued after rotation carries the old kid")
	}
	_, kids = h.publicKeys(t)
	if len(kids) != 2 || kids[0] != kidOf(t, fresh) || kids[1] != kidOf(t, old) {
		t.Fatalf("kids %v after rotation", kids)
	}
	// Both verify, through the management API (the shared verifier).
	h.keysCall("keys-list", old, "").must(t, 200)
	h.keysCall("keys-list", fresh, "").must(t, 200)

	// A verifier that cached the set before the rotation sees the new kid at once
	// (a refresh on an unknown kid), e.g. another function's warm instance.
	other := jwks.NewCache(h.env.SM, h.signing)
	other.Now = h.clock.Now
	tv := *h.deps.Tokens
	tv.Keys = other
	if _, reason, err := tv.VerifyToken(context.Background(), old, h.clock.Now()); err != nil || reason != auth.Accepted {
		t.Fatalf("old token: %v %v", reason, err)
	}
	h.rotate()
	h.clock.Advance(jwks.DefaultMinRefresh)
	newest := h.clientCredentials(id, secret)
	_ = newest
	h.clock.Advance(jwks.DefaultTTL)
	newest = h.clientCredentials(id, secret).must(t, 200)
	if _, reason, err := tv.VerifyToken(context.Background(), newest.str("access_token"), h.clock.Now()); err != nil || reason != auth.Accepted {
		t.Fatalf("token of a key rotated in after the cache was filled: %v %v", reason, err)
	}
}

func TestJWKSRetention(t *testing.T) {
	h := newHarness(t)
	_, k1 := h.publicKeys(t)
	h.rotate() // k2 current, k1 retired now
	h.clock.Advance(time.Hour)
	h.rotate() // k3 current, k2 retired now, k1 retired 1 h ago: kept
	h.clock.Advance(jwks.DefaultTTL)
	_, kids := h.publicKeys(t)
	if len(kids) != 3 || kids[2] != k1[0] {
		t.Fatalf("after two rotations an hour apart: %v (k1 %v)", kids, k1)
	}
	h.clock.Advance(time.Hour + time.Minute)
	h.rotate() // k1 retired > 2 h ago: dropped; k2 retired 1 h ago: kept; k3 previous: kept
	h.clock.Advance(jwks.DefaultTTL)
	_, after := h.publicKeys(t)
	if len(after) != 3 || after[1] != kids[0] || after[2] != kids[1] {
		t.Fatalf("after a third rotation: %v (before %v)", after, kids)
	}
	for _, k := range after {
		if k == k1[0] {
			t.Fatalf("a key retired more than 2 h ago is still published: %v", after)
		}
	}
	// The secret records each retired key's retirement time.
	set, err := h.deps.SigningKeys.Set(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !set.Keys[0].RetiredAt.IsZero() || set.Keys[1].RetiredAt.IsZero() || set.Keys[2].RetiredAt.IsZero() {
		t.Errorf("retirement times %v %v %v", set.Keys[0].RetiredAt, set.Keys[1].RetiredAt, set.Keys[2].RetiredAt)
	}
}

// TestVerifyWithAnotherLibrary checks an issued token (signed with go-jose) with
// lestrrat-go/jwx, given only the published JWKS JSON, as a resource server would.
func TestVerifyWithAnotherLibrary(t *testing.T) {
	h := newHarness(t)
	h.rotate() // two keys published: the verifier must pick by kid
	h.clock.Advance(jwks.DefaultTTL)
	id, secret := h.createKey([]string{"orders:read"}, nil)
	tok := h.clientCredentials(id, secret).must(t, 200).str("access_token")
	raw, _ := h.publicKeys(t)
	set, err := jwk.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	parsed, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithIssuer(issuer),
		jwt.WithAudience("keyward"), jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })))
	if err != nil {
		t.Fatalf("jwx refused the token: %v", err)
	}
	if sub, _ := parsed.Subject(); sub != id {
		t.Errorf("sub %q", sub)
	}
	var scope string
	if err := parsed.Get("scope", &scope); err != nil || scope != "orders:read" {
		t.Errorf("scope %q %v", scope, err)
	}
	// A token signed by another key is refused by jwx too.
	tampered := tok[:strings.LastIndex(tok, ".")+1] + strings.Repeat("A", len(tok)-strings.LastIndex(tok, ".")-1)
	if _, err := jwt.ParseString(tampered, jwt.WithKeySet(set)); err == nil {
		t.Error("jwx accepted a tampered signature")
	}
}

// TestManagementAPIAcceptsAccessTokens: the keys function takes a token through the
// shared verifier, bounded by the token's scopes.
func TestManagementAPIAcceptsAccessTokens(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"keys:read", "orders:read"}, nil)
	tok := h.clientCredentials(id, secret).must(t, 200).str("access_token")
	h.keysCall("keys-list", tok, "").must(t, 200)
	body, _ := json.Marshal(map[string]any{"name": "x", "scopes": []string{"orders:read"}})
	r := h.keysCall("keys-create", tok, string(body)).must(t, 403)
	if r.str("code") != "insufficient_scope" {
		t.Errorf("answer %s", r.raw)
	}
	// The token's principal is an access token of the key.
	d, err := h.deps.Verifier.Verify(context.Background(), tok, "203.0.113.10")
	if err != nil || !d.OK() || d.Principal.Kind != auth.KindAccessToken || d.Principal.KeyID != id {
		t.Fatalf("decision %+v %v", d, err)
	}
	// Expired tokens are refused.
	h.clock.Advance(300*time.Second + time.Minute)
	if r := h.keysCall("keys-list", tok, "").must(t, 401); r.str("code") != "expired_credential" {
		t.Errorf("answer %s", r.raw)
	}
}
