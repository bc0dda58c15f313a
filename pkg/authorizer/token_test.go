package authorizer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/keyward/keyward/pkg/authorizer"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
	"github.com/keyward/keyward/pkg/token"
)

// issuer is the test deployment's configured issuer.
const issuer = "http://127.0.0.1:3000"

// realTokens wires real RS256 access tokens into h and returns a function that
// issues one for a key, bound to its first secret version.
func realTokens(t testing.TB, h *harness) (issue func(keyID string) string, key jose.JSONWebKey) {
	t.Helper()
	sign, k := realSigner(t, h)
	return func(keyID string) string { return sign(issuer, keyID, 1) }, k
}

// realSigner wires real RS256 access tokens into h (the verifier checks issuer) and
// returns a function that signs one with this deployment's key for any iss and
// secret version, as an attacker holding a token of another issuer would present it.
func realSigner(t testing.TB, h *harness) (sign func(iss, keyID string, sv int64) string, key jose.JSONWebKey) {
	t.Helper()
	k, err := jwks.Generate(jwks.RS256, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys := testenv.StaticKeys{Keys: &jwks.Set{Keys: []jwks.Key{{JWK: k}}}}
	h.a.Verifier.Tokens = &token.Verifier{Keys: keys, Audience: "keyward", Issuer: issuer}
	return func(iss, keyID string, sv int64) string {
		signer := &token.Signer{Keys: keys, Issuer: iss, Audience: "keyward", Lifetime: 300 * time.Second}
		a, err := signer.Sign(context.Background(), token.Grant{KeyID: keyID, JTI: token.NewJTI(),
			Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: sv}, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return a.Token
	}, k
}

// TestRealTokenRevocationBound: with real RS256 tokens, revoking the key, or the token
// itself (RFC 7009, on the key item), is seen by the authorizer within 5 s, and
// before that no request reads the store.
func TestRealTokenRevocationBound(t *testing.T) {
	for _, how := range []string{"key", "token"} {
		t.Run(how, func(t *testing.T) {
			h := newHarness(t)
			issue, _ := realTokens(t, h)
			id, _ := h.newKey([]string{"orders:read"}, nil)
			tok := issue(id)
			raw := fixture(t, "authorizer-http", tok)
			if v := h.call(raw); !v.allowed || v.ctx["auth"] != "access_token" {
				t.Fatalf("fresh token refused: %+v", v)
			}
			ctx := context.Background()
			k, err := h.deps.Store.GetKey(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if how == "key" {
				k.Version++
				k.Status = store.StatusRevoked
				if err := h.deps.Store.UpdateKey(ctx, k, &store.Event{Time: h.clock.Now(), Type: store.EventKeyRevoked, KeyID: id, Actor: "root"}); err != nil {
					t.Fatal(err)
				}
			} else {
				claims, ok, err := h.a.Verifier.Tokens.(*token.Verifier).ParseUnexpired(ctx, tok)
				if err != nil || !ok {
					t.Fatalf("parse own token: %v", err)
				}
				td := token.NewDynamo(h.deps.Store)
				if err := td.RevokeAccess(ctx, k, claims.ID, claims.IssuedAt.Time(), claims.Expiry.Time(), h.clock.Now(),
					&store.Event{Time: h.clock.Now(), Type: store.EventTokenRevoked, KeyID: id, Actor: id}); err != nil {
					t.Fatal(err)
				}
			}
			reads := h.db.Gets.Load()
			h.clock.Advance(4 * time.Second)
			if v := h.call(raw); !v.allowed {
				t.Fatalf("refused before the cache expired: %+v (the bound is 5 s, not 0: fine, but the cache is not working)", v)
			}
			if h.db.Gets.Load() != reads {
				t.Fatal("a cached token verification read the store")
			}
			h.clock.Advance(1100 * time.Millisecond)
			if v := h.call(raw); v.allowed {
				t.Fatalf("token of a revoked %s accepted after 5 s: %+v", how, v)
			}
		})
	}
}

// tokenFigure measures the access-token path of the handler (event decode, JWT
// signature, cached revocation check, route match, answer) against a bare go-jose
// verification of the same token with the same key, interleaved.
func tokenFigure(b *testing.B, h *harness) float64 {
	issue, k := realTokens(b, h)
	id, _ := h.newKey([]string{"orders:read"}, nil)
	tok := issue(id)
	raw := fixture(b, "authorizer-http", tok)
	ctx := context.Background()
	pub := k.Public().Key
	bare := func() {
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.Verify(pub); err != nil {
			b.Fatal(err)
		}
	}
	handler := func() {
		out, err := h.a.Invoke(ctx, raw)
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
	handler() // the one store read behind the token, then cached
	const n = 20000
	var th, tb time.Duration
	for i := range n {
		s := time.Now()
		if i%2 == 0 {
			handler()
			th += time.Since(s)
			s = time.Now()
			bare()
			tb += time.Since(s)
		} else {
			bare()
			tb += time.Since(s)
			s = time.Now()
			handler()
			th += time.Since(s)
		}
	}
	fmt.Printf("authorizer access token: handler %v, bare RS256 verification %v per call (%d interleaved pairs)\n", th/n, tb/n, n)
	return float64(th) / float64(tb)
}

// unboundToken signs, with this deployment's key, a token without the sv claim, as
// tokens were before secret-version binding.
func unboundToken(t testing.TB, h *harness, k jose.JSONWebKey, keyID string) string {
	t.Helper()
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	tok, err := jwt.Signed(sg).Claims(jwt.Claims{
		Issuer: issuer, Subject: keyID, Audience: jwt.Audience{"keyward"}, ID: token.NewJTI(),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute)),
	}).Claims(map[string]any{"client_id": keyID, "scope": "orders:read"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenIssuerChecked: a token signed by this deployment's own key, for another
// issuer, is an invalid credential on every event kind; the same token for the
// configured issuer passes.
func TestTokenIssuerChecked(t *testing.T) {
	h := newHarness(t)
	sign, _ := realSigner(t, h)
	id, _ := h.newKey([]string{"orders:read"}, nil)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			if v := h.call(fixture(t, k.fixture, sign(issuer, id, 1))); !v.allowed {
				t.Fatalf("token of the configured issuer refused: %+v", v)
			}
			for _, iss := range []string{"https://evil.example.com", issuer + "/", "http://127.0.0.1:3001", "HTTP://127.0.0.1:3000"} {
				if v := h.call(fixture(t, k.fixture, sign(iss, id, 1))); !v.refusedInvalid(k.name) {
					t.Fatalf("token of issuer %q: want an invalid-credential refusal, got %+v", iss, v)
				}
			}
		})
	}
}

// TestTokenSecretVersion: a token lives only while the secret version it was issued
// under does: the current one, or the previous one during its grace. The end of grace
// takes effect at once, on the cached key, with no read.
func TestTokenSecretVersion(t *testing.T) {
	h := newHarness(t)
	sign, k := realSigner(t, h)
	id, _ := h.newKey([]string{"orders:read"}, func(k *store.Key, secret func(int64) (string, store.Secret)) {
		prev := k.Secret // version 1, in grace for 2 s
		prev.ExpiresAt = h.clock.Now().Add(2 * time.Second)
		k.Previous = &prev
		_, k.Secret = secret(2)
		k.Status = store.StatusRotating
	})
	v1, v2, v3 := sign(issuer, id, 1), sign(issuer, id, 2), sign(issuer, id, 3)
	unbound := unboundToken(t, h, k, id)
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			for _, c := range []struct {
				name, tok string
				ok        bool
			}{{"previous in grace", v1, true}, {"current", v2, true}, {"unknown version", v3, false}, {"no sv claim", unbound, false}} {
				v := h.call(fixture(t, kind.fixture, c.tok))
				if c.ok && !v.allowed {
					t.Fatalf("%s: refused: %+v", c.name, v)
				}
				if !c.ok && !v.refusedInvalid(kind.name) {
					t.Fatalf("%s: want an invalid-credential refusal, got %+v", c.name, v)
				}
			}
		})
	}
	reads := h.db.Gets.Load()
	h.clock.Advance(2 * time.Second) // the grace ends; the cached key is still fresh
	for _, kind := range kinds {
		if v := h.call(fixture(t, kind.fixture, v1)); !v.refusedInvalid(kind.name) {
			t.Fatalf("%s: token of the previous secret after its grace: %+v", kind.name, v)
		}
		if v := h.call(fixture(t, kind.fixture, v2)); !v.allowed {
			t.Fatalf("%s: token of the current secret refused: %+v", kind.name, v)
		}
	}
	if h.db.Gets.Load() != reads {
		t.Fatal("the end of grace was decided with a new read; the cached key decides it")
	}
}

// TestTokenDiesWithRotationWithinBound: rotating with grace 0 (written to the store
// behind the authorizer's back, as the management API does) refuses the old
// version's tokens within the 5 s key-cache bound, and not one request later.
func TestTokenDiesWithRotationWithinBound(t *testing.T) {
	h := newHarness(t)
	sign, _ := realSigner(t, h)
	id, _ := h.newKey([]string{"orders:read"}, nil)
	old := rotateBehindTheAuthorizer(t, h, sign, id)
	rotated := h.clock.Now()
	for h.call(old).allowed {
		if h.clock.Now().Sub(rotated) >= authorizer.MaxKeyCacheTTL {
			t.Fatalf("token of a rotated-away secret still accepted %v after a grace-0 rotation", h.clock.Now().Sub(rotated))
		}
		h.clock.Advance(250 * time.Millisecond)
	}
	if v := h.call(fixture(t, "authorizer-http", sign(issuer, id, 2))); !v.allowed {
		t.Fatalf("token of the new secret refused: %+v", v)
	}
}

// rotateBehindTheAuthorizer has the authorizer accept (and cache) a token of key id's
// first secret, then rotates the key with grace 0 in the store, as the management API
// does; it returns that token's event.
func rotateBehindTheAuthorizer(t *testing.T, h *harness, sign func(string, string, int64) string, id string) []byte {
	t.Helper()
	old := fixture(t, "authorizer-http", sign(issuer, id, 1))
	if v := h.call(old); !v.allowed {
		t.Fatalf("fresh token refused: %+v", v)
	}
	ctx := context.Background()
	k, err := h.deps.Store.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	_, sec := apikeySecret(t, h, id, 2)
	k.Version++
	k.Secret, k.Previous = sec, nil
	if err := h.deps.Store.UpdateKey(ctx, k, &store.Event{Time: h.clock.Now(), Type: store.EventKeyRotated, KeyID: id, Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	return old
}

// apikeySecret returns a new secret of version n for key id, and its stored form.
func apikeySecret(t testing.TB, h *harness, id string, n int64) (string, store.Secret) {
	t.Helper()
	return testenv.NewSecret(t, h.deps.Peppers, id, n)
}

// TestNewSecretTokenNotHeldBackByCache: right after a rotation, a token of the new
// secret is accepted at once although the cached key predates it: that one request
// reads the key afresh (and refreshes the cache, so the old version's tokens are
// refused from then on); the next reads nothing.
func TestNewSecretTokenNotHeldBackByCache(t *testing.T) {
	h := newHarness(t)
	sign, _ := realSigner(t, h)
	id, _ := h.newKey([]string{"orders:read"}, nil)
	old := rotateBehindTheAuthorizer(t, h, sign, id)
	fresh := fixture(t, "authorizer-http", sign(issuer, id, 2))
	reads := h.db.Gets.Load()
	for _, kind := range kinds {
		if v := h.call(fixture(t, kind.fixture, sign(issuer, id, 2))); !v.allowed {
			t.Fatalf("%s: token of the new secret refused right after the rotation: %+v", kind.name, v)
		}
	}
	if n := h.db.Gets.Load() - reads; n != 1 {
		t.Fatalf("%d key reads for three tokens of the new secret, want 1 (the refresh)", n)
	}
	if v := h.call(old); v.allowed {
		t.Fatal("token of the rotated-away secret accepted after the cache was refreshed")
	}
	if v := h.call(fresh); !v.allowed || h.db.Gets.Load()-reads != 1 {
		t.Fatalf("cached again: %+v, %d reads", v, h.db.Gets.Load()-reads)
	}
	// A token claiming a version the key never had reads afresh once per call, and
	// is refused: only this deployment's signing key can make one.
	if v := h.call(fixture(t, "authorizer-http", sign(issuer, id, 9))); v.allowed {
		t.Fatal("token of a version the key never had accepted")
	}
}
