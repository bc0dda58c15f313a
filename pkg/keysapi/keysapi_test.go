package keysapi_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

func TestCreateGetListLifecycle(t *testing.T) {
	h := newHarness(t)
	r := h.call("keys-create").must(t, 201)
	kid, secret := r.str("id"), r.str("secret")
	if !strings.HasPrefix(secret, "kw_test_"+kid) {
		t.Fatalf("secret %q does not carry prefix and id %s", secret, kid)
	}
	if r.headers["Location"] != "/v1/keys/"+kid {
		t.Errorf("Location = %q", r.headers["Location"])
	}
	if r.str("status") != "active" || r.str("owner") != "alice@example.com" || r.str("created_by") != "root" {
		t.Errorf("created key = %s", r.raw)
	}
	if r.body["last_used_at"] != nil || r.body["rotation"] != nil {
		t.Errorf("new key has last_used_at or rotation: %s", r.raw)
	}
	exp, _ := time.Parse(time.RFC3339, r.str("expires_at"))
	if want := h.clock.Now().AddDate(0, 0, 90); !exp.Equal(want) {
		t.Errorf("expires_at = %v, want %v", exp, want)
	}

	got := h.call("keys-get", id(kid)).must(t, 200)
	if _, ok := got.body["secret"]; ok {
		t.Fatal("GET returned the secret")
	}
	if got.str("name") != "github-actions-prod" || got.str("start") != secret[:len("kw_test_")+4] {
		t.Errorf("get = %s", got.raw)
	}

	// The new key authenticates, and its scopes bound what it can do.
	h.call("keys-get", id(kid), cred(secret)).must(t, 403)
	admin, adminSecret := h.createKey(map[string]any{"scopes": []string{"keys:read", "keys:write", "orders:read"}, "owner": "ops"})
	h.call("keys-get", id(kid), cred(adminSecret)).must(t, 200)
	// ...through each way the contract allows to present it.
	h.call("keys-get", id(kid), header("x-api-key", adminSecret)).must(t, 200)
	h.call("keys-get", id(kid), header("Authorization", "ApiKey "+adminSecret)).must(t, 200)
	// No escalation: admin cannot grant audit:read, which it does not hold.
	h.call("keys-create", cred(adminSecret), jsonBody(map[string]any{"name": "x", "scopes": []string{"audit:read"}})).must(t, 403)
	h.call("keys-create", cred(adminSecret), jsonBody(map[string]any{"name": "x", "scopes": []string{"orders:read@o/1"}})).must(t, 201)
	h.call("keys-patch", id(kid), cred(adminSecret), jsonBody(map[string]any{"scopes": []string{"*"}})).must(t, 403)

	list := h.call("keys-list", query(map[string]string{"owner": "ops"})).must(t, 200)
	items := list.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("owner=ops lists %d keys, want 2 (admin and the one it created)", len(items))
	}
	for _, it := range items {
		if _, ok := it.(map[string]any)["secret"]; ok {
			t.Fatal("list returned a secret")
		}
	}
	_ = admin
}

func TestListPaginationAndFilters(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := 0; i < 7; i++ {
		k, _ := h.createKey(map[string]any{"name": fmt.Sprintf("k%d", i), "owner": "bob"})
		ids = append(ids, k)
		h.clock.Advance(time.Second)
	}
	h.createKey(map[string]any{"owner": "carol"})
	h.call("keys-revoke", id(ids[0])).must(t, 200)
	h.call("keys-rotate", id(ids[1])).must(t, 200)

	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := map[string]string{"owner": "bob", "limit": "3"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		r := h.call("keys-list", query(q)).must(t, 200)
		for _, it := range r.body["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := r.body["next_cursor"].(string)
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		cursor = next
	}
	slices.Sort(seen)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("paged listing = %v, want %v", seen, want)
	}
	count := func(q map[string]string) int {
		return len(h.call("keys-list", query(q)).must(t, 200).body["items"].([]any))
	}
	cases := []struct {
		q    map[string]string
		want int
	}{
		{map[string]string{"owner": "bob", "status": "revoked"}, 1},
		{map[string]string{"owner": "bob", "status": "rotating"}, 1},
		{map[string]string{"owner": "bob", "status": "active"}, 5},
		{map[string]string{"status": "active"}, 6},
		{map[string]string{}, 8},
		{map[string]string{"owner": "nobody"}, 0},
	}
	for _, c := range cases {
		if got := count(c.q); got != c.want {
			t.Errorf("list %v: %d keys, want %d", c.q, got, c.want)
		}
	}
	h.call("keys-list", query(map[string]string{"cursor": "not-a-cursor"})).must(t, 400)
	h.call("keys-list", query(map[string]string{"status": "sleeping"})).must(t, 400)
	h.call("keys-list", query(map[string]string{"limit": "0"})).must(t, 400)
	h.call("keys-list", query(map[string]string{"limit": "101"})).must(t, 400)
}

func TestPatchMergeSemantics(t *testing.T) {
	h := newHarness(t)
	kid, _ := h.createKey(map[string]any{"description": "d", "metadata": map[string]any{"a": 1, "b": map[string]any{"c": 2, "d": 3}}, "allowed_cidrs": []string{"10.0.0.0/8"}})
	r := h.call("keys-patch", id(kid), jsonBody(map[string]any{
		"name": "renamed", "description": nil, "metadata": map[string]any{"a": nil, "b": map[string]any{"c": nil, "e": 4}},
		"allowed_cidrs": []string{"192.0.2.7", "2001:db8::/32"},
	})).must(t, 200)
	if r.str("name") != "renamed" || r.str("description") != "" {
		t.Errorf("patched = %s", r.raw)
	}
	if got := fmt.Sprint(r.body["metadata"]); got != "map[b:map[d:3 e:4]]" {
		t.Errorf("merged metadata = %s", got)
	}
	if got := fmt.Sprint(r.body["allowed_cidrs"]); got != "[192.0.2.7/32 2001:db8::/32]" {
		t.Errorf("allowed_cidrs = %s", got)
	}
	// An empty patch changes nothing and records nothing.
	before := len(h.call("keys-events", id(kid)).must(t, 200).body["items"].([]any))
	h.call("keys-patch", id(kid), body(`{}`)).must(t, 200)
	if after := len(h.call("keys-events", id(kid)).must(t, 200).body["items"].([]any)); after != before {
		t.Errorf("empty patch wrote %d events", after-before)
	}
	// Extending the expiry.
	exp := h.clock.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)
	if got := h.call("keys-patch", id(kid), jsonBody(map[string]any{"expires_at": exp})).must(t, 200).str("expires_at"); got != exp {
		t.Errorf("expires_at = %s, want %s", got, exp)
	}
}

// TestBadInput covers every error status of the contract; none of the bad requests changes anything.
func TestBadInput(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(nil)
	revoked, _ := h.createKey(nil)
	h.call("keys-revoke", id(revoked)).must(t, 200)
	reader, readerSecret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	_ = reader
	big := strings.Repeat("x", 65<<10)
	// A one-character change of the checksum; never a no-op.
	badSum := secret[:len(secret)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(secret, "a")]
	snapshot := h.tableState()

	cases := []struct {
		name    string
		fixture string
		opts    []opt
		status  int
		code    string
	}{
		{"malformed json", "keys-create", []opt{body(`{"name":`)}, 400, "malformed_json"},
		{"not an object", "keys-create", []opt{body(`[1,2]`)}, 400, "malformed_json"},
		{"wrong type", "keys-create", []opt{body(`{"name": 5, "scopes": ["a"]}`)}, 400, "invalid_type"},
		{"unknown field", "keys-create", []opt{body(`{"name": "a", "scopes": ["a"], "colour": "red"}`)}, 400, "unknown_field"},
		{"empty name", "keys-create", []opt{jsonBody(map[string]any{"name": "", "scopes": []string{"a"}})}, 400, "invalid_name"},
		{"long name", "keys-create", []opt{jsonBody(map[string]any{"name": strings.Repeat("n", 129), "scopes": []string{"a"}})}, 400, "invalid_name"},
		{"no scopes", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{}})}, 400, "invalid_scopes"},
		{"bad scope syntax", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"Orders:Read"}})}, 400, "invalid_scopes"},
		{"bad resource wildcard", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a@b*c"}})}, 400, "invalid_scopes"},
		{"past expiry", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a"}, "expires_at": "2001-01-01T00:00:00Z"})}, 400, "invalid_expires_at"},
		{"both expiries", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a"}, "expires_in_days": 3, "expires_at": "2099-01-01T00:00:00Z"})}, 400, "invalid_expiry"},
		{"expiry days range", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a"}, "expires_in_days": 0})}, 400, "invalid_expires_in_days"},
		{"metadata too big", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a"}, "metadata": map[string]any{"x": strings.Repeat("m", 5000)}})}, 400, "invalid_metadata"},
		{"bad cidr", "keys-create", []opt{jsonBody(map[string]any{"name": "a", "scopes": []string{"a"}, "allowed_cidrs": []string{"10.0.0.0/33"}})}, 400, "invalid_allowed_cidrs"},
		{"body over 64 KiB", "keys-create", []opt{body(`{"name":"` + big + `"}`)}, 413, "body_too_large"},
		{"no credential", "keys-list", []opt{cred("")}, 401, "missing_credential"},
		{"garbage credential", "keys-list", []opt{cred("hello")}, 401, "invalid_credential"},
		{"bad checksum", "keys-list", []opt{cred(badSum)}, 401, "invalid_credential"},
		{"unknown key", "keys-list", []opt{cred("kw_test_" + strings.Repeat("a", 16) + secret[len("kw_test_")+16:])}, 401, "invalid_credential"},
		{"wrong scheme", "keys-list", []opt{header("Authorization", "Basic "+secret)}, 401, "missing_credential"},

		{"insufficient scope", "keys-create", []opt{cred(readerSecret), jsonBody(map[string]any{"name": "a", "scopes": []string{"keys:read"}})}, 403, "insufficient_scope"},
		{"audit needs audit:read", "audit", []opt{cred(readerSecret)}, 403, "insufficient_scope"},
		{"malformed id", "keys-get", []opt{id("NOT-AN-ID")}, 400, "invalid_id"},
		{"unknown id", "keys-get", []opt{id("zzzzzzzzzzzzzzzz")}, 404, "key_not_found"},
		{"patch unknown id", "keys-patch", []opt{id("zzzzzzzzzzzzzzzz")}, 404, "key_not_found"},
		{"rotate unknown id", "keys-rotate", []opt{id("zzzzzzzzzzzzzzzz")}, 404, "key_not_found"},
		{"delete unknown id", "keys-delete", []opt{id("zzzzzzzzzzzzzzzz")}, 404, "key_not_found"},
		{"events of unknown id", "keys-events", []opt{id("zzzzzzzzzzzzzzzz")}, 404, "key_not_found"},
		{"patch revoked", "keys-patch", []opt{id(revoked)}, 409, "key_revoked"},
		{"rotate revoked", "keys-rotate", []opt{id(revoked)}, 409, "key_revoked"},
		{"finish revoked", "keys-rotate-finish", []opt{id(revoked)}, 409, "key_revoked"},
		{"patch null name", "keys-patch", []opt{id(kid), body(`{"name": null}`)}, 400, "invalid_name"},
		{"patch status", "keys-patch", []opt{id(kid), body(`{"status": "active"}`)}, 400, "unknown_field"},
		{"patch bad scopes type", "keys-patch", []opt{id(kid), body(`{"scopes": "a"}`)}, 400, "invalid_type"},
		{"grace too long", "keys-rotate", []opt{id(kid), body(`{"grace_seconds": 2592001}`)}, 400, "invalid_grace_seconds"},
		{"grace negative", "keys-rotate", []opt{id(kid), body(`{"grace_seconds": -1}`)}, 400, "invalid_grace_seconds"},
		{"batch empty", "keys-batch-delete", []opt{body(`{"ids": []}`)}, 400, "invalid_ids"},
		{"batch too many", "keys-batch-delete", []opt{jsonBody(map[string]any{"ids": slices.Repeat([]string{kid}, 101)})}, 400, "invalid_ids"},
		{"batch malformed id", "keys-batch-delete", []opt{jsonBody(map[string]any{"ids": []string{kid, "nope"}})}, 400, "invalid_ids"},
		{"audit bad type", "audit", []opt{query(map[string]string{"type": "DROP TABLE"})}, 400, "invalid_type"},
		{"events bad cursor", "keys-events", []opt{id(kid), query(map[string]string{"cursor": "eyJ4Ijo"})}, 400, "invalid_cursor"},
	}
	for _, c := range cases {
		if c.status == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			r := h.call(c.fixture, c.opts...)
			if r.status != c.status || r.str("code") != c.code {
				t.Fatalf("got %d %q, want %d %q; body %s", r.status, r.str("code"), c.status, c.code, r.raw)
			}
			if ct := r.headers["Content-Type"]; ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, f := range []string{"type", "title", "detail", "code"} {
				if r.str(f) == "" {
					t.Errorf("problem lacks %q: %s", f, r.raw)
				}
			}
			if int(r.body["status"].(float64)) != c.status {
				t.Errorf("problem status = %v", r.body["status"])
			}
		})
	}
	if after := h.tableState(); after != snapshot {
		t.Fatalf("bad input changed the table:\nbefore %s\nafter  %s", snapshot, after)
	}
	// Revoked and expired credentials.
	h.call("keys-revoke", id(reader)).must(t, 200)
	if r := h.call("keys-list", cred(readerSecret)); r.status != 401 || r.str("code") != "revoked_credential" {
		t.Errorf("revoked credential: %d %s", r.status, r.raw)
	}
}

func TestRotationGraceAndFinish(t *testing.T) {
	h := newHarness(t)
	h.createKey(nil)
	kid, s1 := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	r := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 600}`)).must(t, 200)
	s2 := r.str("secret")
	if r.str("status") != "rotating" || s2 == "" || s2 == s1 {
		t.Fatalf("rotate = %s", r.raw)
	}
	if rot, _ := r.body["rotation"].(map[string]any); rot["previous_expires_at"] != h.clock.Now().Add(600*time.Second).Format(time.RFC3339) {
		t.Errorf("rotation = %v", r.body["rotation"])
	}
	// Both secrets work during grace.
	h.call("keys-get", id(kid), cred(s1)).must(t, 200)
	h.call("keys-get", id(kid), cred(s2)).must(t, 200)
	// A second rotation in grace drops the oldest at once.
	s3 := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 600}`)).must(t, 200).str("secret")
	h.call("keys-get", id(kid), cred(s1)).must(t, 401)
	h.call("keys-get", id(kid), cred(s2)).must(t, 200)
	h.call("keys-get", id(kid), cred(s3)).must(t, 200)
	// Grace passes: the previous secret stops working with no write at all.
	h.clock.Advance(601 * time.Second)
	h.call("keys-get", id(kid), cred(s2)).must(t, 401)
	if st := h.call("keys-get", id(kid)).must(t, 200).str("status"); st != "active" {
		t.Errorf("status after grace = %s", st)
	}
	// Finish ends a grace early.
	s4 := h.call("keys-rotate", id(kid)).must(t, 200).str("secret")
	h.call("keys-get", id(kid), cred(s3)).must(t, 200)
	f := h.call("keys-rotate-finish", id(kid)).must(t, 200)
	if f.str("status") != "active" || f.body["rotation"] != nil {
		t.Errorf("finish = %s", f.raw)
	}
	h.call("keys-get", id(kid), cred(s3)).must(t, 401)
	h.call("keys-get", id(kid), cred(s4)).must(t, 200)
	// grace 0 invalidates the old secret at once.
	s5 := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 0}`)).must(t, 200).str("secret")
	h.call("keys-get", id(kid), cred(s4)).must(t, 401)
	h.call("keys-get", id(kid), cred(s5)).must(t, 200)

	evs := h.call("keys-events", id(kid)).must(t, 200).body["items"].([]any)
	var types []string
	for _, e := range evs {
		if typ := e.(map[string]any)["type"].(string); typ != "key.used" { // bookkeeping, not a change
			types = append(types, typ)
		}
	}
	want := []string{"key.rotated", "key.rotation_finished", "key.rotated", "key.rotated", "key.rotated", "key.created"}
	if !slices.Equal(types, want) {
		t.Errorf("events newest first = %v, want %v", types, want)
	}
}

func TestRevokeDeleteBatchAndAudit(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	r1 := h.call("keys-revoke", id(kid), sourceIP("198.51.100.4")).must(t, 200)
	r2 := h.call("keys-revoke", id(kid)).must(t, 200)
	if r1.str("status") != "revoked" || r2.str("updated_at") != r1.str("updated_at") {
		t.Errorf("revoke not idempotent: %s then %s", r1.raw, r2.raw)
	}
	h.call("keys-get", id(kid), cred(secret)).must(t, 401)

	h.call("keys-delete", id(kid)).must(t, 204)
	h.call("keys-get", id(kid)).must(t, 404)
	h.call("keys-delete", id(kid)).must(t, 404)
	// The audit trail stays after delete, newest first, with actor, IP and time.
	evs := h.call("keys-events", id(kid)).must(t, 200).body["items"].([]any)
	if len(evs) != 3 {
		t.Fatalf("events after delete = %d, want created, revoked, deleted", len(evs))
	}
	rev := evs[1].(map[string]any)
	if rev["type"] != "key.revoked" || rev["actor"] != "root" || rev["ip"] != "198.51.100.4" || rev["time"] == "" || rev["id"] == "" {
		t.Errorf("revoked event = %v", rev)
	}

	var ids []string
	for i := 0; i < 3; i++ {
		k, _ := h.createKey(nil)
		ids = append(ids, k)
	}
	r := h.call("keys-batch-delete", jsonBody(map[string]any{"ids": append(ids, "zzzzzzzzzzzzzzzz", ids[0])})).must(t, 200)
	if got := fmt.Sprint(r.body["deleted"]); len(r.body["deleted"].([]any)) != 3 {
		t.Errorf("deleted = %s", got)
	}
	if got := fmt.Sprint(r.body["not_found"]); got != "[zzzzzzzzzzzzzzzz]" {
		t.Errorf("not_found = %s", got)
	}
	for _, k := range ids {
		h.call("keys-get", id(k)).must(t, 404)
	}

	// The global audit log: every key, newest first, filter by type, paginated.
	all := h.call("audit", query(map[string]string{"limit": "100"})).must(t, 200).body["items"].([]any)
	if len(all) != 9 {
		t.Errorf("audit has %d events, want 9 (the repeated revoke writes none)", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].(map[string]any)["id"].(string) < all[i].(map[string]any)["id"].(string) {
			t.Fatal("audit is not newest first")
		}
	}
	dels := h.call("audit", query(map[string]string{"type": "key.deleted"})).must(t, 200).body["items"].([]any)
	if len(dels) != 4 {
		t.Errorf("audit type=key.deleted has %d, want 4", len(dels))
	}
	p1 := h.call("audit", query(map[string]string{"limit": "4"})).must(t, 200)
	next := p1.str("next_cursor")
	if next == "" {
		t.Fatal("audit page 1 has no next_cursor")
	}
	p2 := h.call("audit", query(map[string]string{"limit": "100", "cursor": next})).must(t, 200)
	if n := len(p1.body["items"].([]any)) + len(p2.body["items"].([]any)); n != 9 {
		t.Errorf("audit pages hold %d events, want 9", n)
	}
}

// TestConcurrentRotations: 20 rotations at once leave a consistent key.
func TestConcurrentRotations(t *testing.T) {
	h := newHarness(t)
	kid, first := h.createKey(nil)
	const n = 20
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.call("keys-rotate", id(kid), body(`{"grace_seconds": 3600}`))
		}()
	}
	wg.Wait()
	secrets := []string{first}
	for _, r := range results {
		switch r.status {
		case 200:
			secrets = append(secrets, r.str("secret"))
		case 409: // gave up under contention; it must then have written nothing
		default:
			t.Fatalf("rotate answered %d: %s", r.status, r.raw)
		}
	}
	ok := len(secrets) - 1
	if ok < n/2 {
		t.Errorf("only %d of %d rotations succeeded", ok, n)
	}
	k, err := h.deps.Store.GetKey(t.Context(), kid)
	if err != nil {
		t.Fatal(err)
	}
	if k.Version != int64(1+ok) || k.Secret.N != int64(1+ok) {
		t.Errorf("version %d, secret version %d; want %d (no lost update)", k.Version, k.Secret.N, 1+ok)
	}
	valid := 0
	for i, s := range secrets {
		// One address per probe: a wrong secret is a failed attempt, and 20 of them
		// from one address would (rightly) lock it out.
		switch st := h.call("keys-get", id(kid), cred(s), sourceIP(fmt.Sprintf("198.51.100.%d", i+1))).status; st {
		case 403: // authenticated; the key lacks keys:read
			valid++
		case 401:
		default:
			t.Fatalf("probing secret %d: status %d", i, st)
		}
	}
	if valid != 2 {
		t.Errorf("%d secrets are valid after concurrent rotations, want exactly 2", valid)
	}
	// Events: one per success, versions 1..1+ok with no gap.
	page, err := h.deps.Store.ListEvents(t.Context(), kid, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, e := range page.Items {
		if e.Type == store.EventKeyUsed {
			continue // bookkeeping of the probes above, not a change
		}
		versions = append(versions, int(e.Detail["version"].(float64)))
	}
	slices.Sort(versions)
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("event versions %v have a gap or a duplicate", versions)
		}
	}
	if len(versions) != 1+ok {
		t.Errorf("%d events, want %d", len(versions), 1+ok)
	}
}

// TestPatchRevokeRace: a patch racing a revoke never brings the key back.
func TestPatchRevokeRace(t *testing.T) {
	h := newHarness(t)
	for round := 0; round < 5; round++ {
		kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 3 {
					h.call("keys-revoke", id(kid))
					return
				}
				h.call("keys-patch", id(kid), jsonBody(map[string]any{"description": fmt.Sprint(i), "expires_at": h.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)}))
			}()
		}
		wg.Wait()
		if st := h.call("keys-get", id(kid)).must(t, 200).str("status"); st != "revoked" {
			t.Fatalf("round %d: status %s after patch/revoke race", round, st)
		}
		h.call("keys-get", id(kid), cred(secret)).must(t, 401)
		h.call("keys-patch", id(kid), body(`{"description":"late"}`)).must(t, 409)
	}
}

// TestNoSecretAtRest: neither the table nor the logs hold a secret.
func TestNoSecretAtRest(t *testing.T) {
	h := newHarness(t)
	_, s1 := h.createKey(nil)
	kid, s2 := h.createKey(nil)
	s3 := h.call("keys-rotate", id(kid)).must(t, 200).str("secret")
	h.call("keys-get", id(kid), cred(s3)).must(t, 403)
	h.call("keys-get", id(kid), cred(s3+"x")).must(t, 401)
	dump := fmt.Sprint(h.env.Items(t)) + h.logs.String()
	if !strings.Contains(h.logs.String(), `"route"`) {
		t.Fatal("no logs were captured; the check below would be empty")
	}
	parts := []string{h.env.RootKey}
	for _, s := range []string{s1, s2, s3} {
		parts = append(parts, s, s[len("kw_test_")+16:len("kw_test_")+16+43])
	}
	for _, part := range parts {
		if strings.Contains(dump, part) {
			t.Fatalf("a secret is in the table dump or logs")
		}
	}
}

// TestExpiryEnforcedAtRead: an expired key is refused at once, with no sweeper.
func TestExpiryEnforcedAtRead(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}, "expires_in_days": 1})
	h.call("keys-get", id(kid), cred(secret)).must(t, 200)
	h.clock.Advance(24*time.Hour + time.Second)
	if r := h.call("keys-get", id(kid), cred(secret)); r.status != 401 || r.str("code") != "expired_credential" {
		t.Fatalf("expired key: %d %s", r.status, r.raw)
	}
	if st := h.call("keys-get", id(kid)).must(t, 200).str("status"); st != "expired" {
		t.Errorf("status = %s, want expired", st)
	}
	h.call("keys-rotate", id(kid)).must(t, 409)
}

// TestPepperRotation: keys hashed under the old pepper keep working after it rotates.
func TestPepperRotation(t *testing.T) {
	h := newHarness(t)
	oldKey, oldSecret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	h.env.RotateSecret(t, h.env.PepperSecretID, "a-brand-new-pepper-value-of-enough-length-0123456789")
	h2 := harnessOn(t, h.env) // a cold start sees the new pepper
	newKey, newSecret := h2.createKey(map[string]any{"scopes": []string{"keys:read"}})
	h2.call("keys-get", id(oldKey), cred(oldSecret)).must(t, 200)
	h2.call("keys-get", id(newKey), cred(newSecret)).must(t, 200)
	a, _ := h2.deps.Store.GetKey(t.Context(), oldKey)
	b, _ := h2.deps.Store.GetKey(t.Context(), newKey)
	if a.Secret.Pepper == b.Secret.Pepper {
		t.Error("the new key was hashed under the old pepper")
	}
}

// TestAllowedCIDRs: a key is refused from outside its networks.
func TestAllowedCIDRs(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}, "allowed_cidrs": []string{"203.0.113.0/24"}})
	h.call("keys-get", id(kid), cred(secret), sourceIP("203.0.113.99")).must(t, 200)
	if r := h.call("keys-get", id(kid), cred(secret), sourceIP("198.51.100.1")); r.status != 403 || r.str("code") != "ip_not_allowed" {
		t.Fatalf("outside CIDR: %d %s", r.status, r.raw)
	}
}

// TestLockoutPerKeyAndIP: wrong secrets for one key from one address lock that pair
// (429), never the key's legitimate client on another address.
func TestLockoutPerKeyAndIP(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	wrong := h.call("keys-rotate", id(kid), body(`{"grace_seconds": 0}`)).must(t, 200).str("secret")
	wrong, secret = secret, wrong // the old secret is now a wrong one
	attacker, client := sourceIP("198.51.100.66"), sourceIP("203.0.113.10")
	for i := range 5 {
		if r := h.call("keys-get", id(kid), cred(wrong), attacker); r.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, r.status, r.raw)
		}
	}
	r := h.call("keys-get", id(kid), cred(wrong), attacker)
	if r.status != 429 || r.str("code") != "too_many_attempts" {
		t.Fatalf("6th attempt: %d %s", r.status, r.raw)
	}
	if ra := r.headers["Retry-After"]; ra != "300" {
		t.Errorf("Retry-After = %q, want the lock's 300 s", ra)
	}
	// The pair is locked even for the right secret; the client elsewhere is not.
	h.clock.Advance(100 * time.Second)
	if r := h.call("keys-get", id(kid), cred(secret), attacker).must(t, 429); r.headers["Retry-After"] != "200" {
		t.Errorf("Retry-After 100 s into the lock = %q, want 200", r.headers["Retry-After"])
	}
	h.call("keys-get", id(kid), cred(secret), client).must(t, 200)
	// The lock ends by itself.
	h.clock.Advance(200*time.Second + time.Second)
	h.call("keys-get", id(kid), cred(secret), attacker).must(t, 200)
	evs := h.call("keys-events", id(kid)).must(t, 200).body["items"].([]any)
	failed := 0
	for _, e := range evs {
		if e.(map[string]any)["type"] == "auth.failed" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d auth.failed events, want 1", failed)
	}
}

// TestStoredExpiryStands: once the sweeper has stored expired, the key stays expired
// (and refused) until a PATCH extends expires_at.
func TestStoredExpiryStands(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	k, err := h.deps.Store.GetKey(t.Context(), kid)
	if err != nil {
		t.Fatal(err)
	}
	k.Version++
	k.Status = "expired" // what the sweeper writes
	if err := h.deps.Store.UpdateKey(t.Context(), k, &store.Event{Time: h.clock.Now(), Type: store.EventKeyExpired, KeyID: kid, Actor: "sweeper"}); err != nil {
		t.Fatal(err)
	}
	if st := h.call("keys-get", id(kid)).must(t, 200).str("status"); st != "expired" {
		t.Fatalf("status %s, want expired", st)
	}
	h.call("keys-get", id(kid), cred(secret)).must(t, 401)
	exp := h.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	if st := h.call("keys-patch", id(kid), jsonBody(map[string]any{"expires_at": exp})).must(t, 200).str("status"); st != "active" {
		t.Fatalf("after extending: status %s, want active", st)
	}
	h.call("keys-get", id(kid), cred(secret)).must(t, 200)
}

// TestRotateNeedsTheKeysScopes: rotating returns a working secret, so a caller may
// only rotate a key whose scopes it holds (no escalation through rotate).
func TestRotateNeedsTheKeysScopes(t *testing.T) {
	h := newHarness(t)
	strong, _ := h.createKey(map[string]any{"scopes": []string{"*"}})
	_, writer := h.createKey(map[string]any{"scopes": []string{"keys:write", "orders:read"}})
	weak, _ := h.createKey(map[string]any{"scopes": []string{"orders:read"}})
	r := h.call("keys-rotate", id(strong), cred(writer))
	if r.status != 403 || r.str("code") != "scope_escalation" {
		t.Fatalf("rotating a * key with keys:write: %d %s", r.status, r.raw)
	}
	h.call("keys-rotate", id(weak), cred(writer)).must(t, 200)
}

func TestMetadataDynamoDBCannotStore(t *testing.T) {
	h := newHarness(t)
	deep := map[string]any{"v": 1}
	for range 31 {
		deep = map[string]any{"n": deep}
	}
	kid, _ := h.createKey(nil)
	for name, md := range map[string]any{"too deep": deep, "empty key": map[string]any{"a": map[string]any{"": 1}}} {
		t.Run(name, func(t *testing.T) {
			r := h.call("keys-create", jsonBody(map[string]any{"name": "m", "scopes": []string{"a"}, "metadata": md}))
			if r.status != 400 || r.str("code") != "invalid_metadata" {
				t.Fatalf("create: %d %s", r.status, r.raw)
			}
			r = h.call("keys-patch", id(kid), jsonBody(map[string]any{"metadata": md}))
			if r.status != 400 || r.str("code") != "invalid_metadata" {
				t.Fatalf("patch: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestLastUsedByManagementAPI: a key used only against the management API is not
// "unused" (the sweeper's stale notice); a refused request records nothing.
func TestLastUsedByManagementAPI(t *testing.T) {
	h := newHarness(t)
	kid, secret := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	h.call("keys-create", cred(secret), jsonBody(map[string]any{"name": "x", "scopes": []string{"keys:read"}})).must(t, 403)
	if r := h.call("keys-get", id(kid)).must(t, 200); r.body["last_used_at"] != nil {
		t.Fatalf("a refused request recorded a use: %s", r.raw)
	}
	h.call("keys-list", cred(secret), sourceIP("198.51.100.23")).must(t, 200)
	r := h.call("keys-get", id(kid)).must(t, 200)
	if r.str("last_used_at") != h.clock.Now().Format(time.RFC3339) || r.str("last_used_ip") != "198.51.100.23" {
		t.Fatalf("after a use: last_used_at %v, last_used_ip %v", r.body["last_used_at"], r.body["last_used_ip"])
	}
}
