package oauth_test

import (
	"testing"
)

// TestRootAtTheTokenFunction: the token endpoint never issues for the root credential,
// whether or not the token function can read it; introspection takes it only where
// the function is given ROOT_SECRET_ID, and is an unknown credential otherwise.
func TestRootAtTheTokenFunction(t *testing.T) {
	for _, root := range []bool{true, false} {
		name := "with ROOT_SECRET_ID"
		if !root {
			name = "without ROOT_SECRET_ID"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarnessWith(t, root)
			id, secret := h.createKey([]string{"orders:read"}, nil)
			at := h.clientCredentials(id, secret).must(t, 200).str("access_token")
			for _, opts := range [][]opt{
				{form("grant_type", "client_credentials", "client_id", "root", "client_secret", h.env.RootKey)},
				{form("grant_type", "client_credentials", "client_id", id, "client_secret", h.env.RootKey)},
				{basic("root", h.env.RootKey), form("grant_type", "client_credentials")},
			} {
				r := h.call("token-client-credentials", opts...).oauthError(t, 401, "invalid_client")
				if r.str("access_token") != "" {
					t.Fatalf("a token was issued for the root credential: %s", r.raw)
				}
			}
			r := h.call("oauth-introspect", bearer(h.env.RootKey), form("token", at))
			if root {
				if r.must(t, 200).body["active"] != true {
					t.Fatalf("root introspection: %s", r.raw)
				}
				return
			}
			r.oauthError(t, 401, "invalid_client")
		})
	}
}
