package oauth_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/token"
)

// TestForeignIssuerRefusedEverywhere: a token signed by this deployment's own signing
// key, for its own key id and secret version, but with another iss (as another
// deployment sharing the key, or a past derivation from a Host header, would mint)
// is refused by the management API, the authorizer and introspection.
func TestForeignIssuerRefusedEverywhere(t *testing.T) {
	h := newHarness(t)
	allowed := h.authorizer()
	_, rsSecret := h.createKey([]string{"tokens:introspect"}, nil)
	id, _ := h.createKey([]string{"keys:read"}, nil)
	mint := func(iss string) string {
		s := &token.Signer{Keys: h.deps.SigningKeys, Issuer: iss, Audience: "keyward", Lifetime: h.api.Signer.Lifetime}
		a, err := s.Sign(context.Background(), token.Grant{KeyID: id, JTI: token.NewJTI(),
			Scopes: scope.MustParseList([]string{"keys:read"}), SecretN: 1}, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return a.Token
	}
	introspect := func(tok string) response {
		return h.call("oauth-introspect", bearer(rsSecret), form("token", tok)).must(t, 200)
	}
	// The control: the same minting with the configured issuer is accepted everywhere.
	own := mint(issuer)
	h.keysCall("keys-list", own, "").must(t, 200)
	if !allowed(own) {
		t.Fatal("authorizer refused a token of the configured issuer")
	}
	if r := introspect(own); r.body["active"] != true {
		t.Fatalf("introspection of a token of the configured issuer: %s", r.raw)
	}
	for _, iss := range []string{"https://evil.example.com", "https://abcdef123.execute-api.us-east-1.amazonaws.com", issuer + "/"} {
		t.Run(iss, func(t *testing.T) {
			tok := mint(iss)
			h.keysCall("keys-list", tok, "").must(t, 401)
			if allowed(tok) {
				t.Error("authorizer accepted a token of another issuer")
			}
			if r := introspect(tok); len(r.body) != 1 || r.body["active"] != false {
				t.Errorf("introspection of a token of another issuer: %s", r.raw)
			}
			// Nor can it serve as an introspecting caller.
			h.call("oauth-introspect", bearer(tok), form("token", own)).oauthError(t, 401, "invalid_client")
		})
	}
}
