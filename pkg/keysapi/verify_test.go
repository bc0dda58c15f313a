package keysapi_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/secrets"
	"github.com/keyward/keyward/pkg/testenv"
	"github.com/keyward/keyward/pkg/token"
)

// verifyCall posts body to POST /v1/keys/verify as caller.
func (h *harness) verifyCall(caller string, in map[string]any) response {
	h.t.Helper()
	return h.call("keys-verify", cred(caller), jsonBody(in))
}

func (h *harness) remainingOf(id string) int64 {
	h.t.Helper()
	k, err := h.deps.Store.GetKey(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return *k.Remaining
}

// TestVerifyKey: POST /v1/keys/verify answers 200 for every key, valid or not, with
// the key's code, and counts one use (or cost) of a valid one; a refusal spends
// nothing. A caller whose keys:verify does not cover the key's owner gets NOT_FOUND,
// as for an unknown key, and spends nothing; one without keys:verify at all is 403.
func TestVerifyKey(t *testing.T) {
	h := newHarness(t)
	kid, key := h.createKey(map[string]any{"owner": "team-a/svc", "remaining": 3,
		"ratelimit": map[string]any{"limit": 10, "window_seconds": 3600}, "allowed_cidrs": []string{"198.51.100.0/24"}})
	_, verifier := h.createKey(map[string]any{"scopes": []string{"keys:verify"}})
	_, narrow := h.createKey(map[string]any{"scopes": []string{"keys:verify@owner:team-b/*"}})
	_, reader := h.createKey(map[string]any{"scopes": []string{"keys:read"}})
	const ip = "198.51.100.7"

	r := h.verifyCall(verifier, map[string]any{"key": key, "scope": "orders:read", "ip": ip}).must(t, 200)
	rl, _ := r.body["ratelimit"].(map[string]any)
	if r.body["valid"] != true || r.str("code") != "VALID" || r.str("key_id") != kid || r.str("owner") != "team-a/svc" ||
		r.body["remaining"] != 2.0 || rl["limit"] != 10.0 || rl["remaining"] != 9.0 || rl["reset"] == nil {
		t.Fatalf("valid key: %s", r.raw)
	}
	if s, _ := r.body["scopes"].([]any); len(s) != 1 || s[0] != "orders:read" {
		t.Fatalf("scopes: %s", r.raw)
	}
	refusals := []struct {
		in   map[string]any
		code string
	}{
		{map[string]any{"key": key, "scope": "orders:write", "ip": ip}, "INSUFFICIENT_SCOPE"},
		{map[string]any{"key": key, "ip": "203.0.113.1"}, "IP_NOT_ALLOWED"},
		{map[string]any{"key": key}, "IP_NOT_ALLOWED"}, // no address: outside every network
		{map[string]any{"key": key, "ip": ip, "cost": 3}, "USAGE_EXCEEDED"},
		{map[string]any{"key": apikey.NewWithID("kw_test_", kid).String(), "ip": ip}, "NOT_FOUND"},
		{map[string]any{"key": apikey.New("kw_test_").String(), "ip": ip}, "NOT_FOUND"},
		{map[string]any{"key": "not a key", "ip": ip}, "NOT_FOUND"},
		{map[string]any{"key": h.env.RootKey, "ip": ip}, "NOT_FOUND"},
	}
	for _, c := range refusals {
		r := h.verifyCall(verifier, c.in).must(t, 200)
		if r.body["valid"] != false || r.str("code") != c.code {
			t.Errorf("%v: %s, want valid false, %s", c.in, r.raw, c.code)
		}
		if c.code == "NOT_FOUND" && (r.body["key_id"] != nil || r.body["owner"] != nil || r.body["remaining"] != nil) {
			t.Errorf("%v: NOT_FOUND tells about a key: %s", c.in, r.raw)
		}
		if c.code == "INSUFFICIENT_SCOPE" && (r.str("key_id") != kid || r.body["remaining"] != 2.0 || r.body["ratelimit"] == nil) {
			t.Errorf("%v: a refusal of a key the caller may see shows it and its limits: %s", c.in, r.raw)
		}
	}
	if r := h.verifyCall(narrow, map[string]any{"key": key, "ip": ip}).must(t, 200); r.str("code") != "NOT_FOUND" || r.body["key_id"] != nil {
		t.Fatalf("caller not covering the owner: %s", r.raw)
	}
	if n := h.remainingOf(kid); n != 2 {
		t.Fatalf("refusals spent %d credits", 2-n)
	}
	if r := h.verifyCall(verifier, map[string]any{"key": key, "ip": ip, "cost": 2}).must(t, 200); r.str("code") != "VALID" || r.body["remaining"] != 0.0 {
		t.Fatalf("cost 2 of 2: %s", r.raw)
	}
	if r := h.verifyCall(reader, map[string]any{"key": key}).must(t, 403); r.str("code") != "insufficient_scope" {
		t.Fatalf("caller without keys:verify: %s", r.raw)
	}
}

// TestVerifyBadInput: the body is strict JSON, checked in a fixed order; bad input
// is a 400 naming the field, and counts nothing.
func TestVerifyBadInput(t *testing.T) {
	h := newHarness(t)
	kid, key := h.createKey(map[string]any{"remaining": 5})
	_, verifier := h.createKey(map[string]any{"scopes": []string{"keys:verify"}})
	for _, c := range []struct {
		body        string
		code, field string
	}{
		{`{}`, "invalid_key", "key"},
		{`{"key": ""}`, "invalid_key", "key"},
		{`{"key": "` + key + `", "scope": "no spaces allowed"}`, "invalid_scope", "scope"},
		{`{"key": "` + key + `", "ip": "198.51.100.300"}`, "invalid_ip", "ip"},
		{`{"key": "` + key + `", "cost": 0}`, "invalid_cost", "cost"},
		{`{"key": "` + key + `", "cost": 1000001}`, "invalid_cost", "cost"},
		{`{"key": "` + key + `", "scope": "", "cost": 0, "ip": "x"}`, "invalid_scope", "scope"},
		{`{"key": "` + key + `", "extra": 1}`, "unknown_field", ""},
		{`{"key": "` + key + `", "key": "` + key + `"}`, "duplicate_field", ""},
		{`{"key": 5}`, "invalid_type", ""},
	} {
		r := h.call("keys-verify", cred(verifier), body(c.body)).must(t, 400)
		if r.str("code") != c.code || c.field != "" && r.str("field") != c.field {
			t.Errorf("%s: %s, want %s on %q", c.body, r.raw, c.code, c.field)
		}
	}
	if n := h.remainingOf(kid); n != 5 {
		t.Fatalf("bad input spent %d credits", 5-n)
	}
}

// countingPeppers counts the pepper lookups verification makes: one per HMAC it
// computes.
type countingPeppers struct {
	auth.PepperSource
	n atomic.Int64
}

func (c *countingPeppers) Versions(ctx context.Context) (secrets.Version, *secrets.Version, error) {
	c.n.Add(1)
	return c.PepperSource.Versions(ctx)
}

// TestVerifyUnknownAndWrongSecretAlike: an unknown key id and a known id with a
// wrong secret get the same answer for the same HMAC work (a dummy hash for the
// unknown id), so the answer's timing does not tell them apart; a string that is no
// key does none.
func TestVerifyUnknownAndWrongSecretAlike(t *testing.T) {
	h := newHarness(t)
	kid, _ := h.createKey(nil)
	_, verifier := h.createKey(map[string]any{"scopes": []string{"keys:verify"}})
	peppers := &countingPeppers{PepperSource: h.deps.Verifier.Peppers}
	h.deps.Verifier.Peppers = peppers
	work := func(key string) (int64, string) {
		before := peppers.n.Load()
		r := h.verifyCall(verifier, map[string]any{"key": key}).must(t, 200)
		return peppers.n.Load() - before, r.raw
	}
	malformed, _ := work("kw_test_nonsense")
	unknown, unknownBody := work(apikey.New("kw_test_").String())
	wrong, wrongBody := work(apikey.NewWithID("kw_test_", kid).String())
	if unknown != wrong || unknown != malformed+1 {
		t.Fatalf("HMACs: unknown id %d, wrong secret %d, no key %d; want unknown = wrong = no key + 1", unknown, wrong, malformed)
	}
	if unknownBody != wrongBody {
		t.Fatalf("answers differ: %s vs %s", unknownBody, wrongBody)
	}
}

// TestVerifyCannotLockOutTheKeysUsers is the attack of a caller of verify who knows a
// key id (here narrowed to another owner): naming the key's users' address in `ip`,
// it sends wrong secrets until its pair locks. Its own verifications of that key from
// that address are locked, as lockout promises; the key's users at that address are not.
func TestVerifyCannotLockOutTheKeysUsers(t *testing.T) {
	h := newHarness(t)
	kid, key := h.createKey(map[string]any{"owner": "team-a", "scopes": []string{"keys:read"}})
	_, narrow := h.createKey(map[string]any{"scopes": []string{"keys:verify@owner:team-b/*"}})
	_, verifier := h.createKey(map[string]any{"scopes": []string{"keys:verify"}})
	const victim = "198.51.100.7"
	wrong := apikey.NewWithID("kw_test_", kid).String()
	locked := false
	for range 12 {
		r := h.verifyCall(narrow, map[string]any{"key": wrong, "ip": victim}).must(t, 200)
		locked = locked || r.str("code") == "LOCKED"
	}
	if !locked {
		t.Fatalf("twelve wrong secrets from one (caller, address) never locked its pair")
	}
	h.call("keys-get", id(kid), cred(key), sourceIP(victim)).must(t, 200)
	r := h.verifyCall(verifier, map[string]any{"key": key, "ip": victim}).must(t, 200)
	if r.str("code") != "VALID" {
		t.Fatalf("another caller verifying the key for the same address: %s", r.raw)
	}
}

// TestVerifyRetiredSecretSpendsNothingOnWarmInstance is the attack of whoever holds a
// key's old secret, after a rotation whose grace has ended, against an instance that
// knew the key from before the rotation: it is refused and spends no credit. The old
// secret still works, and spends, while the grace lasts: rotation costs no downtime.
func TestVerifyRetiredSecretSpendsNothingOnWarmInstance(t *testing.T) {
	h := newHarness(t)
	kid, key := h.createKey(map[string]any{"remaining": 10})
	_, verifier := h.createKey(map[string]any{"scopes": []string{"keys:verify"}})
	h.verifyCall(verifier, map[string]any{"key": key}).must(t, 200) // this instance now knows the key: 9 left
	h.call("keys-rotate", id(kid), jsonBody(map[string]any{"grace_seconds": 60})).must(t, 200)
	if r := h.verifyCall(verifier, map[string]any{"key": key}).must(t, 200); r.str("code") != "VALID" || h.remainingOf(kid) != 8 {
		t.Fatalf("old secret in its grace: %s, remaining %d; want VALID and 8", r.raw, h.remainingOf(kid))
	}
	h.clock.Advance(61 * time.Second)
	for range 2 {
		if r := h.verifyCall(verifier, map[string]any{"key": key}).must(t, 200); r.str("code") != "NOT_FOUND" {
			t.Fatalf("old secret after its grace: %s, want NOT_FOUND", r.raw)
		}
	}
	if n := h.remainingOf(kid); n != 8 {
		t.Fatalf("the retired secret spent %d credit(s)", 8-n)
	}
}

// TestVerifyTokenOfHiddenOwnerTellsNothing: an access token of a key whose owner the
// caller's keys:verify does not cover answers NOT_FOUND, whatever the key's state, as
// an unknown token would; the attack is a caller narrowed to team-b probing whether a
// team-a key is revoked. The same caller sees the state of its own owners' tokens.
func TestVerifyTokenOfHiddenOwnerTellsNothing(t *testing.T) {
	h := newHarness(t)
	k, err := jwks.Generate(jwks.RS256, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys := testenv.StaticKeys{Keys: &jwks.Set{Keys: []jwks.Key{{JWK: k}}}}
	const iss = "https://keyward.example"
	h.deps.Verifier.Tokens = &token.Verifier{Keys: keys, Audience: "keyward", Issuer: iss}
	signer := &token.Signer{Keys: keys, Issuer: iss, Audience: "keyward", Lifetime: 300 * time.Second}
	tokenOf := func(keyID string) string {
		a, err := signer.Sign(context.Background(), token.Grant{KeyID: keyID, JTI: token.NewJTI(),
			Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: 1}, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return a.Token
	}
	hidden, _ := h.createKey(map[string]any{"owner": "team-a/svc"})
	own, _ := h.createKey(map[string]any{"owner": "team-b/svc"})
	_, narrow := h.createKey(map[string]any{"scopes": []string{"keys:verify@owner:team-b/*"}})
	hiddenTok, ownTok := tokenOf(hidden), tokenOf(own)
	codes := func() (string, string) {
		return h.verifyCall(narrow, map[string]any{"key": hiddenTok}).must(t, 200).str("code"),
			h.verifyCall(narrow, map[string]any{"key": ownTok}).must(t, 200).str("code")
	}
	if hc, oc := codes(); hc != "NOT_FOUND" || oc != "VALID" {
		t.Fatalf("live tokens: hidden owner's %s, own owner's %s", hc, oc)
	}
	for _, kid := range []string{hidden, own} {
		h.call("keys-revoke", id(kid)).must(t, 200)
	}
	if r := h.verifyCall(narrow, map[string]any{"key": hiddenTok}).must(t, 200); r.str("code") != "NOT_FOUND" || r.body["key_id"] != nil {
		t.Fatalf("a hidden owner's revoked key's token told its state: %s", r.raw)
	}
	if r := h.verifyCall(narrow, map[string]any{"key": ownTok}).must(t, 200); r.str("code") != "REVOKED" {
		t.Fatalf("own owner's revoked key's token: %s", r.raw)
	}
}
