package token

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
)

// memKeys is a signing-key set in memory.
type memKeys struct{ s *jwks.Set }

func (m memKeys) Set(context.Context) (*jwks.Set, error)            { return m.s, nil }
func (m memKeys) Lookup(context.Context, string) (*jwks.Set, error) { return m.s, nil }

const testIssuer = "https://auth.example.com"

func testKeys(t *testing.T, now time.Time) (memKeys, jose.JSONWebKey) {
	t.Helper()
	k, err := jwks.Generate(jwks.RS256, now)
	if err != nil {
		t.Fatal(err)
	}
	return memKeys{&jwks.Set{Keys: []jwks.Key{{JWK: k}}}}, k
}

func grant(sv int64) Grant {
	return Grant{KeyID: "kid0000000000001", JTI: NewJTI(), Scopes: scope.MustParseList([]string{"orders:read"}), SecretN: sv}
}

func TestSignerNeedsIssuerAndSecretVersion(t *testing.T) {
	now := time.Now()
	keys, _ := testKeys(t, now)
	if _, err := (&Signer{Keys: keys, Audience: "keyward", Lifetime: time.Minute}).Sign(context.Background(), grant(1), now); err == nil {
		t.Error("signed without an issuer")
	}
	if _, err := (&Signer{Keys: keys, Issuer: testIssuer, Audience: "keyward", Lifetime: time.Minute}).Sign(context.Background(), grant(0), now); err == nil {
		t.Error("signed without a secret version")
	}
}

func TestVerifierChecksIssuerAndSecretVersion(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	keys, jwk := testKeys(t, now)
	v := &Verifier{Keys: keys, Audience: "keyward", Issuer: testIssuer}
	sign := func(iss string, sv int64) string {
		a, err := (&Signer{Keys: keys, Issuer: iss, Audience: "keyward", Lifetime: time.Minute}).Sign(ctx, grant(sv), now)
		if err != nil {
			t.Fatal(err)
		}
		return a.Token
	}
	// A token without sv, as issued before the claim existed.
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	unbound, err := jwt.Signed(sg).Claims(jwt.Claims{Issuer: testIssuer, Subject: "kid0000000000001", Audience: jwt.Audience{"keyward"},
		ID: "j", IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}).
		Claims(map[string]any{"client_id": "kid0000000000001", "scope": "orders:read"}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tok  string
		want auth.Reason
	}{
		{"configured issuer", sign(testIssuer, 2), auth.Accepted},
		{"another issuer, same key", sign("https://evil.example.com", 2), auth.Unknown},
		{"issuer with a trailing slash", sign(testIssuer+"/", 2), auth.Unknown},
		{"no sv claim", unbound, auth.Malformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, reason, err := v.VerifyToken(ctx, c.tok, now)
			if err != nil || reason != c.want {
				t.Fatalf("VerifyToken = %q, %v; want %q", reason, err, c.want)
			}
			if c.want == auth.Accepted && tok.SecretN != 2 {
				t.Fatalf("SecretN = %d, want the sv claim 2", tok.SecretN)
			}
		})
	}
	// Revocation learns nothing from a token of another issuer.
	if _, ok, err := v.ParseUnexpired(ctx, sign("https://evil.example.com", 2)); ok || err != nil {
		t.Errorf("ParseUnexpired accepted another issuer's token (%v)", err)
	}
	if c, ok, err := v.ParseUnexpired(ctx, sign(testIssuer, 2)); !ok || err != nil || c.SecretN != 2 {
		t.Errorf("ParseUnexpired of an own token: %v %v %v", c, ok, err)
	}
	// A Verifier built without its issuer fails closed: an error, never Accepted.
	bare := &Verifier{Keys: keys, Audience: "keyward"}
	if _, reason, err := bare.VerifyToken(ctx, sign(testIssuer, 2), now); err == nil {
		t.Fatalf("a Verifier without an issuer answered %q without an error", reason)
	}
}

// TestVerifierChecksClaims: each claim a verification decides on refuses the token
// that breaks it, from the verified payload: times past their leeway, another
// audience, a payload or header changed after signing, another key under this kid.
func TestVerifierChecksClaims(t *testing.T) {
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	keys, jwk := testKeys(t, now)
	v := &Verifier{Keys: keys, Audience: "keyward", Issuer: testIssuer}
	sign := func(key any, c jwt.Claims, extra map[string]any) string {
		sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(sg).Claims(c).Claims(extra).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := func(edit func(c *jwt.Claims)) jwt.Claims {
		c := jwt.Claims{Issuer: testIssuer, Subject: "kid0000000000001", Audience: jwt.Audience{"keyward"}, ID: "j",
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
		if edit != nil {
			edit(&c)
		}
		return c
	}
	extra := map[string]any{"client_id": "kid0000000000001", "scope": "orders:read", "sv": 1}
	other, err := jwks.Generate(jwks.RS256, now)
	if err != nil {
		t.Fatal(err)
	}
	other.KeyID = jwk.KeyID // another key, presented under this deployment's kid
	good := sign(jwk, claims(nil), extra)
	parts := strings.Split(good, ".")
	forged := strings.Replace(string(mustDecode(t, parts[1])), `"orders:read"`, `"orders:write"`, 1)
	cases := []struct {
		name string
		tok  string
		want auth.Reason
	}{
		{"as issued", good, auth.Accepted},
		{"audience list with ours", sign(jwk, claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{"x", "keyward"} }), extra), auth.Accepted},
		{"expired past the leeway", sign(jwk, claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-leeway - time.Second)) }), extra), auth.Expired},
		{"not valid yet", sign(jwk, claims(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(leeway + time.Second)) }), extra), auth.Unknown},
		{"issued in the future", sign(jwk, claims(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(leeway + time.Second)) }), extra), auth.Unknown},
		{"another audience", sign(jwk, claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{"console"} }), extra), auth.Unknown},
		{"no expiry", sign(jwk, claims(func(c *jwt.Claims) { c.Expiry = nil }), extra), auth.Malformed},
		{"client is not the subject", sign(jwk, claims(nil), map[string]any{"client_id": "kid0000000000002", "scope": "orders:read", "sv": 1}), auth.Malformed},
		{"payload changed after signing", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2], auth.Unknown},
		{"another key under our kid", sign(other, claims(nil), extra), auth.Unknown},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"`+jwk.KeyID+`"}`)) + "." + parts[1] + ".", auth.Malformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, reason, err := v.VerifyToken(ctx, c.tok, now)
			if err != nil || reason != c.want {
				t.Fatalf("VerifyToken = %q, %v; want %q", reason, err, c.want)
			}
			if c.want == auth.Accepted && (tok.KeyID != "kid0000000000001" || tok.SecretN != 1 || tok.Scopes.Join() != "orders:read" || !tok.IssuedAt.Equal(now)) {
				t.Fatalf("VerifyToken read %+v", tok)
			}
		})
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
