package oauth_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestAccessTokenCallerInheritsItsKeysLimits: a 5-minute access token of a 30-day key
// cannot create a 10-year key, nor one usable from anywhere when its key is bound to
// a network; within its key's limits it can.
func TestAccessTokenCallerInheritsItsKeysLimits(t *testing.T) {
	h := newHarness(t)
	id, secret := h.createKey([]string{"keys:write", "orders:read"}, map[string]any{"expires_in_days": 30, "allowed_cidrs": []string{"198.51.100.0/24"}})
	at := h.call("token-client-credentials", sourceIP("198.51.100.7"),
		form("grant_type", "client_credentials", "client_id", id, "client_secret", secret)).must(t, 200).str("access_token")
	create := func(fields map[string]any) response {
		in := map[string]any{"name": "child", "scopes": []string{"orders:read"}}
		for k, v := range fields {
			in[k] = v
		}
		b, _ := json.Marshal(in)
		req := fixture(h.t, "keys-create")
		req.Headers["authorization"] = "Bearer " + at
		req.RequestContext.HTTP.SourceIP = "198.51.100.7"
		req.Body = string(b)
		return serve(h.t, h.keys, req)
	}
	for name, fields := range map[string]map[string]any{
		"ten years":     {"expires_in_days": 3650, "allowed_cidrs": []string{"198.51.100.0/25"}},
		"no networks":   {"expires_in_days": 1},
		"wider network": {"expires_in_days": 1, "allowed_cidrs": []string{"198.51.0.0/16"}},
	} {
		t.Run(name, func(t *testing.T) {
			if r := create(fields); r.status != 403 || r.str("code") != "limit_escalation" {
				t.Fatalf("token created a %s key: %d %s", name, r.status, r.raw)
			}
		})
	}
	r := create(map[string]any{"expires_at": h.clock.Now().Add(24 * time.Hour).Format(time.RFC3339), "allowed_cidrs": []string{"198.51.100.7"}})
	if r.status != 201 {
		t.Fatalf("a key within the token's limits: %d %s", r.status, r.raw)
	}
}

// TestIntrospectionNarrowedToOwners: tokens:introspect@owner:payments/* sees its owners'
// tokens, and another owner's as inactive, as it would an unknown token.
func TestIntrospectionNarrowedToOwners(t *testing.T) {
	h := newHarness(t)
	_, rs := h.createKey([]string{"tokens:introspect@owner:payments/*"}, map[string]any{"owner": "payments/gateway"})
	mineID, mineSecret := h.createKey([]string{"orders:read"}, map[string]any{"owner": "payments/api"})
	otherID, otherSecret := h.createKey([]string{"orders:read"}, map[string]any{"owner": "team-ops"})
	mine := h.clientCredentials(mineID, mineSecret).must(t, 200)
	other := h.clientCredentials(otherID, otherSecret).must(t, 200)
	for _, c := range []struct {
		name, token string
		active      bool
	}{
		{"own owner's access token", mine.str("access_token"), true},
		{"own owner's refresh token", mine.str("refresh_token"), true},
		{"other owner's access token", other.str("access_token"), false},
		{"other owner's refresh token", other.str("refresh_token"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := h.call("oauth-introspect", bearer(rs), form("token", c.token)).must(t, 200)
			if r.body["active"] != c.active {
				t.Fatalf("active = %v, want %v: %s", r.body["active"], c.active, r.raw)
			}
			if !c.active && len(r.body) != 1 {
				t.Fatalf("an inactive answer says more than active: %s", r.raw)
			}
		})
	}
}
