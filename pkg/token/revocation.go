package token

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// revoked is a key item's memory of its revoked access tokens, as the store keeps it
// (store.RevokedTokens), with the revocation rule on it.
type revoked store.RevokedTokens

// revoke is the memory after revoking token jti, issued at iat and accepted until
// until, at now, and whether that changes anything. Entries past their until are
// dropped. Past store.MaxRevokedJTIs live entries the list is replaced by the
// watermark: NotBefore becomes the newest iat ever listed, which covers every listed
// token and this one, and the list is emptied. So the memory never holds more than
// MaxRevokedJTIs entries and two numbers, and no revoked token is ever forgotten
// before it expires; the price of a bulk revocation is that the key's other tokens
// issued up to that iat are refused too (a client can only revoke its own).
func (m revoked) revoke(jti string, iat, until, now int64) (revoked, bool) {
	if now > until {
		return m, false // the token is refused as expired already
	}
	if _, ok := m.JTIs[jti]; ok {
		return m, false
	}
	if m.NotBefore > 0 && iat <= m.NotBefore {
		return m, false
	}
	// A token without an iat (never one of ours) counts as issued at 1, so that a
	// watermark refuses it, as store.Key.TokenRevoked does.
	iat = max(iat, 1)
	next := revoked{JTIs: make(map[string]int64, len(m.JTIs)+1), MaxIAT: max(m.MaxIAT, iat), NotBefore: m.NotBefore}
	for j, u := range m.JTIs {
		if u >= now {
			next.JTIs[j] = u
		}
	}
	next.JTIs[jti] = until
	if len(next.JTIs) > store.MaxRevokedJTIs {
		next.NotBefore = max(next.MaxIAT, m.NotBefore)
		clear(next.JTIs)
	}
	return next, true
}

// revokeAttempts bounds how often a revocation is re-planned after losing to a
// concurrent write (another revocation, a management write, the last-used writer).
// Each loss by a condition returns the item as it is, so the next attempt plans on
// fresh state; the backoff is jittered so that contenders do not collide again.
const revokeAttempts = 12

// RevokeAccess records that the access token jti of key k, issued at iat and expiring
// at exp, is revoked, with e, planned on k as read (stale is fine: every write is
// conditional, and a lost condition re-plans on the item as it is). The key item
// keeps at most store.MaxRevokedJTIs entries, pruned of expired ones on every write,
// and past that a watermark (see revoke). A revocation that loses to a concurrent
// write is retried, and an error if it keeps losing: it is never reported done
// unless it is written. Revoking a token of a key that is gone is a no-op: its tokens
// are refused already; so is revoking one that is refused already.
func (d *Dynamo) RevokeAccess(ctx context.Context, k *store.Key, jti string, iat, exp, now time.Time, e *store.Event) error {
	m := revoked(k.RevokedTokens())
	until := exp.Add(leeway).Unix()
	for attempt := 1; ; attempt++ {
		next, changed := m.revoke(jti, iat.Unix(), until, now.Unix())
		if !changed {
			return nil // refused already: nothing to write or record
		}
		cur, err := d.st.ReviseRevokedTokens(ctx, k.ID, store.RevokedTokens(m), store.RevokedTokens(next), jti, e)
		switch {
		case err == nil, errors.Is(err, store.ErrNotFound):
			return nil // written, or the key is gone: its tokens are refused already
		case !errors.Is(err, store.ErrConflict):
			return err
		case cur != nil:
			m = revoked(*cur)
		}
		if attempt == revokeAttempts {
			return fmt.Errorf("revoke access token: lost %d times to concurrent writes: %w", attempt, store.ErrConflict)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 5))))
	}
}
