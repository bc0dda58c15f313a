package keysapi_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

func TestKeyLimitsCreatePatchView(t *testing.T) {
	h := newHarness(t)
	kid, _ := h.createKey(map[string]any{
		"ratelimit": map[string]any{"limit": 100, "window_seconds": 60},
		"remaining": 5, "refill": map[string]any{"amount": 1000, "every": "day"},
	})
	r := h.call("keys-get", id(kid)).must(t, 200)
	if b, _ := json.Marshal([]any{r.body["ratelimit"], r.body["remaining"], r.body["refill"]}); string(b) != `[{"limit":100,"window_seconds":60},5,{"amount":1000,"every":"day"}]` {
		t.Fatalf("limits shown = %s", b)
	}
	// Credits set at create stand for the current period: the first use spends one
	// of the 5, it does not refill to 1000.
	res, err := h.deps.Store.UseKey(context.Background(), store.UseInput{ID: kid, Use: limits.Use{Cost: 1, Slot: "t", ID: "u1", At: h.clock.Now()}, Now: h.clock.Now()})
	if err != nil || res.Refused != "" {
		t.Fatalf("use: %+v, %v", res, err)
	}
	// Patching another field never restores the credit spent meanwhile.
	if got := h.call("keys-patch", id(kid), body(`{"name":"renamed"}`)).must(t, 200).body["remaining"]; got != 4.0 {
		t.Errorf("remaining after a name patch = %v, want 4", got)
	}
	// Bad limits are 400s with the contract's codes and change nothing.
	for _, c := range []struct{ body, code string }{
		{`{"ratelimit":{"limit":0,"window_seconds":60}}`, limits.CodeInvalidRateLimit},
		{`{"ratelimit":{"limit":10,"window_seconds":86401}}`, limits.CodeInvalidRateLimit},
		{`{"remaining":-1}`, limits.CodeInvalidRemaining},
		{`{"refill":{"amount":10,"every":"week"}}`, limits.CodeInvalidRefill},
		{`{"remaining":null}`, limits.CodeInvalidRefill}, // a refill needs credits
	} {
		if got := h.call("keys-patch", id(kid), body(c.body)).must(t, 400); got.str("code") != c.code || got.str("field") == "" {
			t.Errorf("%s: %s, want code %q and a field", c.body, got.raw, c.code)
		}
	}
	if got := h.call("keys-get", id(kid)).must(t, 200).body["remaining"]; got != 4.0 {
		t.Errorf("remaining after refused patches = %v, want 4", got)
	}
	// null clears.
	r = h.call("keys-patch", id(kid), body(`{"ratelimit":null,"refill":null,"remaining":null}`)).must(t, 200)
	if r.body["ratelimit"] != nil || r.body["remaining"] != nil || r.body["refill"] != nil {
		t.Errorf("cleared limits = %s", r.raw)
	}
	if r := h.call("keys-create", jsonBody(map[string]any{"name": "x", "scopes": []string{"orders:read"}, "refill": map[string]any{"amount": 1, "every": "day"}})); r.status != 400 || r.str("code") != limits.CodeInvalidRefill {
		t.Errorf("create with refill and no remaining: %d %s", r.status, r.raw)
	}
}

// TestCallerOverLimits: a caller whose own key is over its limits gets 429
// problem+json: rate_limited with Retry-After the seconds to the window's end;
// usage_exceeded with Retry-After the seconds to the next refill, or none when its
// credits are never refilled. A call within the limits goes through.
func TestCallerOverLimits(t *testing.T) {
	h := newHarness(t)
	// The window is an hour: the clock's offset in it says what Retry-After must be.
	_, rl := h.createKey(map[string]any{"scopes": []string{"keys:read"}, "ratelimit": map[string]any{"limit": 2, "window_seconds": 3600}})
	list := func(c string) response { return h.call("keys-list", cred(c)) }
	list(rl).must(t, 200)
	list(rl).must(t, 200)
	r := list(rl).must(t, 429)
	now := h.clock.Now().Unix()
	if r.str("code") != "rate_limited" || r.headers["Retry-After"] != strconv.FormatInt(3600-now%3600, 10) {
		t.Fatalf("over the rate limit: %s, Retry-After %q, want %d", r.raw, r.headers["Retry-After"], 3600-now%3600)
	}
	if !strings.HasPrefix(r.headers["Content-Type"], "application/problem+json") {
		t.Fatalf("content type %q", r.headers["Content-Type"])
	}

	_, once := h.createKey(map[string]any{"scopes": []string{"keys:read"}, "remaining": 1})
	list(once).must(t, 200)
	r = list(once).must(t, 429)
	if _, ok := r.headers["Retry-After"]; r.str("code") != "usage_exceeded" || ok {
		t.Fatalf("out of credits, no refill: %s, headers %v", r.raw, r.headers)
	}
	_, daily := h.createKey(map[string]any{"scopes": []string{"keys:read"}, "remaining": 1, "refill": map[string]any{"amount": 1, "every": "day"}})
	list(daily).must(t, 200)
	r = list(daily).must(t, 429)
	if want := strconv.FormatInt(86400-now%86400, 10); r.str("code") != "usage_exceeded" || r.headers["Retry-After"] != want {
		t.Fatalf("out of credits until tomorrow: %s, Retry-After %q, want %s", r.raw, r.headers["Retry-After"], want)
	}
}
