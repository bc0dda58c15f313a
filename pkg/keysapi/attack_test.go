package keysapi_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
)

// tamperedCursor is a listing cursor of part whose start key an attacker wrote.
func tamperedCursor(part string, key map[string]string) string {
	b, _ := json.Marshal(map[string]any{"p": part, "k": key})
	return base64.RawURLEncoding.EncodeToString(b)
}

// TestEventsCursorCannotHopToAnotherKey: a caller who may read its own key's trail
// forges the cursor's start key to name another owner's key. The page must never hold
// that key's events.
func TestEventsCursorCannotHopToAnotherKey(t *testing.T) {
	h := newHarness(t)
	victim, _ := h.createKey(map[string]any{"owner": "victim", "name": "victim-secret-name"})
	h.call("keys-patch", id(victim), body(`{"name": "renamed"}`)).must(t, 200)
	mine, secret := h.createKey(map[string]any{"owner": "mallory", "scopes": []string{"audit:read@owner:mallory"}})
	as := cred(secret)
	h.call("keys-events", id(victim), as).must(t, 404)
	for _, sk := range []string{"EV#~", "EV#" + strings.Repeat("z", 40), "EV#"} {
		c := tamperedCursor("KEY#"+mine, map[string]string{"pk": "KEY#" + victim, "sk": sk})
		r := h.call("keys-events", id(mine), as, query(map[string]string{"cursor": c}))
		if r.status == 200 {
			for _, e := range r.body["items"].([]any) {
				if e.(map[string]any)["key_id"] != mine {
					t.Fatalf("forged cursor %s showed another key's event: %s", sk, r.raw)
				}
			}
		} else if r.status != 400 {
			t.Fatalf("forged cursor: %d %s", r.status, r.raw)
		}
	}
}

// TestRotateCannotEscapeInheritedLimits: a 1-day key bound to 127.0.0.1/32 rotates a
// key of its owner that has no networks and ten years left (its scopes are within
// the caller's), and so gets a secret usable from anywhere for ten years.
func TestRotateCannotEscapeInheritedLimits(t *testing.T) {
	h := newHarness(t)
	_, secret := h.createKey(map[string]any{"owner": "ci", "scopes": []string{"keys:write", "orders:read"},
		"expires_in_days": 1, "allowed_cidrs": []string{"127.0.0.1/32"}})
	free, _ := h.createKey(map[string]any{"owner": "ci", "scopes": []string{"orders:read"}, "expires_in_days": 3650})
	as := []opt{cred(secret), sourceIP("127.0.0.1")}
	h.refused(t, 403, "limit_escalation", func() response {
		return h.call("keys-rotate", append([]opt{id(free), body(`{"grace_seconds": 0}`)}, as...)...)
	})
}

// TestPatchCannotHandFreerKeyTheCallersPowers: the same limited caller gives its own
// keys:write to a freer key of its owner, which then mints ten-year unbounded keys.
func TestPatchCannotHandFreerKeyTheCallersPowers(t *testing.T) {
	h := newHarness(t)
	_, secret := h.createKey(map[string]any{"owner": "ci", "scopes": []string{"keys:write", "orders:read"},
		"expires_in_days": 1, "allowed_cidrs": []string{"127.0.0.1/32"}})
	free, _ := h.createKey(map[string]any{"owner": "ci", "scopes": []string{"orders:read"}, "expires_in_days": 3650})
	as := []opt{cred(secret), sourceIP("127.0.0.1")}
	h.refused(t, 403, "limit_escalation", func() response {
		return h.call("keys-patch", append([]opt{id(free), body(`{"scopes": ["keys:write", "orders:read"]}`)}, as...)...)
	})
}

// TestDeletedTrailStaysWithItsOwner: anyone on the internet can put an owner-less
// auth.failed event on any key id (wrong secrets until the lock). That must not take
// a deleted key's trail away from the owner's narrowed audit reader.
func TestDeletedTrailStaysWithItsOwner(t *testing.T) {
	h := newHarness(t)
	gone, _ := h.createKey(map[string]any{"owner": "erin"})
	_, reader := h.createKey(map[string]any{"owner": "erin", "scopes": []string{"audit:read@owner:erin"}})
	h.call("keys-delete", id(gone)).must(t, 204)
	h.call("keys-events", id(gone), cred(reader)).must(t, 200)
	// A wrong secret for the deleted key's id, from one address, until it locks.
	wrong := apikey.NewWithID("kw_test_", gone).String()
	for i := 0; i < 30; i++ {
		h.clock.Advance(time.Millisecond)
		if r := h.call("keys-get", id(gone), cred(wrong), sourceIP("203.0.113.9")); r.status == 429 {
			break
		}
	}
	h.clock.Advance(time.Second)
	h.call("keys-events", id(gone), cred(reader)).must(t, 200)
}

// TestMovedKeyTrailShowsOnlyCoveredEvents: a key moved from team-payments to
// contractors (by someone who may write both) must not show the contractors'
// narrowed audit reader the events recorded while it belonged to team-payments, as
// /v1/audit does not.
func TestMovedKeyTrailShowsOnlyCoveredEvents(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(map[string]any{"owner": "team-payments", "metadata": map[string]any{"note": "payments"}})
	h.call("keys-patch", id(k), body(`{"description": "payments era"}`)).must(t, 200)
	h.call("keys-patch", id(k), body(`{"owner": "contractors"}`)).must(t, 200)
	_, reader := h.createKey(map[string]any{"owner": "contractors", "scopes": []string{"audit:read@owner:contractors"}})
	audit := h.call("audit", cred(reader), query(map[string]string{"limit": "100"})).must(t, 200)
	for _, e := range audit.body["items"].([]any) {
		if e.(map[string]any)["key_id"] == k && e.(map[string]any)["type"] != "key.updated" {
			t.Fatalf("audit shows a payments-era event: %s", audit.raw)
		}
	}
	r := h.call("keys-events", id(k), cred(reader)).must(t, 200)
	for _, e := range r.body["items"].([]any) {
		if typ := e.(map[string]any)["type"]; typ == "key.created" {
			t.Fatalf("the trail shows the contractors' reader an event of team-payments: %s", r.raw)
		}
	}
}

// TestMetadataKeepsItsDigits: the body decoder keeps every digit of a metadata number
// (up to 38 are storable), and so does DynamoDB; reading the key back must not round
// it through float64, after a create or a merge patch alike.
func TestMetadataKeepsItsDigits(t *testing.T) {
	h := newHarness(t)
	const n = "12345678901234567891"
	created, _ := h.createKey(map[string]any{"metadata": json.RawMessage(`{"n": ` + n + `}`)})
	patched, _ := h.createKey(nil)
	h.call("keys-patch", id(patched), body(`{"metadata": {"n": `+n+`}}`)).must(t, 200)
	for _, k := range []string{created, patched} {
		if r := h.call("keys-get", id(k)).must(t, 200); !strings.Contains(r.raw, `"n":`+n) {
			t.Errorf("metadata n read back: %s", r.raw)
		}
	}
}
