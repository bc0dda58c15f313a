package apikey

import (
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, prefix := range []string{DefaultPrefix, "kw_test_", "acme_"} {
		k := New(prefix)
		s := k.String()
		got, err := Parse(s, prefix)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got != k {
			t.Fatalf("Parse = %+v, want %+v", got, k)
		}
		if !strings.HasPrefix(k.Start(), prefix) || len(k.Start()) != len(prefix)+startLen {
			t.Errorf("Start = %q", k.Start())
		}
	}
}

func TestSecretEntropy(t *testing.T) {
	k := New(DefaultPrefix)
	if len(k.Secret)*6 < 256 {
		t.Fatalf("secret carries %d bits, want >= 256", len(k.Secret)*6)
	}
	if other, a, b := New(DefaultPrefix), NewID(), NewID(); other.Secret == k.Secret || a == b {
		t.Fatal("two fresh keys are equal")
	}
}

func TestParseRejects(t *testing.T) {
	good := New("kw_test_").String()
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":             "",
		"wrong prefix":      "kw_live_" + good[len("kw_test_"):],
		"too short":         good[:len(good)-1],
		"too long":          good + "a",
		"id char changed":   flip(len("kw_test_") + 2),
		"secret changed":    flip(len("kw_test_") + IDLen + 5),
		"checksum changed":  flip(len(good) - 1),
		"bad id alphabet":   "kw_test_" + "ABCDEFGHIJKLMNOP" + good[len("kw_test_")+IDLen:],
		"bad secret char":   good[:len("kw_test_")+IDLen] + strings.Repeat("!", SecretLen) + good[len(good)-ChecksumLen:],
		"jwt-looking token": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.sig",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(s, "kw_test_"); err != ErrMalformed {
				t.Fatalf("Parse(%q) err = %v, want ErrMalformed", s, err)
			}
		})
	}
}

func TestHash(t *testing.T) {
	k := New(DefaultPrefix)
	h := Hash([]byte("pepper-1"), k.Secret)
	if !Matches([]byte("pepper-1"), k.Secret, h) {
		t.Fatal("hash does not match its own secret")
	}
	if Matches([]byte("pepper-2"), k.Secret, h) {
		t.Fatal("hash matches under another pepper")
	}
	if Matches([]byte("pepper-1"), New(DefaultPrefix).Secret, h) {
		t.Fatal("hash matches another secret")
	}
}
