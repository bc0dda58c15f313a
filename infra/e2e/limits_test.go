package e2e

import (
	"net/http"
	"strconv"
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

// testEnforcement uses a key limited to 2 uses an hour through the local stack: the
// third use is refused by the management API (429 with Retry-After), the authorizer
// (403, as an HTTP API answers a Deny), verify (RATE_LIMITED) and the token endpoint
// (429); the refusal is in the key's event
// log, and its usage counts reach GET /v1/keys/{id}/usage: 2 accepted, refusals by
// code. Counts are written at most once a minute per instance, so the wait is long.
func testEnforcement(t *testing.T, s *localStack) {
	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json",
		`{"name":"limited","owner":"team-e2e","scopes":["keys:read"],"ratelimit":{"limit":2,"window_seconds":3600}}`, &key); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for i := range 2 {
		if code := call(t, "GET", s.base+"/v1/keys?limit=1", key.Secret, "", "", nil); code != 200 {
			t.Fatalf("use %d: %d, want 200", i+1, code)
		}
	}
	if code, retry := retryAfter(t, s.base+"/v1/keys?limit=1", key.Secret); code != 429 || retry < 1 || retry > 3600 {
		t.Fatalf("third use: %d with Retry-After %d, want 429 and 1..3600", code, retry)
	}
	// Behind the authorizer, an HTTP API answers its Deny with 403, whatever the reason.
	if code := call(t, "GET", s.base+"/v1/whoami", key.Secret, "", "", nil); code != 403 {
		t.Fatalf("whoami through the authorizer: %d, want 403", code)
	}
	var v struct {
		Valid bool   `json:"valid"`
		Code  string `json:"code"`
	}
	if code := call(t, "POST", s.base+"/v1/keys/verify", s.root, "application/json", `{"key":"`+key.Secret+`"}`, &v); code != 200 || v.Valid || v.Code != "RATE_LIMITED" {
		t.Fatalf("verify: %d %+v, want 200 RATE_LIMITED", code, v)
	}
	if code, _ := tokenStatus(t, s, key.ID, key.Secret); code != 429 {
		t.Fatalf("token: %d, want 429", code)
	}
	waitUsage(t, s, key.ID, key.Secret)
}

// waitUsage waits, up to 3 minutes, for the key's event log to hold key.rate_limited
// and for its usage to show 2 accepted uses and at least one RATE_LIMITED; each try
// uses the key once more (refused), which is what makes an instance write its counts.
func waitUsage(t *testing.T, s *localStack, id, secret string) {
	var sawEvent bool
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(2 * time.Second) {
		var events struct {
			Items []struct {
				Type string `json:"type"`
			} `json:"items"`
		}
		call(t, "GET", s.base+"/v1/keys/"+id+"/events", s.root, "", "", &events)
		for _, e := range events.Items {
			sawEvent = sawEvent || e.Type == "key.rate_limited"
		}
		var usage struct {
			Days []struct {
				Accepted int64            `json:"accepted"`
				Refused  map[string]int64 `json:"refused"`
			} `json:"days"`
		}
		call(t, "GET", s.base+"/v1/keys/"+id+"/usage?days=1", s.root, "", "", &usage)
		if sawEvent && len(usage.Days) == 1 && usage.Days[0].Accepted == 2 && usage.Days[0].Refused["RATE_LIMITED"] >= 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 min: key.rate_limited event seen %v; usage %+v (want 2 accepted, RATE_LIMITED >= 1)", sawEvent, usage.Days)
		}
		call(t, "GET", s.base+"/v1/keys?limit=1", secret, "", "", nil)
	}
}

// retryAfter sends GET u with credential and returns the status and Retry-After.
func retryAfter(t *testing.T, u, credential string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+credential)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	n, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, n
}
