package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
)

const (
	// IDLen is the length of a key id: 10 random bytes in lowercase base32.
	IDLen = 16
	// SecretLen is the length of the secret part: 32 random bytes (256 bits) in base64url.
	SecretLen = 43
	// ChecksumLen is the length of the CRC-32 checksum in lowercase base32.
	ChecksumLen = 7
	bodyLen     = IDLen + SecretLen + ChecksumLen
	// startLen is how much of the id the display hint `start` keeps.
	startLen = 4
)

// DefaultPrefix is the prefix of a deployment that does not choose its own.
const DefaultPrefix = "kw_live_"

// ErrMalformed is returned by Parse for any string that is not a well-formed key
// with a good checksum and the expected prefix.
var ErrMalformed = errors.New("apikey: malformed key")

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Key is a parsed API key. Secret is the plaintext secret part: never log or store it.
type Key struct {
	Prefix string
	ID     string
	Secret string
}

// String returns the full key string, checksum included.
func (k Key) String() string {
	var sb strings.Builder
	sb.Grow(len(k.Prefix) + bodyLen)
	sb.WriteString(k.Prefix)
	sb.WriteString(k.ID)
	sb.WriteString(k.Secret)
	sb.WriteString(checksum(k.Prefix, k.ID, k.Secret))
	return sb.String()
}

// Start is the short, non-secret display hint of the key (prefix and the id's first characters).
func (k Key) Start() string { return k.Prefix + k.ID[:startLen] }

// NewID returns a fresh random key id.
func NewID() string {
	var b [10]byte
	mustRead(b[:])
	return b32.EncodeToString(b[:])
}

// New returns a key with a fresh id and secret.
func New(prefix string) Key { return NewWithID(prefix, NewID()) }

// NewWithID returns a key for an existing id with a fresh secret (rotation).
func NewWithID(prefix, id string) Key {
	var b [32]byte
	mustRead(b[:])
	return Key{Prefix: prefix, ID: id, Secret: base64.RawURLEncoding.EncodeToString(b[:])}
}

// mustRead fills b from crypto/rand, which never fails on supported platforms (Go 1.24+).
func mustRead(b []byte) {
	_, _ = rand.Read(b)
}

// Parse splits s into prefix, id and secret, checking length, alphabet, checksum and
// that the prefix is the expected one. It does no I/O.
func Parse(s, prefix string) (Key, error) {
	if len(s) != len(prefix)+bodyLen || !strings.HasPrefix(s, prefix) {
		return Key{}, ErrMalformed
	}
	body := s[len(prefix):]
	k := Key{Prefix: prefix, ID: body[:IDLen], Secret: body[IDLen : IDLen+SecretLen]}
	sum := body[IDLen+SecretLen:]
	if !ValidID(k.ID) || !urlSafe(k.Secret) {
		return Key{}, ErrMalformed
	}
	if subtleEqual(sum, checksum(prefix, k.ID, k.Secret)) {
		return k, nil
	}
	return Key{}, ErrMalformed
}

// ValidID reports whether s has the shape of a key id.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func urlSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func checksum(prefix, id, secret string) string {
	h := crc32.NewIEEE()
	h.Write([]byte(prefix))
	h.Write([]byte(id))
	h.Write([]byte(secret))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], h.Sum32())
	return b32.EncodeToString(b[:])
}

// subtleEqual compares two short public strings; the checksum is not secret, but
// a constant-time compare costs nothing here.
func subtleEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// Hash returns HMAC-SHA256(pepper, secret): the only form in which a secret is stored.
func Hash(pepper []byte, secret string) []byte {
	m := hmac.New(sha256.New, pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// Matches reports, in constant time, whether secret hashes to want under pepper.
func Matches(pepper []byte, secret string, want []byte) bool {
	return hmac.Equal(Hash(pepper, secret), want)
}
