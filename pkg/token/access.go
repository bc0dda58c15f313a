package token

import (
	"bytes"
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
	fastjson "github.com/goccy/go-json"

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
	// SecretN (sv) is the key's secret version the token was issued under: the one
	// the client authenticated with, or for a refreshed token its family's. The token
	// lives only while that version is live on the key (store.Key.SecretLive).
	SecretN int64 `json:"sv"`
}

// Grant is what an access token is issued for.
type Grant struct {
	KeyID   string
	JTI     string
	Scopes  scope.Set
	SecretN int64 // the key's secret version it is bound to (>= 1)
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
	Keys Keys
	// Issuer is the deployment's configured iss (never derived from a request).
	Issuer   string
	Audience string
	Lifetime time.Duration

	mu      sync.Mutex
	signers map[string]jose.Signer // by kid: building one is not free
}

// Sign issues the access token of g at now, from the configured Issuer.
func (s *Signer) Sign(ctx context.Context, g Grant, now time.Time) (Access, error) {
	if s.Issuer == "" {
		return Access{}, errors.New("sign access token: no issuer configured")
	}
	if g.SecretN < 1 {
		return Access{}, errors.New("sign access token: no secret version to bind it to")
	}
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
	a := Access{JTI: g.JTI, KeyID: k.KeyID, IssuedAt: now, ExpiresAt: now.Add(s.Lifetime)}
	c := Claims{
		Claims: jwt.Claims{
			Issuer: s.Issuer, Subject: g.KeyID, Audience: jwt.Audience{s.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(a.ExpiresAt), ID: a.JTI,
		},
		ClientID: g.KeyID,
		Scope:    g.Scopes.Join(),
		SecretN:  g.SecretN,
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
	// Issuer is required and must be the token's iss: a token signed by this
	// deployment's keys for another issuer is refused. A Verifier without it refuses
	// every token with an error (a configuration failure fails closed).
	Issuer string
}

// errNoIssuer is a Verifier built without its Issuer.
var errNoIssuer = errors.New("token verifier: no issuer configured")

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
	return auth.Token{KeyID: c.Subject, JTI: c.ID, Scopes: scopes, SecretN: c.SecretN, IssuedAt: c.IssuedAt.Time()}, auth.Accepted, nil
}

// Parse verifies s and returns its claims; Expired for a token past exp, Unknown for
// another issuer or audience or a bad signature, Malformed for a token without its
// subject, id, expiry or secret version (sv: every token issued since the binding
// has one; one issued before is refused, and lived 5 minutes at most anyway).
// Revocation and the secret version's life are the key's to say
// (store.Key.TokenRevoked, store.Key.SecretLive).
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
	if c.Subject == "" || c.ID == "" || c.Expiry == nil || c.ClientID != c.Subject || c.SecretN < 1 {
		return nil, auth.Malformed, nil
	}
	return c, auth.Accepted, nil
}

// ParseUnexpired verifies the signature and issuer of s and returns its claims,
// whatever its times: revocation uses it to learn a token's jti, client and expiry.
func (v *Verifier) ParseUnexpired(ctx context.Context, s string) (*Claims, bool, error) {
	c, reason, err := v.parse(ctx, s)
	if err != nil || reason != auth.Accepted {
		return nil, false, err
	}
	return c, c.Issuer == v.Issuer, nil
}

func (v *Verifier) parse(ctx context.Context, s string) (*Claims, auth.Reason, error) {
	if v.Issuer == "" {
		return nil, auth.Accepted, errNoIssuer
	}
	jws, err := jose.ParseSignedCompact(s, algorithms)
	if err != nil || len(jws.Signatures) != 1 || jws.Signatures[0].Header.KeyID == "" {
		return nil, auth.Malformed, nil
	}
	h := jws.Signatures[0].Header
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
	payload, err := jws.Verify(k.Public().Key)
	if err != nil {
		return nil, auth.Unknown, nil
	}
	c, err := decodeClaims(payload)
	if err != nil {
		return nil, auth.Unknown, nil
	}
	return c, auth.Accepted, nil
}

// decodeClaims decodes a verified payload: only bytes this deployment signed get
// here. go-json decodes them into wireClaims, in a fraction of go-jose's own
// decoder's time, and they are converted to jwt.Claims as go-jose's decoders convert
// them, so the claims checked are the same for every payload Signer.Sign writes. Not
// for every payload: go-json matches claim names regardless of case and lets a
// duplicate name win, where go-jose refuses duplicates and matches case. That is safe
// only while every signed claim name is fixed by Signer.Sign, never chosen by a
// client; TestSignerWritesOnlyFixedClaimNames holds the signer to that. As for
// authorizer events, go-json's known panic on a document that does not end with '}'
// is ruled out first, and any panic is an error.
func decodeClaims(payload []byte) (c *Claims, err error) {
	if t := bytes.TrimRight(payload, " \t\r\n"); len(t) == 0 || t[len(t)-1] != '}' {
		return nil, errClaims
	}
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, errClaims
		}
	}()
	var w wireClaims
	if err := fastjson.Unmarshal(payload, &w); err != nil {
		return nil, err
	}
	c = &Claims{
		Claims:   jwt.Claims{Issuer: w.Issuer, Subject: w.Subject, ID: w.ID},
		ClientID: w.ClientID, Scope: w.Scope, SecretN: w.SecretN,
	}
	if c.Audience, err = audienceOf(w.Audience); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		in  *float64
		out **jwt.NumericDate
	}{{w.Expiry, &c.Expiry}, {w.NotBefore, &c.NotBefore}, {w.IssuedAt, &c.IssuedAt}} {
		if *d.out, err = numericDate(d.in); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// wireClaims are Claims in types go-json decodes natively: jwt.NumericDate's and
// jwt.Audience's own decoders would cost most of the decode (they go through
// go-jose's decoder again).
type wireClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  any      `json:"aud"`
	Expiry    *float64 `json:"exp"`
	NotBefore *float64 `json:"nbf"`
	IssuedAt  *float64 `json:"iat"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	SecretN   int64    `json:"sv"`
}

// maxNumericDate bounds a date, as jwt.NumericDate's decoder does: far past any real
// one, short of where time.Unix would wrap (an nbf wrapped into the past would pass).
const maxNumericDate = 1 << 62

// numericDate is jwt.NumericDate's decoding of a date (nil when absent): whole
// seconds, truncated, within maxNumericDate.
func numericDate(f *float64) (*jwt.NumericDate, error) {
	if f == nil {
		return nil, nil
	}
	if *f >= maxNumericDate || *f <= -maxNumericDate || *f != *f {
		return nil, jwt.ErrUnmarshalNumericDate
	}
	d := jwt.NumericDate(*f)
	return &d, nil
}

// audienceOf is jwt.Audience's decoding of aud: a string or an array of strings. An
// absent (or null) aud is no audience, which every verification refuses.
func audienceOf(v any) (jwt.Audience, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return jwt.Audience{v}, nil
	case []any:
		a := make(jwt.Audience, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, jwt.ErrUnmarshalAudience
			}
			a[i] = s
		}
		return a, nil
	}
	return nil, jwt.ErrUnmarshalAudience
}

// errClaims is a payload that is not one JSON object of claims.
var errClaims = errors.New("token: claims are not one JSON object")
