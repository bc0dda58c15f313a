package keysapi_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

// tableState is the whole table, as text, for "nothing was written" assertions.
// Usage counts are left out: counting a refused use is not a change it made.
func (h *harness) tableState() string {
	h.t.Helper()
	var rows []string
	for _, item := range h.env.Items(h.t) {
		var m map[string]any
		if err := attributevalue.UnmarshalMap(item, &m); err != nil {
			h.t.Fatal(err)
		}
		if sk, _ := m["sk"].(string); strings.HasPrefix(sk, "USAGE#") {
			continue
		}
		rows = append(rows, fmt.Sprint(m))
	}
	sort.Strings(rows)
	return strings.Join(rows, "\n")
}

// keyState is every item of key id (the key and its events), as text.
func (h *harness) keyState(id string) string {
	h.t.Helper()
	var rows []string
	for _, row := range strings.Split(h.tableState(), "\n") {
		if strings.Contains(row, "pk:KEY#"+id+" ") {
			rows = append(rows, row)
		}
	}
	return strings.Join(rows, "\n")
}

// refused runs attack and fails unless it got status and code and wrote nothing.
func (h *harness) refused(t *testing.T, status int, code string, attack func() response) {
	t.Helper()
	before := h.tableState()
	r := attack()
	if r.status != status || r.str("code") != code {
		t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.str("code"), status, code, r.raw)
	}
	if after := h.tableState(); after != before {
		t.Fatalf("a refused request wrote to the table")
	}
}

func (h *harness) ids(items any) []string {
	var out []string
	for _, it := range items.([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// TestTakeoverOfAWiderKeyIsRefused: a keys:read keys:write key against an operations
// team's * key. Every management action on it is refused and writes nothing.
func TestTakeoverOfAWiderKeyIsRefused(t *testing.T) {
	h := newHarness(t)
	ops, _ := h.createKey(map[string]any{"owner": "team-ops", "scopes": []string{"*"}, "allowed_cidrs": []string{"10.0.0.0/8"}})
	_, attacker := h.createKey(map[string]any{"owner": "mallory", "scopes": []string{"keys:read", "keys:write"}})
	as := cred(attacker)
	attacks := []struct {
		name    string
		fixture string
		opts    []opt
	}{
		{"remove its networks", "keys-patch", []opt{id(ops), as, body(`{"allowed_cidrs": []}`)}},
		{"change its owner", "keys-patch", []opt{id(ops), as, body(`{"owner": "mallory"}`)}},
		{"cut its scopes", "keys-patch", []opt{id(ops), as, body(`{"scopes": ["keys:read"]}`)}},
		{"rename it", "keys-patch", []opt{id(ops), as, body(`{"name": "mine"}`)}},
		{"rotate it for its secret", "keys-rotate", []opt{id(ops), as, body(`{"grace_seconds": 0}`)}},
		{"finish its rotation", "keys-rotate-finish", []opt{id(ops), as}},
		{"revoke it", "keys-revoke", []opt{id(ops), as}},
		{"delete it", "keys-delete", []opt{id(ops), as}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			h.refused(t, 403, "scope_escalation", func() response { return h.call(a.fixture, a.opts...) })
		})
	}
	t.Run("batch-delete it", func(t *testing.T) {
		before := h.keyState(ops)
		if !strings.Contains(before, "sk:KEY ") {
			t.Fatalf("keyState(%s) holds no key item", ops)
		}
		r := h.call("keys-batch-delete", as, jsonBody(map[string]any{"ids": []string{ops}})).must(t, 200)
		if got := fmt.Sprint(r.body["forbidden"], r.body["deleted"], r.body["not_found"]); got != fmt.Sprintf("[%s] [] []", ops) {
			t.Fatalf("batch-delete answered %s", r.raw)
		}
		// The request itself succeeded (and counts as the attacker's use); the key is untouched.
		if h.keyState(ops) != before {
			t.Fatal("a forbidden batch-delete wrote to the key or its trail")
		}
	})
	h.call("keys-get", id(ops)).must(t, 200)
}

// TestExpiredWiderKeyCannotBeRevived: keys:write alone cannot extend an expired * key.
func TestExpiredWiderKeyCannotBeRevived(t *testing.T) {
	h := newHarness(t)
	star, starSecret := h.createKey(map[string]any{"owner": "team-ops", "scopes": []string{"*"}, "expires_in_days": 1})
	_, writer := h.createKey(map[string]any{"owner": "mallory", "scopes": []string{"keys:write"}, "expires_in_days": 30})
	h.clock.Advance(48 * time.Hour)
	h.call("keys-get", id(star), cred(starSecret)).must(t, 401)
	later := h.clock.Now().AddDate(0, 0, 10).Format(time.RFC3339)
	h.refused(t, 403, "scope_escalation", func() response {
		return h.call("keys-patch", id(star), cred(writer), jsonBody(map[string]any{"expires_at": later}))
	})
	h.call("keys-get", id(star), cred(starSecret)).must(t, 401)
}

// TestLimitsAreInherited: a 1-day key bound to 127.0.0.1/32 cannot free itself or mint
// a freer child.
func TestLimitsAreInherited(t *testing.T) {
	h := newHarness(t)
	self, secret := h.createKey(map[string]any{"owner": "ci", "scopes": []string{"keys:read", "keys:write", "orders:read"},
		"expires_in_days": 1, "allowed_cidrs": []string{"127.0.0.1/32"}})
	as := []opt{cred(secret), sourceIP("127.0.0.1")}
	tenYears := h.clock.Now().AddDate(0, 0, 3600).Format(time.RFC3339)
	attacks := []struct {
		name    string
		fixture string
		body    map[string]any
	}{
		{"drop its own networks", "keys-patch", map[string]any{"allowed_cidrs": []string{}}},
		{"widen its own networks", "keys-patch", map[string]any{"allowed_cidrs": []string{"127.0.0.0/8"}}},
		{"extend its own expiry", "keys-patch", map[string]any{"expires_at": tenYears}},
		{"child without networks", "keys-create", map[string]any{"name": "child", "scopes": []string{"orders:read"}, "expires_in_days": 1}},
		{"child for ten years", "keys-create", map[string]any{"name": "child", "scopes": []string{"orders:read"}, "expires_in_days": 3650, "allowed_cidrs": []string{"127.0.0.1/32"}}},
		{"child with the default expiry", "keys-create", map[string]any{"name": "child", "scopes": []string{"orders:read"}, "allowed_cidrs": []string{"127.0.0.1"}}},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			opts := append([]opt{id(self), jsonBody(a.body)}, as...)
			h.refused(t, 403, "limit_escalation", func() response { return h.call(a.fixture, opts...) })
		})
	}
	// Within its limits it works: a shorter child inside its network, a name change.
	h.call("keys-create", append([]opt{jsonBody(map[string]any{"name": "child", "scopes": []string{"orders:read"},
		"expires_at": h.clock.Now().Add(12 * time.Hour).Format(time.RFC3339), "allowed_cidrs": []string{"127.0.0.1"}})}, as...)...).must(t, 201)
	h.call("keys-patch", append([]opt{id(self), body(`{"name": "renamed"}`)}, as...)...).must(t, 200)
	// The root credential has no limits.
	h.call("keys-patch", id(self), jsonBody(map[string]any{"expires_at": tenYears, "allowed_cidrs": []string{}})).must(t, 200)
}

// TestOwnerNarrowing: keys:read@owner:erin* and keys:write@owner:erin* see and change
// only erin's keys, through every route, and page through them without gaps.
func TestOwnerNarrowing(t *testing.T) {
	h := newHarness(t)
	var erins []string
	for i := 0; i < 7; i++ {
		owner := []string{"erin", "erin@example.com", "erin-team/x"}[i%3]
		k, _ := h.createKey(map[string]any{"name": fmt.Sprintf("e%d", i), "owner": owner})
		erins = append(erins, k)
		h.clock.Advance(time.Second)
	}
	var others []string
	for i := 0; i < 5; i++ {
		k, _ := h.createKey(map[string]any{"name": fmt.Sprintf("o%d", i), "owner": []string{"alice", "er", "team-ops"}[i%3]})
		others = append(others, k)
	}
	narrowID, narrow := h.createKey(map[string]any{"owner": "erin", "name": "narrow",
		"scopes": []string{"keys:read@owner:erin*", "keys:write@owner:erin*", "audit:read@owner:erin*", "orders:read"}})
	erins = append(erins, narrowID)
	as := cred(narrow)

	// Lists: only erin* keys, paged two at a time, no empty page, no duplicate.
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		q := map[string]string{"limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		r := h.call("keys-list", as, query(q)).must(t, 200)
		got := h.ids(r.body["items"])
		if len(got) == 0 && r.body["next_cursor"] != nil {
			t.Fatalf("empty page %d in the middle of the listing", pages)
		}
		for _, k := range got {
			if seen[k] {
				t.Fatalf("key %s listed twice", k)
			}
			seen[k] = true
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != len(erins) {
		t.Fatalf("narrowed listing has %d keys, want %d (%v)", len(seen), len(erins), seen)
	}
	for _, k := range erins {
		if !seen[k] {
			t.Errorf("erin key %s missing from the narrowed listing", k)
		}
	}
	// An owner filter outside the range is empty; inside, it works.
	if r := h.call("keys-list", as, query(map[string]string{"owner": "alice"})).must(t, 200); len(h.ids(r.body["items"])) != 0 {
		t.Errorf("owner=alice listed for an erin* reader: %s", r.raw)
	}
	if r := h.call("keys-list", as, query(map[string]string{"owner": "erin@example.com"})).must(t, 200); len(h.ids(r.body["items"])) != 2 {
		t.Errorf("owner=erin@example.com: %s", r.raw)
	}

	// Every route on another owner's key is a 404 and writes nothing.
	for _, other := range others {
		for _, c := range []struct {
			fixture string
			opts    []opt
		}{
			{"keys-get", nil}, {"keys-events", nil}, {"keys-patch", []opt{body(`{"name": "x"}`)}},
			{"keys-rotate", nil}, {"keys-rotate-finish", nil}, {"keys-revoke", nil}, {"keys-delete", nil},
		} {
			t.Run(c.fixture+"/"+other, func(t *testing.T) {
				h.refused(t, 404, "key_not_found", func() response { return h.call(c.fixture, append([]opt{id(other), as}, c.opts...)...) })
			})
		}
	}
	// Creating for, or moving a key to, an owner outside the range is refused.
	h.refused(t, 403, "owner_not_allowed", func() response {
		return h.call("keys-create", as, jsonBody(map[string]any{"name": "x", "owner": "alice", "scopes": []string{"orders:read"}}))
	})
	h.refused(t, 403, "owner_not_allowed", func() response {
		return h.call("keys-patch", id(erins[0]), as, body(`{"owner": "alice"}`))
	})
	// Batch delete: others' keys are not_found, erin's are deleted.
	r := h.call("keys-batch-delete", as, jsonBody(map[string]any{"ids": []string{others[0], others[1], erins[0]}})).must(t, 200)
	if fmt.Sprint(r.body["deleted"]) != fmt.Sprintf("[%s]", erins[0]) || len(r.body["not_found"].([]any)) != 2 || len(r.body["forbidden"].([]any)) != 0 {
		t.Fatalf("batch-delete = %s", r.raw)
	}
	for _, k := range others {
		h.call("keys-get", id(k)).must(t, 200)
	}
	// The audit log holds only erin* events, and a deleted erin key's trail stays visible.
	a := h.call("audit", as, query(map[string]string{"limit": "100"})).must(t, 200)
	for _, e := range a.body["items"].([]any) {
		k := e.(map[string]any)["key_id"].(string)
		for _, o := range others {
			if k == o {
				t.Fatalf("narrowed audit shows an event of %s: %s", o, a.raw)
			}
		}
	}
	if n := len(a.body["items"].([]any)); n < len(erins)+1 {
		t.Errorf("narrowed audit has %d events, want at least %d", n, len(erins)+1)
	}
	h.call("keys-events", id(erins[0]), as).must(t, 200)
}

// TestKeysRevoke: incident response. keys:revoke kills any key of its owners, whatever
// its scopes, and does nothing else.
func TestKeysRevoke(t *testing.T) {
	h := newHarness(t)
	star, _ := h.createKey(map[string]any{"owner": "team-ops", "scopes": []string{"*"}})
	other, _ := h.createKey(map[string]any{"owner": "alice"})
	_, sec := h.createKey(map[string]any{"owner": "security", "scopes": []string{"keys:revoke@owner:team-*"}})
	h.refused(t, 403, "insufficient_scope", func() response { return h.call("keys-delete", id(star), cred(sec)) })
	h.refused(t, 403, "insufficient_scope", func() response { return h.call("keys-get", id(star), cred(sec)) })
	h.refused(t, 404, "key_not_found", func() response { return h.call("keys-revoke", id(other), cred(sec)) })
	if r := h.call("keys-revoke", id(star), cred(sec)).must(t, 200); r.str("status") != "revoked" {
		t.Fatalf("revoke = %s", r.raw)
	}
}

// TestSameBadInputSameError: a body with several bad fields always gets the error of
// the first field in the fixed order, however the map is walked.
func TestSameBadInputSameError(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(nil)
	bad := `{"zeta": 1, "allowed_cidrs": ["nope"], "expires_at": "yesterday", "scopes": [], "name": "", "alpha": 2}`
	for i := 0; i < 30; i++ {
		r := h.call("keys-patch", id(k), body(bad))
		if r.status != 400 || r.str("code") != "unknown_field" || !strings.Contains(r.str("detail"), `"alpha"`) {
			t.Fatalf("run %d: %d %s", i, r.status, r.raw)
		}
	}
	known := `{"allowed_cidrs": ["nope"], "expires_at": "yesterday", "scopes": [], "name": ""}`
	for i := 0; i < 30; i++ {
		if r := h.call("keys-patch", id(k), body(known)); r.status != 400 || r.str("code") != "invalid_name" {
			t.Fatalf("run %d: %d %s", i, r.status, r.raw)
		}
	}
}

// TestNumbersOutOfRange: a grace that would overflow a Duration and metadata numbers
// DynamoDB cannot store are 400s that write nothing.
func TestNumbersOutOfRange(t *testing.T) {
	h := newHarness(t)
	k, _ := h.createKey(nil)
	h.refused(t, 400, "invalid_grace_seconds", func() response { return h.call("keys-rotate", id(k), body(`{"grace_seconds": 9223372037}`)) })
	// The largest storable number is stored exactly, not rounded to one that is not.
	h.call("keys-patch", id(k), body(`{"metadata": {"max": 9.9999999999999999999999999999999999999E+125}}`)).must(t, 200)
	for _, n := range []string{"1e200", "-1e200", "1e-200", "123456789012345678901234567890123456789012"} {
		h.t.Run(n, func(t *testing.T) {
			r := h.call("keys-patch", id(k), body(`{"metadata": {"n": `+n+`}}`))
			if r.status != 400 {
				t.Fatalf("metadata %s: %d %s", n, r.status, r.raw)
			}
		})
	}
}

// TestRefusedRequestRecordsNoUse: a valid key refused by the rule leaves no trace of use.
func TestRefusedRequestRecordsNoUse(t *testing.T) {
	h := newHarness(t)
	target, _ := h.createKey(map[string]any{"owner": "team-ops", "scopes": []string{"*"}})
	reader, secret := h.createKey(map[string]any{"scopes": []string{"keys:read@owner:nobody"}})
	h.call("keys-get", id(target), cred(secret)).must(t, 404)
	h.call("keys-create", cred(secret), jsonBody(map[string]any{"name": "x", "scopes": []string{"a"}})).must(t, 403)
	h.call("keys-list", cred(secret), query(map[string]string{"bogus": "1"})).must(t, 400)
	if r := h.call("keys-get", id(reader)).must(t, 200); r.body["last_used_at"] != nil {
		t.Fatalf("refused requests recorded a use: %s", r.raw)
	}
	ev := h.call("keys-events", id(reader)).must(t, 200)
	for _, e := range ev.body["items"].([]any) {
		if e.(map[string]any)["type"] == "key.used" {
			t.Fatalf("refused requests recorded key.used: %s", ev.raw)
		}
	}
	h.call("keys-list", cred(secret)).must(t, 200)
	if r := h.call("keys-get", id(reader)).must(t, 200); r.body["last_used_at"] == nil {
		t.Fatalf("a successful request recorded no use: %s", r.raw)
	}
}
