package authorizer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// remaining is the key's credits as stored.
func (h *harness) remaining(id string) int64 {
	h.t.Helper()
	k, err := h.deps.Store.GetKey(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return *k.Remaining
}

// TestLimitsDeny: in every event shape, a key with 2 credits is allowed twice on a
// route it has the scope for, then denied with context error usage_exceeded (a
// Deny, not "Unauthorized": the credential is valid); a key limited to one use an
// hour is denied with rate_limited. A call of a route the key lacks the scope for,
// or of an unconfigured route, is denied and spends nothing.
func TestLimitsDeny(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			h := newHarness(t)
			id, cred := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
				n := int64(2)
				k.Remaining = &n
			})
			read := fixture(t, kind.fixture, cred, withRoute("GET", "/orders/o-1"))
			for _, edit := range []func(map[string]any){withRoute("POST", "/orders"), withRoute("DELETE", "/nowhere")} {
				if v := h.call(fixture(t, kind.fixture, cred, edit)); !v.denied(kind.name) {
					t.Fatalf("route without the scope or unknown: %+v", v)
				}
			}
			if n := h.remaining(id); n != 2 {
				t.Fatalf("refused calls spent %d credits", 2-n)
			}
			for i := range 2 {
				if v := h.call(read); !v.allowed {
					t.Fatalf("use %d of 2 credits: %+v", i+1, v)
				}
			}
			v := h.call(read)
			if !v.denied(kind.name) || v.ctx["error"] != "usage_exceeded" || v.ctx["key_id"] != id {
				t.Fatalf("out of credits: %+v, want a Deny with error usage_exceeded", v)
			}
			if n := h.remaining(id); n != 0 {
				t.Fatalf("remaining %d after the refusal", n)
			}

			_, rl := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
				k.RateLimit = &limits.RateLimit{Limit: 1, WindowSeconds: 3600}
			})
			read = fixture(t, kind.fixture, rl, withRoute("GET", "/orders/o-1"))
			if v := h.call(read); !v.allowed {
				t.Fatalf("first use in the window: %+v", v)
			}
			if v := h.call(read); !v.denied(kind.name) || v.ctx["error"] != "rate_limited" {
				t.Fatalf("second use in the window: %+v, want a Deny with error rate_limited", v)
			}
		})
	}
}

// TestLimitsAccessToken: an access token of a key with credits spends them, and is
// denied with usage_exceeded once they are gone.
func TestLimitsAccessToken(t *testing.T) {
	h := newHarness(t)
	issue, _ := realTokens(t, h)
	id, _ := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
		n := int64(1)
		k.Remaining = &n
	})
	raw := fixture(t, "authorizer-http", issue(id), withRoute("GET", "/orders/o-1"))
	if v := h.call(raw); !v.allowed || v.ctx["auth"] != "access_token" {
		t.Fatalf("token with one credit: %+v", v)
	}
	if v := h.call(raw); v.allowed || v.ctx["error"] != "usage_exceeded" {
		t.Fatalf("token without credits: %+v", v)
	}
	h.clock.Advance(time.Second)
	if v := h.call(fixture(t, "authorizer-rest-request", issue(id), withRoute("GET", "/orders/o-1"))); !v.denied("rest-request") || v.ctx["error"] != "usage_exceeded" {
		t.Fatalf("REST, token without credits: %+v", v)
	}
}

// failingLimits is a limit store that is down.
type failingLimits struct{}

func (failingLimits) UseKey(context.Context, store.UseInput) (*store.UseResult, error) {
	return nil, errors.New("dynamodb: connection refused")
}

func (failingLimits) UseOwner(context.Context, string, limits.Use, *limits.State, time.Time) (*store.UseResult, error) {
	return nil, errors.New("dynamodb: connection refused")
}

// TestLimitsFailClosed: when a limited key's use cannot be counted, every event shape
// fails closed (the unavailable error, never an Allow or a cacheable Deny).
func TestLimitsFailClosed(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			h := newHarness(t)
			_, cred := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
				n := int64(5)
				k.Remaining = &n
			})
			h.a.Verifier.Limits = failingLimits{}
			if v := h.call(fixture(t, kind.fixture, cred, withRoute("GET", "/orders/o-1"))); !v.unavailable {
				t.Fatalf("counting failed: %+v, want unavailable", v)
			}
		})
	}
}
