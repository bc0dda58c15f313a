package token

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
)

// algorithms accepted when parsing a token: the ones jwks generates. "none" and the
// HMAC algorithms are never accepted.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// leeway tolerates clock skew between Lambda instances on nbf and exp.
const leeway = 30 * time.Second

// Claims are an access token's claims.
type Claims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

// Access is what an issued access token says, for responses and events.
type Access struct {
	Token     string
	JTI       string
	KeyID     string // kid of the signing key
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Keys gives the signing-key set; *jwks.Cache implements it.
type Keys interface {
	// Set returns the current set (jwks.ErrNoKeys if the secret is not initialised).
	Set(ctx context.Context) (*jwks.Set, error)
	// Lookup returns the set, refreshed first (within bounds) if it lacks kid.
	Lookup(ctx context.Context, kid string) (*jwks.Set, error)
}

var _ Keys = (*jwks.Cache)(nil)

// Signer issues access tokens.
type Signer struct {
	Keys     Keys
	Audience string
	Lifetime time.Duration

	mu      sync.Mutex
	signers map[string]jose.Signer // by kid: building one is not free
}

// Sign issues an access token with id jti for key id, with scopes, from issuer, at now.
func (s *Signer) Sign(ctx context.Context, issuer, keyID, jti string, scopes scope.Set, now time.Time) (Access, error) {
	set, err := s.Keys.Set(ctx)
	if err != nil {
		return Access{}, fmt.Errorf("signing keys: %w", err)
	}
	k := set.Current()
	signer, err := s.signer(k)
	if err != nil {
		return Access{}, err
	}
	now = now.UTC().Truncate(time.Second)
	a := Access{JTI: jti, KeyID: k.KeyID, IssuedAt: now, ExpiresAt: now.Add(s.Lifetime)}
	c := Claims{
		Claims: jwt.Claims{
			Issuer: issuer, Subject: keyID, Audience: jwt.Audience{s.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(a.ExpiresAt), ID: a.JTI,
		},
		ClientID: keyID,
		Scope:    scopes.Join(),
	}
	if a.Token, err = jwt.Signed(signer).Claims(c).Serialize(); err != nil {
		return Access{}, fmt.Errorf("sign access token: %w", err)
	}
	return a, nil
}

func (s *Signer) signer(k jose.JSONWebKey) (jose.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sg, ok := s.signers[k.KeyID]; ok {
		return sg, nil
	}
	if rk, ok := k.Key.(*rsa.PrivateKey); ok {
		// A key parsed from a JWK is not precomputed: without this, every signature
		// rebuilds and re-validates the CRT values (about a quarter of its cost).
		rk.Precompute()
	}
	sg, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("signer for %s: %w", k.KeyID, err)
	}
	if s.signers == nil {
		s.signers = map[string]jose.Signer{}
	}
	s.signers[k.KeyID] = sg
	return sg, nil
}

// NewJTI returns a fresh token id: 128 random bits.
func NewJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Verifier checks access tokens; it is the auth.TokenVerifier of every function.
type Verifier struct {
	Keys     Keys
	Audience string
	// Issuer, when set, must be the token's iss. Tokens are only ever signed by this
	// deployment's keys, so an unset Issuer (derived per request) checks nothing more.
	Issuer string
}

var _ auth.TokenVerifier = (*Verifier)(nil)

// LooksLikeToken reports whether s has a JWS compact shape: three base64url parts,
// the first a JSON object. API keys and refresh tokens never contain a dot.
func (v *Verifier) LooksLikeToken(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// VerifyToken checks the signature, audience, issuer and times of s. Whether it was
// revoked (its jti, or its iat under the key's watermark) is on its key
// (store.Key.TokenRevoked), which the caller reads anyway.
func (v *Verifier) VerifyToken(ctx context.Context, s string, now time.Time) (auth.Token, auth.Reason, error) {
	c, reason, err := v.Parse(ctx, s, now)
	if err != nil || reason != auth.Accepted {
		return auth.Token{}, reason, err
	}
	scopes, perr := scope.ParseList(strings.Fields(c.Scope))
	if perr != nil {
		return auth.Token{}, auth.Malformed, nil
	}
	return auth.Token{KeyID: c.Subject, JTI: c.ID, Scopes: scopes, IssuedAt: c.IssuedAt.Time()}, auth.Accepted, nil
}

// Parse verifies s and returns its claims; Expired for a token past exp, Unknown for
// any other failure. Revocation is the key's to say (store.Key.TokenRevoked).
func (v *Verifier) Parse(ctx context.Context, s string, now time.Time) (*Claims, auth.Reason, error) {
	c, reason, err := v.parse(ctx, s)
	if err != nil || reason != auth.Accepted {
		return nil, reason, err
	}
	exp := jwt.Expected{AnyAudience: jwt.Audience{v.Audience}, Issuer: v.Issuer, Time: now}
	if err := c.ValidateWithLeeway(exp, leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return nil, auth.Expired, nil
		}
		return nil, auth.Unknown, nil
	}
	if c.Subject == "" || c.ID == "" || c.Expiry == nil || c.ClientID != c.Subject {
		return nil, auth.Malformed, nil
	}
	return c, auth.Accepted, nil
}

// ParseUnexpired verifies only the signature of s and returns its claims, whatever
// its times: revocation uses it to learn a token's jti, client and expiry.
func (v *Verifier) ParseUnexpired(ctx context.Context, s string) (*Claims, bool, error) {
	c, reason, err := v.parse(ctx, s)
	return c, reason == auth.Accepted && err == nil, err
}

func (v *Verifier) parse(ctx context.Context, s string) (*Claims, auth.Reason, error) {
	tok, err := jwt.ParseSigned(s, algorithms)
	if err != nil || len(tok.Headers) != 1 || tok.Headers[0].KeyID == "" {
		return nil, auth.Malformed, nil
	}
	h := tok.Headers[0]
	set, err := v.Keys.Lookup(ctx, h.KeyID)
	if errors.Is(err, jwks.ErrNoKeys) {
		return nil, auth.Unknown, nil
	}
	if err != nil {
		return nil, auth.Accepted, fmt.Errorf("signing keys: %w", err)
	}
	if set == nil {
		return nil, auth.Unknown, nil
	}
	k, ok := set.Find(h.KeyID)
	if !ok || k.Algorithm != h.Algorithm {
		return nil, auth.Unknown, nil
	}
	var c Claims
	if err := tok.Claims(k.Public().Key, &c); err != nil {
		return nil, auth.Unknown, nil
	}
	return &c, auth.Accepted, nil
}
