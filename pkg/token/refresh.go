package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/keyward/keyward/pkg/apikey"
)

// RefreshPrefix starts every refresh token, so it is told apart from an API key and
// a JWT without any I/O.
const RefreshPrefix = "kwr_"

// refreshSecretLen is 32 random bytes (256 bits) in base64url.
const refreshSecretLen = 43

// Refresh is a parsed refresh token: its family and its secret part.
type Refresh struct {
	Family string
	Secret string
}

// NewRefresh returns a new refresh token of family.
func NewRefresh(family string) Refresh {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return Refresh{Family: family, Secret: base64.RawURLEncoding.EncodeToString(b[:])}
}

// String is the token as handed to the client.
func (r Refresh) String() string { return RefreshPrefix + r.Family + r.Secret }

// Hash is the only stored form of the token: SHA-256 (no pepper is needed for a
// 256-bit random secret), hex-encoded so that it can live in a DynamoDB string set.
func (r Refresh) Hash() string {
	sum := sha256.Sum256([]byte(r.String()))
	return hex.EncodeToString(sum[:])
}

// ParseRefresh splits s into family and secret, without I/O.
func ParseRefresh(s string) (Refresh, bool) {
	body, ok := strings.CutPrefix(s, RefreshPrefix)
	if !ok || len(body) != apikey.IDLen+refreshSecretLen {
		return Refresh{}, false
	}
	r := Refresh{Family: body[:apikey.IDLen], Secret: body[apikey.IDLen:]}
	if !apikey.ValidID(r.Family) {
		return Refresh{}, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(r.Secret); err != nil {
		return Refresh{}, false
	}
	return r, true
}
