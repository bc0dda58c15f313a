package token

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// keyWith is a key item holding memory m, for the check verification makes.
func keyWith(m revoked) *store.Key {
	return &store.Key{RevokedJTIs: m.JTIs, RevokedIAT: m.MaxIAT, TokensNotBefore: m.NotBefore}
}

func TestRevokeRule(t *testing.T) {
	const now = 1_800_000_000
	full := revoked{JTIs: map[string]int64{}, MaxIAT: now - 10}
	for i := range store.MaxRevokedJTIs {
		full.JTIs[fmt.Sprint("j", i)] = now + 100
	}
	cases := []struct {
		name      string
		m         revoked
		jti       string
		iat, unti int64
		changed   bool
		want      revoked
	}{
		{"first", revoked{}, "a", now - 5, now + 60, true,
			revoked{JTIs: map[string]int64{"a": now + 60}, MaxIAT: now - 5}},
		{"listed already", revoked{JTIs: map[string]int64{"a": now + 60}, MaxIAT: now - 5}, "a", now - 5, now + 60, false, revoked{}},
		{"under the watermark", revoked{JTIs: map[string]int64{}, MaxIAT: now - 5, NotBefore: now - 5}, "b", now - 5, now + 60, false, revoked{}},
		{"expired already", revoked{}, "a", now - 100, now - 1, false, revoked{}},
		{"accepted to the second", revoked{}, "a", now - 60, now, true,
			revoked{JTIs: map[string]int64{"a": now}, MaxIAT: now - 60}},
		{"older than the newest listed", revoked{JTIs: map[string]int64{"a": now + 60}, MaxIAT: now - 5}, "b", now - 50, now + 10, true,
			revoked{JTIs: map[string]int64{"a": now + 60, "b": now + 10}, MaxIAT: now - 5}},
		{"expired entries pruned", revoked{JTIs: map[string]int64{"old": now - 1, "live": now}, MaxIAT: now - 70}, "c", now - 3, now + 57, true,
			revoked{JTIs: map[string]int64{"live": now, "c": now + 57}, MaxIAT: now - 3}},
		{"past the cap: watermark at the newest iat", full, "x", now - 20, now + 40, true,
			revoked{JTIs: map[string]int64{}, MaxIAT: now - 10, NotBefore: now - 10}},
		{"past the cap with a newer token", full, "x", now - 1, now + 59, true,
			revoked{JTIs: map[string]int64{}, MaxIAT: now - 1, NotBefore: now - 1}},
		{"no iat counts as 1", revoked{}, "a", time.Time{}.Unix(), now + 60, true,
			revoked{JTIs: map[string]int64{"a": now + 60}, MaxIAT: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, changed := c.m.revoke(c.jti, c.iat, c.unti, now)
			if changed != c.changed {
				t.Fatalf("changed = %v, want %v", changed, c.changed)
			}
			if !changed {
				return
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
			if !keyWith(got).TokenRevoked(c.jti, time.Unix(c.iat, 0)) {
				t.Fatal("the token just revoked is not refused")
			}
		})
	}
}

// TestRevokeRuleBounded revokes random tokens, at times moving forward, in random
// bursts: the memory never holds more than MaxRevokedJTIs entries, every revoked
// token is refused until it expires, and a token issued after the newest revoked
// one is not refused.
func TestRevokeRuleBounded(t *testing.T) {
	type tok struct {
		jti        string
		iat, until int64
	}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			now := int64(1_800_000_000)
			var m revoked
			var done []tok
			watermarks := 0
			for i := range 3000 {
				now += rng.Int64N(3) // bursts: often many in one second
				life := 60 + rng.Int64N(600)
				iat := now - rng.Int64N(life) // issued within its lifetime
				tk := tok{jti: fmt.Sprint("t", i), iat: iat, until: iat + life + int64(leeway/time.Second)}
				next, changed := m.revoke(tk.jti, tk.iat, tk.until, now)
				if changed {
					if next.NotBefore != m.NotBefore {
						watermarks++
					}
					m = next
				}
				done = append(done, tk)
				if len(m.JTIs) > store.MaxRevokedJTIs {
					t.Fatalf("after %d revocations the memory holds %d entries", i+1, len(m.JTIs))
				}
				k := keyWith(m)
				newest := int64(0)
				for _, d := range done {
					if d.until >= now && !k.TokenRevoked(d.jti, time.Unix(d.iat, 0)) {
						t.Fatalf("after %d revocations token %s (iat %d, until %d) is accepted at %d", i+1, d.jti, d.iat, d.until, now)
					}
					newest = max(newest, d.iat)
				}
				if k.TokenRevoked("fresh", time.Unix(max(newest, now)+1, 0)) {
					t.Fatalf("after %d revocations a token issued later is refused", i+1)
				}
			}
			if watermarks == 0 {
				t.Fatal("no burst went past the cap: the watermark was never exercised")
			}
		})
	}
}
