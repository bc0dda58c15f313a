package authorizer_test

import (
	"context"
	"testing"
)

// BenchmarkHandleInMemory is the authorizer's own work per API-key verification, with
// the store's network call taken out: event decode, checksum, HMAC, route match, answer.
func BenchmarkHandleInMemory(b *testing.B) {
	h := benchHarness(b)
	id, key := h.newKey([]string{"orders:read"}, nil)
	raw := fixture(h.t, "authorizer-http", key)
	stored, err := h.deps.Store.GetKey(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	h.a.Verifier.Keys = memKeys{stored}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.a.Invoke(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenInMemory is the handler's work per RS256 access token, its key cached
// (the path of authorizer_token_ratio): profile it with -cpuprofile to see what the
// handler adds to the signature check.
func BenchmarkTokenInMemory(b *testing.B) {
	h := benchHarness(b)
	issue, _ := realTokens(b, h)
	id, _ := h.newKey([]string{"orders:read"}, nil)
	raw := fixture(b, "authorizer-http", issue(id))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.a.Invoke(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
