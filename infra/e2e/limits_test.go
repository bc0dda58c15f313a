package e2e

import (
	"testing"
	"time"
)

// testOwnerLimits sets, reads and removes the limit of an owner holding '/' and '@'
// through the local gateway, percent-encoded in one path segment as clients send it,
// and reads a key's usage: the routes exist, the gateway hands the function the
// owner decoded, and the answers have the contract's shape.
func testOwnerLimits(t *testing.T, s *localStack) {
	for _, route := range []string{"PUT /v1/owners/{owner}/limits", "GET /v1/owners/{owner}/limits", "GET /v1/keys/{id}/usage"} {
		if !s.hasRoute(route) {
			t.Fatalf("template.yaml has no %s", route)
		}
	}
	const path = "/v1/owners/team-e2e%2Fbilling@example.com/limits"
	type limits struct {
		Owner     string `json:"owner"`
		RateLimit *struct {
			Limit         int64 `json:"limit"`
			WindowSeconds int64 `json:"window_seconds"`
		} `json:"ratelimit"`
	}
	var put, got limits
	if code := call(t, "PUT", s.base+path, s.root, "application/json", `{"ratelimit":{"limit":500,"window_seconds":60}}`, &put); code != 200 {
		t.Fatalf("put: %d", code)
	}
	if code := call(t, "GET", s.base+path, s.root, "", "", &got); code != 200 || got.Owner != "team-e2e/billing@example.com" ||
		got.RateLimit == nil || got.RateLimit.Limit != 500 || got.RateLimit.WindowSeconds != 60 {
		t.Fatalf("get: %d %+v", code, got)
	}
	if code := call(t, "PUT", s.base+path, s.root, "application/json", `{"ratelimit":null}`, &put); code != 200 || put.RateLimit != nil {
		t.Fatalf("remove: %d %+v", code, put)
	}

	var key struct {
		ID string `json:"id"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json",
		`{"name":"usage","owner":"team-e2e/billing@example.com","scopes":["orders:read"]}`, &key); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var usage struct {
		KeyID string `json:"key_id"`
		Days  []struct {
			Day     string           `json:"day"`
			Refused map[string]int64 `json:"refused"`
		} `json:"days"`
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+key.ID+"/usage?days=7", s.root, "", "", &usage); code != 200 ||
		usage.KeyID != key.ID || len(usage.Days) != 7 || usage.Days[6].Day != time.Now().UTC().Format(time.DateOnly) || usage.Days[0].Refused == nil {
		t.Fatalf("usage: %d %+v", code, usage)
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+key.ID+"/usage?days=91", s.root, "", "", nil); code != 400 {
		t.Errorf("usage with days=91: %d, want 400", code)
	}
}
