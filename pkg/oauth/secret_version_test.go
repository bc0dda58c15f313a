package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/authorizer"
)

// rotateKey rotates key id through the management API (grace in seconds) and
// returns the new secret.
func (h *harness) rotateKey(id string, grace int) string {
	h.t.Helper()
	req := fixture(h.t, "keys-rotate")
	req.Headers["authorization"] = "Bearer " + h.env.RootKey
	req.PathParameters = map[string]string{"id": id}
	req.Body = fmt.Sprintf(`{"grace_seconds": %d}`, grace)
	return serve(h.t, h.keys, req).must(h.t, 200).str("secret")
}

// finishRotation ends key id's grace through the management API.
func (h *harness) finishRotation(id string) {
	h.t.Helper()
	req := fixture(h.t, "keys-rotate-finish")
	req.Headers["authorization"] = "Bearer " + h.env.RootKey
	req.PathParameters = map[string]string{"id": id}
	serve(h.t, h.keys, req).must(h.t, 200)
}

// refusedWithin advances the clock in small steps until the authorizer refuses tok,
// and fails if that takes longer than its key-cache bound.
func (h *harness) refusedWithin(allowed func(string) bool, tok string) {
	h.t.Helper()
	start := h.clock.Now()
	for allowed(tok) {
		if waited := h.clock.Now().Sub(start); waited >= authorizer.MaxKeyCacheTTL {
			h.t.Fatalf("the authorizer still accepts the token %v later", waited)
		}
		h.clock.Advance(250 * time.Millisecond)
	}
}

// TestTokenDiesWithRotationGraceZero: an access token issued under a secret rotated
// away with grace 0 is refused by the management API at once and by the authorizer
// within its 5 s key-cache bound; its refresh token is invalid_grant.
func TestTokenDiesWithRotationGraceZero(t *testing.T) {
	h := newHarness(t)
	allowed := h.authorizer()
	_, rsSecret := h.createKey([]string{"tokens:introspect"}, nil)
	id, secret := h.createKey([]string{"keys:read"}, nil)
	issued := h.clientCredentials(id, secret).must(t, 200)
	at, rt := issued.str("access_token"), issued.str("refresh_token")
	h.keysCall("keys-list", at, "").must(t, 200)
	if !allowed(at) {
		t.Fatal("authorizer refused a fresh token")
	}

	newSecret := h.rotateKey(id, 0)
	if r := h.keysCall("keys-list", at, "").must(t, 401); r.str("code") != "revoked_credential" {
		t.Errorf("management API: %s", r.raw)
	}
	if r := h.call("oauth-introspect", bearer(rsSecret), form("token", at)).must(t, 200); r.body["active"] != false {
		t.Errorf("introspection of a token of a rotated-away secret: %s", r.raw)
	}
	h.refusedWithin(allowed, at)
	h.refresh(id, newSecret, rt).oauthError(t, 400, "invalid_grant")

	// The new secret's tokens work, bound to its version.
	fresh := h.clientCredentials(id, newSecret).must(t, 200).str("access_token")
	if _, cl := claimsOf(t, fresh); cl["sv"] != 2.0 {
		t.Errorf("sv of a token of the second secret: %v", cl["sv"])
	}
	h.keysCall("keys-list", fresh, "").must(t, 200)
	if !allowed(fresh) {
		t.Fatal("authorizer refused a token of the new secret")
	}
}

// TestTokenLivesThroughGraceUntilFinish: with a grace period the old version's tokens,
// and tokens refreshed from its grant (whatever secret the client now authenticates
// with), work until rotate/finish, then are refused; a grant of the new version lives on.
func TestTokenLivesThroughGraceUntilFinish(t *testing.T) {
	h := newHarness(t)
	allowed := h.authorizer()
	id, secret := h.createKey([]string{"keys:read"}, nil)
	issued := h.clientCredentials(id, secret).must(t, 200)
	at, rt := issued.str("access_token"), issued.str("refresh_token")

	newSecret := h.rotateKey(id, 3600)
	h.clock.Advance(time.Minute) // well within the grace, and past the authorizer's cache
	h.keysCall("keys-list", at, "").must(t, 200)
	if !allowed(at) {
		t.Fatal("authorizer refused a token of the previous secret during its grace")
	}
	refreshed := h.refresh(id, newSecret, rt).must(t, 200)
	atR, rtR := refreshed.str("access_token"), refreshed.str("refresh_token")
	if _, cl := claimsOf(t, atR); cl["sv"] != 1.0 {
		t.Fatalf("a refreshed token carries sv %v, want its grant's version 1", cl["sv"])
	}
	h.keysCall("keys-list", atR, "").must(t, 200)
	atNew := h.clientCredentials(id, newSecret).must(t, 200)

	h.finishRotation(id)
	for name, tok := range map[string]string{"issued": at, "refreshed": atR} {
		if r := h.keysCall("keys-list", tok, "").must(t, 401); r.str("code") != "revoked_credential" {
			t.Errorf("%s token after finish: %s", name, r.raw)
		}
	}
	h.refusedWithin(allowed, at)
	h.refusedWithin(allowed, atR)
	h.refresh(id, newSecret, rtR).oauthError(t, 400, "invalid_grant")
	h.keysCall("keys-list", atNew.str("access_token"), "").must(t, 200)
	if !allowed(atNew.str("access_token")) {
		t.Fatal("authorizer refused a token of the current secret after finish")
	}
	h.refresh(id, newSecret, atNew.str("refresh_token")).must(t, 200)
}

// TestTokenDiesAtEndOfGrace: nothing is written when a grace period ends; the key as
// read says so, and the old version's tokens are refused from then on.
func TestTokenDiesAtEndOfGrace(t *testing.T) {
	h := newHarness(t)
	allowed := h.authorizer()
	id, secret := h.createKey([]string{"keys:read"}, nil)
	at := h.clientCredentials(id, secret).must(t, 200).str("access_token")
	newSecret := h.rotateKey(id, 60)
	h.keysCall("keys-list", at, "").must(t, 200)
	if !allowed(at) {
		t.Fatal("authorizer refused a token of the previous secret during its grace")
	}
	h.clock.Advance(60 * time.Second)
	h.keysCall("keys-list", at, "").must(t, 401)
	if allowed(at) {
		t.Fatal("authorizer accepted a token of the previous secret after its grace")
	}
	h.keysCall("keys-list", h.clientCredentials(id, newSecret).must(t, 200).str("access_token"), "").must(t, 200)
}
