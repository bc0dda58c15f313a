package store

import (
	"testing"
	"time"
)

func TestSecretLive(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	active := &Key{Secret: Secret{N: 3}}
	inGrace := &Key{Secret: Secret{N: 3}, Previous: &Secret{N: 2, ExpiresAt: now.Add(time.Second)}}
	graceOver := &Key{Secret: Secret{N: 3}, Previous: &Secret{N: 2, ExpiresAt: now}}
	cases := []struct {
		name string
		k    *Key
		n    int64
		want bool
	}{
		{"current", active, 3, true},
		{"older than current, no previous", active, 2, false},
		{"newer than current", active, 4, false},
		{"unset version", active, 0, false},
		{"current while rotating", inGrace, 3, true},
		{"previous in grace", inGrace, 2, true},
		{"older than previous", inGrace, 1, false},
		{"previous at the end of its grace", graceOver, 2, false},
		{"current after grace", graceOver, 3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.k.SecretLive(c.n, now); got != c.want {
				t.Fatalf("SecretLive(%d) = %v, want %v", c.n, got, c.want)
			}
		})
	}
}
