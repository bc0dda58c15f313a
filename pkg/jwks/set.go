package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// MinRetention is the least time a retired public key stays published: API Gateway's
// JWT authorizer caches a JWKS for up to two hours.
const MinRetention = 2 * time.Hour

// Algorithms a signing key may use. RS256 is the default: API Gateway's JWT
// authorizer accepts RSA keys only.
const (
	RS256 = string(jose.RS256)
	ES256 = string(jose.ES256)
	EdDSA = string(jose.EdDSA)
)

// ErrNoKeys is returned when the secret holds no usable JWK set (not yet rotated).
var ErrNoKeys = errors.New("jwks: the signing-key secret holds no keys yet")

// Key is one signing key with its lifecycle.
type Key struct {
	JWK jose.JSONWebKey
	// RetiredAt is when the key stopped signing; zero for the current key.
	RetiredAt time.Time
}

// Set is the signing-key set: Keys[0] signs, all verify.
type Set struct {
	Keys []Key
}

// stored is the secret's JSON: a JWK set (RFC 7517 allows extra members) with the
// retirement time of each retired key by kid.
type stored struct {
	Keys    []json.RawMessage    `json:"keys"`
	Retired map[string]time.Time `json:"retired,omitempty"`
}

// Parse reads a set from the secret's value; ErrNoKeys when it is not a JWK set.
func Parse(value string) (*Set, error) {
	var s stored
	if err := json.Unmarshal([]byte(value), &s); err != nil || len(s.Keys) == 0 {
		return nil, ErrNoKeys
	}
	set := &Set{}
	for i, raw := range s.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("jwks: key %d: %w", i, err)
		}
		if k.IsPublic() || k.KeyID == "" || k.Algorithm == "" {
			return nil, fmt.Errorf("jwks: key %d is not a private key with kid and alg", i)
		}
		set.Keys = append(set.Keys, Key{JWK: k, RetiredAt: s.Retired[k.KeyID]})
	}
	return set, nil
}

// Marshal returns the secret's value for the set (private keys).
func (s *Set) Marshal() (string, error) {
	out := stored{Retired: map[string]time.Time{}}
	for _, k := range s.Keys {
		b, err := k.JWK.MarshalJSON()
		if err != nil {
			return "", fmt.Errorf("jwks: marshal %s: %w", k.JWK.KeyID, err)
		}
		out.Keys = append(out.Keys, b)
		if !k.RetiredAt.IsZero() {
			out.Retired[k.JWK.KeyID] = k.RetiredAt.UTC()
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Current returns the signing key.
func (s *Set) Current() jose.JSONWebKey { return s.Keys[0].JWK }

// Find returns the key with kid.
func (s *Set) Find(kid string) (jose.JSONWebKey, bool) {
	for _, k := range s.Keys {
		if k.JWK.KeyID == kid {
			return k.JWK, true
		}
	}
	return jose.JSONWebKey{}, false
}

// Public returns the published JWK set: public halves only, with use=sig.
func (s *Set) Public() jose.JSONWebKeySet {
	out := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(s.Keys))}
	for _, k := range s.Keys {
		pub := k.JWK.Public()
		pub.Use = "sig"
		out.Keys = append(out.Keys, pub)
	}
	return out
}

// PublicJSON is Public as JSON, the body of /.well-known/jwks.json.
func (s *Set) PublicJSON() ([]byte, error) { return json.Marshal(s.Public()) }

// Rotated returns a new set: a fresh key of alg first, the current key retired at
// now, and every older key kept only while it was retired less than retention ago.
// The previous key is always kept, so tokens it signed verify until they expire.
func (s *Set) Rotated(alg string, now time.Time, retention time.Duration) (*Set, error) {
	if retention < MinRetention {
		retention = MinRetention
	}
	k, err := Generate(alg, now)
	if err != nil {
		return nil, err
	}
	next := &Set{Keys: []Key{{JWK: k}}}
	if s == nil {
		return next, nil
	}
	for i, old := range s.Keys {
		if i == 0 {
			old.RetiredAt = now.UTC()
			next.Keys = append(next.Keys, old)
			continue
		}
		if now.Sub(old.RetiredAt) < retention {
			next.Keys = append(next.Keys, old)
		}
	}
	return next, nil
}

// Generate returns a new private signing key of alg (RS256: RSA-2048, ES256: P-256,
// EdDSA: Ed25519). Its kid is random and says when it was made, for operators.
func Generate(alg string, now time.Time) (jose.JSONWebKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256, "":
		alg = RS256
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return jose.JSONWebKey{}, fmt.Errorf("jwks: unsupported algorithm %q (want RS256, ES256 or EdDSA)", alg)
	}
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("jwks: generate %s key: %w", alg, err)
	}
	var b [9]byte
	_, _ = rand.Read(b[:])
	kid := now.UTC().Format("20060102") + "-" + base64.RawURLEncoding.EncodeToString(b[:])
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: alg, Use: "sig"}, nil
}
