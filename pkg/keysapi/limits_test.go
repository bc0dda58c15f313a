package keysapi_test

import (
	"context"
	"encoding/json"
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
