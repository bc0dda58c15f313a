package apikey

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// fixedKey is a well-formed key with a good checksum, for seeds.
var fixedKey = Key{Prefix: DefaultPrefix, ID: "abcdefghijklmnop", Secret: strings.Repeat("A", SecretLen-1) + "Q"}

// FuzzParse: any string, any prefix. Parse never panics, refuses with ErrMalformed
// only, and whatever it accepts is exactly the key it returns, printed again.
func FuzzParse(f *testing.F) {
	f.Add(fixedKey.String(), DefaultPrefix)
	f.Add(fixedKey.String(), "kw_test_")
	f.Add(strings.ToUpper(fixedKey.String()), DefaultPrefix)
	f.Add("", "")
	f.Add(DefaultPrefix, DefaultPrefix)
	f.Add(strings.Repeat("a", bodyLen), "")
	f.Add(fixedKey.String()[:len(fixedKey.String())-1]+"a", DefaultPrefix)
	f.Fuzz(func(t *testing.T, s, prefix string) {
		k, err := Parse(s, prefix)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || k != (Key{}) {
				t.Fatalf("Parse(%q) = %+v, %v", s, k, err)
			}
			return
		}
		if k.String() != s || k.Prefix != prefix || !ValidID(k.ID) || len(k.Secret) != SecretLen {
			t.Fatalf("Parse(%q) = %+v, which prints as %q", s, k, k.String())
		}
		if !strings.HasPrefix(k.Start(), prefix) {
			t.Fatalf("Start() = %q", k.Start())
		}
	})
}

// FuzzKeyRoundTrip: every key made from any id and secret bytes, under any prefix,
// parses back to itself, and changing any one byte of its string is refused
// (CRC-32 catches every burst of up to 32 bits) without a database read.
func FuzzKeyRoundTrip(f *testing.F) {
	f.Add(DefaultPrefix, []byte("0123456789"), []byte("secret"), uint16(0), byte('x'))
	f.Add("kw_test_", []byte{0xff, 0, 1}, []byte{}, uint16(20), byte('A'))
	f.Add("", []byte("abcdefghij"), []byte(strings.Repeat("z", 40)), uint16(70), byte('_'))
	f.Fuzz(func(t *testing.T, prefix string, id, secret []byte, pos uint16, b byte) {
		var idb [10]byte
		var sb [32]byte
		copy(idb[:], id)
		copy(sb[:], secret)
		k := Key{Prefix: prefix, ID: b32.EncodeToString(idb[:]), Secret: base64.RawURLEncoding.EncodeToString(sb[:])}
		s := k.String()
		got, err := Parse(s, prefix)
		if err != nil || got != k {
			t.Fatalf("Parse(String(%+v)) = %+v, %v", k, got, err)
		}
		i := int(pos) % len(s)
		if s[i] == b {
			return
		}
		mutated := s[:i] + string([]byte{b}) + s[i+1:]
		if got, err := Parse(mutated, prefix); err == nil {
			t.Fatalf("a one-byte change at %d was accepted: %q -> %+v", i, mutated, got)
		}
	})
}
