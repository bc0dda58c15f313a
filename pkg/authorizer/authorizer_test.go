package authorizer_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authorizer"
	"github.com/keyward/keyward/pkg/routeconfig"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

func TestStatusesEveryKind(t *testing.T) {
	h := newHarness(t)
	_, active := h.newKey([]string{"orders:read"}, nil)
	var newSecret string
	_, oldSecret := h.newKey([]string{"orders:read"}, func(k *store.Key, secret func(int64) (string, store.Secret)) {
		// rotating: the old secret is in its grace, the new one is current
		prev := k.Secret
		prev.ExpiresAt = h.clock.Now().Add(time.Hour)
		k.Previous = &prev
		newSecret, k.Secret = secret(2)
	})
	_, expired := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
		k.ExpiresAt = h.clock.Now().Add(-time.Minute)
	})
	_, revoked := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
		k.Status = store.StatusRevoked
	})
	delID, deleted := h.newKey([]string{"orders:read"}, nil)
	if err := h.deps.Store.DeleteKey(context.Background(), delID, 1, &store.Event{Time: h.clock.Now(), Type: store.EventKeyDeleted, KeyID: delID, Actor: "root"}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, cred string
		ok         bool
	}{
		{"active", active, true},
		{"rotating new secret", newSecret, true},
		{"rotating old secret in grace", oldSecret, true},
		{"expired", expired, false},
		{"revoked", revoked, false},
		{"deleted", deleted, false},
		{"wrong secret", badSecret(t, active), false},
	}
	for _, k := range kinds {
		for _, c := range cases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				v := h.call(fixture(t, k.fixture, c.cred))
				if c.ok {
					if !v.allowed {
						t.Fatalf("refused: %+v", v)
					}
					if v.ctx["owner"] != "alice@example.com" || v.ctx["scopes"] != "orders:read" || v.ctx["auth"] != "api_key" || v.ctx["key_id"] == "" {
						t.Fatalf("context %v", v.ctx)
					}
					for _, val := range v.ctx {
						if _, ok := val.(string); !ok {
							t.Fatalf("context value %v is not a string", val)
						}
					}
					return
				}
				if !v.refusedInvalid(k.name) {
					t.Fatalf("want an invalid-credential refusal, got %+v", v)
				}
			})
		}
	}
}

func TestRotationGraceOver(t *testing.T) {
	h := newHarness(t)
	_, old := h.newKey([]string{"orders:read"}, func(k *store.Key, secret func(int64) (string, store.Secret)) {
		prev := k.Secret
		prev.ExpiresAt = h.clock.Now().Add(time.Minute)
		k.Previous = &prev
		_, k.Secret = secret(2)
	})
	if v := h.call(fixture(t, "authorizer-http", old)); !v.allowed {
		t.Fatal("old secret refused during its grace")
	}
	h.clock.Advance(time.Minute)
	if v := h.call(fixture(t, "authorizer-http", old)); v.allowed {
		t.Fatal("old secret accepted after its grace")
	}
}

func TestCredentialHeaders(t *testing.T) {
	h := newHarness(t)
	_, key := h.newKey([]string{"orders:read"}, nil)
	headers := []struct {
		name string
		hs   map[string]string
		ok   bool
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + key}, true},
		{"bearer lower case", map[string]string{"authorization": "bearer " + key}, true},
		{"apikey scheme", map[string]string{"Authorization": "ApiKey " + key}, true},
		{"x-api-key", map[string]string{"X-API-Key": key}, true},
		{"x-api-key lower case", map[string]string{"x-api-key": key}, true},
		{"basic scheme", map[string]string{"Authorization": "Basic " + key}, false},
		{"none", map[string]string{}, false},
	}
	for _, k := range kinds {
		for _, c := range headers {
			if k.name == "rest-token" && (c.name == "none") {
				continue // a TOKEN event without its token never reaches the function
			}
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				v := h.call(fixture(t, k.fixture, key, withHeaders(c.hs)))
				if v.allowed != c.ok {
					t.Fatalf("allowed = %v, want %v (%+v)", v.allowed, c.ok, v)
				}
				if !c.ok && !v.refusedInvalid(k.name) {
					t.Fatalf("want an invalid-credential refusal, got %+v", v)
				}
			})
		}
	}
}

func TestScopesAndRoutes(t *testing.T) {
	h := newHarness(t)
	_, reader := h.newKey([]string{"orders:read"}, nil)
	_, writer := h.newKey([]string{"orders:write"}, nil)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			if v := h.call(fixture(t, k.fixture, reader, withRoute("GET", "/orders/o-1"))); !v.allowed {
				t.Fatalf("reader refused on GET /orders/{id}: %+v", v)
			}
			v := h.call(fixture(t, k.fixture, reader, withRoute("POST", "/orders")))
			if !v.denied(k.name) || v.ctx["error"] != "insufficient_scope" && k.name != "http" {
				t.Fatalf("reader on POST /orders: want Deny, got %+v", v)
			}
			if v := h.call(fixture(t, k.fixture, writer, withRoute("GET", "/orders/o-1"))); !v.denied(k.name) {
				t.Fatalf("writer on GET: want Deny, got %+v", v)
			}
			if v := h.call(fixture(t, k.fixture, writer, withRoute("DELETE", "/unknown"))); !v.denied(k.name) {
				t.Fatalf("unconfigured route: want Deny, got %+v", v)
			}
		})
	}
	// REST policy: the called ARN and the route's pattern, nothing else.
	v := h.call(fixture(t, "authorizer-rest-request", reader))
	want := []string{
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders/o-123",
		"arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders/*",
	}
	if strings.Join(v.resources, ",") != strings.Join(want, ",") {
		t.Fatalf("policy resources %v, want %v", v.resources, want)
	}
}

func TestRouteTableItemReloads(t *testing.T) {
	h := newHarness(t)
	_, key := h.newKey([]string{"reports:read"}, nil)
	ev := fixture(t, "authorizer-http", key, withRoute("GET", "/reports/r-1"))
	if v := h.call(ev); v.allowed {
		t.Fatal("unconfigured route allowed")
	}
	if err := routeconfig.Put(context.Background(), h.deps.Store, map[string]string{"GET /reports/{id}": "reports:read"}); err != nil {
		t.Fatal(err)
	}
	// A fresh cold start reads the item at once.
	h2 := harnessOn(t, h.env, h.clock)
	if v := h2.call(ev); !v.allowed {
		t.Fatalf("configured route refused: %+v", v)
	}
}

func TestMalformedCredentialNoRead(t *testing.T) {
	h := newHarness(t)
	_, key := h.newKey([]string{"orders:read"}, nil)
	last := key[len(key)-1]
	flip := byte('a')
	if last == 'a' {
		flip = 'b'
	}
	badChecksum := key[:len(key)-1] + string(flip)
	for _, k := range kinds {
		for _, cred := range []string{badChecksum, "kw_test_short", "not a key at all", strings.Repeat("x", 90)} {
			before := h.keys.n.Load()
			v := h.call(fixture(t, k.fixture, cred))
			if !v.refusedInvalid(k.name) {
				t.Fatalf("%s %q: want refusal, got %+v", k.name, cred, v)
			}
			if n := h.keys.n.Load() - before; n != 0 {
				t.Fatalf("%s %q: %d key reads for a malformed credential", k.name, cred, n)
			}
		}
	}
}

func TestFailsClosedOnStoreError(t *testing.T) {
	h := newHarness(t)
	_, key := h.newKey([]string{"orders:read"}, nil)
	h.a.Verifier.Keys = failingReader{}
	for _, k := range kinds {
		if v := h.call(fixture(t, k.fixture, key)); !v.unavailable {
			t.Fatalf("%s: want a failure (500), got %+v", k.name, v)
		}
	}
	// A missing table, end to end.
	h.a.Verifier.Keys = store.New(h.env.DDB, "no-such-table", time.Hour)
	for _, k := range kinds {
		if v := h.call(fixture(t, k.fixture, key)); !v.unavailable || v.allowed {
			t.Fatalf("%s: want a failure (500), got %+v", k.name, v)
		}
	}
}

func TestAllowedCIDRs(t *testing.T) {
	h := newHarness(t)
	_, key := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
		k.AllowedCIDRs = []string{"203.0.113.0/24"}
	})
	for _, k := range kinds[:2] {
		if v := h.call(fixture(t, k.fixture, key, withIP("203.0.113.77"))); !v.allowed {
			t.Fatalf("%s: inside the list refused", k.name)
		}
		if v := h.call(fixture(t, k.fixture, key, withIP("198.51.100.1"))); v.allowed || v.ctx["error"] != "ip_not_allowed" {
			t.Fatalf("%s: outside the list: %+v", k.name, v)
		}
	}
	// TOKEN events carry no source IP: a key with allowed_cidrs is refused there.
	if v := h.call(fixture(t, "authorizer-rest-token", key)); v.allowed {
		t.Fatal("TOKEN event accepted a key with allowed_cidrs")
	}
}

// fakeTokens stands in for pkg/token: "tok.<key id>" is a valid token of that key,
// bound to its first secret version.
type fakeTokens struct{}

func (fakeTokens) LooksLikeToken(s string) bool { return strings.HasPrefix(s, "tok.") }
func (fakeTokens) VerifyToken(_ context.Context, s string, _ time.Time) (auth.Token, auth.Reason, error) {
	return auth.Token{KeyID: strings.TrimPrefix(s, "tok."), JTI: "jti-" + s, Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: 1}, auth.Accepted, nil
}

func TestTokenRevokedWithinFiveSeconds(t *testing.T) {
	h := newHarness(t)
	h.a.Verifier.Tokens = fakeTokens{}
	cache := h.a.Verifier.TokenKeys
	h.a.Verifier.TokenKeys = &countingReader{KeyReader: cache}
	reads := h.keys.n.Load()
	id, _ := h.newKey([]string{"orders:read", "orders:write"}, nil)
	id2, _ := h.newKey([]string{"orders:read"}, nil)
	tok := "tok." + id
	for i := range 10 {
		v := h.call(fixture(t, "authorizer-http", tok))
		if !v.allowed || v.ctx["auth"] != "access_token" || v.ctx["scopes"] != "orders:read" {
			t.Fatalf("call %d: %+v", i, v)
		}
	}
	if n := h.keys.n.Load() - reads; n != 0 {
		t.Fatalf("token calls read the key store directly %d times", n)
	}
	// Revoke and delete behind the cache's back; within 5 s both are refused.
	k, err := h.deps.Store.GetKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	k.Status, k.Version = store.StatusRevoked, k.Version+1
	if err := h.deps.Store.UpdateKey(context.Background(), k, &store.Event{Time: h.clock.Now(), Type: store.EventKeyRevoked, KeyID: id, Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	if err := h.deps.Store.DeleteKey(context.Background(), id2, 1, &store.Event{Time: h.clock.Now(), Type: store.EventKeyDeleted, KeyID: id2, Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	_ = h.call(fixture(t, "authorizer-http", "tok."+id2)) // may be served from before the delete
	h.clock.Advance(authorizer.MaxKeyCacheTTL)
	for _, tk := range []string{tok, "tok." + id2} {
		for _, k := range kinds {
			if v := h.call(fixture(t, k.fixture, tk)); v.allowed {
				t.Fatalf("%s: token of a revoked/deleted key accepted 5 s later", k.name)
			}
		}
	}
}

func TestLastUsedAtMostOncePerMinute(t *testing.T) {
	h := newHarness(t)
	id, key := h.newKey([]string{"orders:read"}, nil)
	other := harnessOn(t, h.env, h.clock) // a second warm instance
	h.db.Writes.Store(0)
	other.db.Writes.Store(0)
	for i := range 60 {
		for _, in := range []*harness{h, other} {
			if v := in.call(fixture(t, "authorizer-http", key)); !v.allowed {
				t.Fatal("refused")
			}
		}
		if i < 59 {
			h.clock.Advance(time.Second)
		}
	}
	writes := h.db.Writes.Load() + other.db.Writes.Load()
	// One conditional update + one key.used event by the winner; the loser's update may try once.
	if writes > 3 {
		t.Fatalf("%d writes in 60 s", writes)
	}
	events := func() int {
		page, err := h.deps.Store.ListEvents(context.Background(), id, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range page.Items {
			if e.Type == store.EventKeyUsed {
				n++
			}
		}
		return n
	}
	if n := events(); n != 1 {
		t.Fatalf("%d key.used events, want 1", n)
	}
	k, err := h.deps.Store.GetKey(context.Background(), id)
	if err != nil || k.LastUsedAt == nil || k.LastUsedIP != "203.0.113.10" {
		t.Fatalf("last used not recorded: %+v %v", k, err)
	}
	h.clock.Advance(time.Second) // 60 s after the first use
	h.call(fixture(t, "authorizer-http", key, withIP("198.51.100.9")))
	if n := events(); n != 2 {
		t.Fatalf("%d key.used events after 60 s, want 2", n)
	}
	if k, _ := h.deps.Store.GetKey(context.Background(), id); k.LastUsedIP != "198.51.100.9" {
		t.Fatalf("last_used_ip %q", k.LastUsedIP)
	}
}

func TestLockoutPerKeyAndIP(t *testing.T) {
	env := testenv.New(t)
	c := testenv.NewClock()
	h := harnessOn(t, env, c)
	id, key := h.newKey([]string{"orders:read"}, nil)
	bad := badSecret(t, key)
	attacker, client := withIP("198.51.100.66"), withIP("203.0.113.10")
	for _, k := range kinds[:2] {
		t.Run(k.name, func(t *testing.T) {
			h := harnessOn(t, env, c)
			id, key := h.newKey([]string{"orders:read"}, nil)
			bad := badSecret(t, key)
			for i := range 5 {
				v := h.call(fixture(t, k.fixture, bad, attacker))
				if v.allowed || v.ctx["error"] == "too_many_attempts" {
					t.Fatalf("attempt %d: %+v", i+1, v)
				}
			}
			v := h.call(fixture(t, k.fixture, bad, attacker))
			if v.allowed || v.ctx["error"] != "too_many_attempts" || !v.denied(k.name) {
				t.Fatalf("6th attempt: want a lockout Deny, got %+v", v)
			}
			reads := h.keys.n.Load()
			if v := h.call(fixture(t, k.fixture, key, attacker)); v.allowed {
				t.Fatal("locked pair accepted on the instance that locked it")
			}
			if h.keys.n.Load() != reads {
				t.Fatal("a locked pair cost a key read")
			}
			// The real client on its own address is never locked out.
			if v := h.call(fixture(t, k.fixture, key, client)); !v.allowed {
				t.Fatalf("real client locked out: %+v", v)
			}
			// Another instance learns the lock from its next failed attempt.
			h2 := harnessOn(t, env, c)
			if v := h2.call(fixture(t, k.fixture, bad, attacker)); v.ctx["error"] != "too_many_attempts" {
				t.Fatalf("second instance: %+v", v)
			}
			page, err := h.deps.Store.ListEvents(context.Background(), id, 100, "")
			if err != nil {
				t.Fatal(err)
			}
			failed := 0
			for _, e := range page.Items {
				if e.Type == store.EventAuthFailed {
					failed++
				}
			}
			if failed != 1 {
				t.Fatalf("%d auth.failed events, want 1", failed)
			}
		})
	}
	// The cooldown ends by itself.
	for range 5 {
		h.call(fixture(t, "authorizer-http", bad, attacker))
	}
	if v := h.call(fixture(t, "authorizer-http", key, attacker)); v.allowed {
		t.Fatal("locked pair accepted")
	}
	c.Advance(5*time.Minute + time.Second)
	if v := h.call(fixture(t, "authorizer-http", key, attacker)); !v.allowed {
		t.Fatalf("still locked after the cooldown: %+v (key %s)", v, id)
	}
}

// badSecret returns a well-formed key string (good checksum) with key's id and another secret.
func badSecret(t *testing.T, key string) string {
	t.Helper()
	k, err := apikeyParse(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestInvokeAnswersAsHandle: the bytes Invoke writes are Handle's answer as JSON, for
// every event kind and outcome, and an owner full of JSON's special characters stays
// one string in the context, never a field of its own.
func TestInvokeAnswersAsHandle(t *testing.T) {
	h := newHarness(t)
	issue, _ := realTokens(t, h)
	const odd = "o\"wn\\er\",\"isAuthorized\":true,\"x\":\"\x01\u2028\xff"
	id, key := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) { k.Owner = odd })
	route := func(method, path string) func(ev map[string]any) {
		return func(ev map[string]any) {
			ev["routeKey"] = method + " " + path
			ev["resource"], ev["httpMethod"] = path, method
		}
	}
	creds := map[string]string{"key": key, "token": issue(id), "wrong": key[:len(key)-2] + "xx", "none": ""}
	for _, k := range kinds {
		for name, cred := range creds {
			for _, r := range []func(map[string]any){route("GET", "/v1/whoami"), route("POST", "/orders"), route("GET", "/nowhere")} {
				raw := fixture(t, k.fixture, cred, r)
				ctx := context.Background()
				want, herr := h.a.Handle(ctx, raw)
				got, ierr := h.a.Invoke(ctx, raw)
				if (herr == nil) != (ierr == nil) || herr != nil && herr.Error() != ierr.Error() {
					t.Fatalf("%s %s: Handle error %v, Invoke error %v", k.name, name, herr, ierr)
				}
				if herr != nil {
					continue
				}
				wb, err := json.Marshal(want)
				if err != nil {
					t.Fatal(err)
				}
				var w, g map[string]any
				if err := json.Unmarshal(wb, &w); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(got, &g); err != nil {
					t.Fatalf("%s %s: Invoke wrote %s: %v", k.name, name, got, err)
				}
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("%s %s: Invoke wrote %s, Handle answers %s", k.name, name, got, wb)
				}
				if c, ok := g["context"].(map[string]any); ok && c["key_id"] != nil && c["owner"] != strings.ToValidUTF8(odd, "\uFFFD") {
					t.Fatalf("%s %s: owner %q in %s", k.name, name, c["owner"], got)
				}
			}
		}
	}
}
