package keysapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

// TestRotateExpiredKey: a key whose expiry has passed (and that the sweeper has not
// marked yet) cannot be rotated: 409 key_expired, exactly this problem, and nothing
// is written. Extending expires_at brings it back, and then it rotates.
func TestRotateExpiredKey(t *testing.T) {
	h := newHarness(t)
	kid, _ := h.createKey(map[string]any{"expires_in_days": 1})
	h.clock.Advance(25 * time.Hour)
	before := fmt.Sprint(unmarshalAll(t, h))

	r := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 60}`))
	want := `{"type":"https://keyward.dev/problems/key-expired","title":"Conflict","status":409,` +
		`"detail":"Key ` + kid + ` has expired; extend expires_at before rotating.","code":"key_expired"}`
	if r.status != 409 || r.raw != want {
		t.Fatalf("rotate of an expired key = %d %s\nwant 409 %s", r.status, r.raw, want)
	}
	if r.headers["Content-Type"] != "application/problem+json" || r.headers["Cache-Control"] != "no-store" {
		t.Fatalf("headers %v", r.headers)
	}
	if after := fmt.Sprint(unmarshalAll(t, h)); after != before {
		t.Fatal("a refused rotation changed the table")
	}

	later := h.clock.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	if got := h.call("keys-patch", id(kid), jsonBody(map[string]any{"expires_at": later})).must(t, 200); got.str("status") != "active" {
		t.Fatalf("extended key status %q", got.str("status"))
	}
	got := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 60}`)).must(t, 200)
	if got.str("status") != "rotating" || got.str("secret") == "" {
		t.Fatalf("rotate after extending: %s", got.raw)
	}
}

func unmarshalAll(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, item := range h.env.Items(t) {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(item, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
