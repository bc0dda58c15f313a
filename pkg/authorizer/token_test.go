package authorizer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
)

// memSet is a signing-key set held in memory: token.Keys with no Secrets Manager.
type memSet struct{ s *jwks.Set }

func (m memSet) Set(context.Context) (*jwks.Set, error)            { return m.s, nil }
func (m memSet) Lookup(context.Context, string) (*jwks.Set, error) { return m.s, nil }

// realTokens wires real RS256 access tokens into h and returns a function that
// issues one for a key.
func realTokens(t testing.TB, h *harness) (issue func(keyID string) string, key jose.JSONWebKey) {
	t.Helper()
	k, err := jwks.Generate(jwks.RS256, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	keys := memSet{&jwks.Set{Keys: []jwks.Key{{JWK: k}}}}
	signer := &token.Signer{Keys: keys, Audience: "keyward", Lifetime: 300 * time.Second}
	h.deps.Verifier.Tokens = &token.Verifier{Keys: keys, Audience: "keyward"}
	return func(keyID string) string {
		a, err := signer.Sign(context.Background(), "http://127.0.0.1:3000", keyID, token.NewJTI(),
			scope.MustParseList([]string{"orders:read"}), h.clock.Now())
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
				claims, ok, err := h.deps.Verifier.Tokens.(*token.Verifier).ParseUnexpired(ctx, tok)
				if err != nil || !ok {
					t.Fatalf("parse own token: %v", err)
				}
				td := token.NewDynamo(h.deps.Store)
				if err := td.RevokeAccess(ctx, k, claims.ID, claims.IssuedAt.Time(), claims.Expiry.Time(), h.clock.Now(),
					&store.Event{Time: h.clock.Now(), Type: store.EventTokenRevoked, KeyID: id, Actor: id}); err != nil {
					t.Fatal(err)
				}
			}
			reads := h.db.gets.Load()
			h.clock.Advance(4 * time.Second)
			if v := h.call(raw); !v.allowed {
				t.Fatalf("refused before the cache expired: %+v (the bound is 5 s, not 0: fine, but the cache is not working)", v)
			}
			if h.db.gets.Load() != reads {
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
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
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
