package token

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// revoked is a key item's memory of its revoked access tokens (store.Key's
// RevokedJTIs, RevokedIAT and TokensNotBefore), all in epoch seconds.
type revoked struct {
	jtis      map[string]int64 // jti → last second accepted; nil if the item has no map
	maxIAT    int64            // ≥ the iat of every token ever listed in jtis
	notBefore int64            // tokens with iat ≤ notBefore are refused; 0 for none
}

func memoryOf(k *store.Key) revoked {
	m := k.RevokedTokens()
	return revoked{jtis: m.JTIs, maxIAT: m.MaxIAT, notBefore: m.NotBefore}
}

// revoke is the memory after revoking token jti, issued at iat and accepted until
// until, at now, and whether that changes anything. Entries past their until are
// dropped. Past store.MaxRevokedJTIs live entries the list is replaced by the
// watermark: notBefore becomes the newest iat ever listed, which covers every listed
// token and this one, and the list is emptied. So the memory never holds more than
// MaxRevokedJTIs entries and two numbers, and no revoked token is ever forgotten
// before it expires; the price of a bulk revocation is that the key's other tokens
// issued up to that iat are refused too (a client can only revoke its own).
func (m revoked) revoke(jti string, iat, until, now int64) (revoked, bool) {
	if now > until {
		return m, false // the token is refused as expired already
	}
	if _, ok := m.jtis[jti]; ok {
		return m, false
	}
	if m.notBefore > 0 && iat <= m.notBefore {
		return m, false
	}
	// A token without an iat (never one of ours) counts as issued at 1, so that a
	// watermark refuses it, as store.Key.TokenRevoked does.
	iat = max(iat, 1)
	next := revoked{jtis: make(map[string]int64, len(m.jtis)+1), maxIAT: max(m.maxIAT, iat), notBefore: m.notBefore}
	for j, u := range m.jtis {
		if u >= now {
			next.jtis[j] = u
		}
	}
	next.jtis[jti] = until
	if len(next.jtis) > store.MaxRevokedJTIs {
		next.notBefore = max(next.maxIAT, m.notBefore)
		clear(next.jtis)
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
	m := memoryOf(k)
	until := exp.Add(leeway).Unix()
	for attempt := 1; ; attempt++ {
		next, changed := m.revoke(jti, iat.Unix(), until, now.Unix())
		if !changed {
			return nil // refused already: nothing to write or record
		}
		cur, err := d.st.ReviseRevokedTokens(ctx, k.ID, m.stored(), next.stored(), jti, e)
		switch {
		case err == nil, errors.Is(err, store.ErrNotFound):
			return nil // written, or the key is gone: its tokens are refused already
		case !errors.Is(err, store.ErrConflict):
			return err
		case cur != nil:
			m = revoked{jtis: cur.JTIs, maxIAT: cur.MaxIAT, notBefore: cur.NotBefore}
		}
		if attempt == revokeAttempts {
			return fmt.Errorf("revoke access token: lost %d times to concurrent writes: %w", attempt, store.ErrConflict)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 5))))
	}
}

// stored is m as the store keeps it.
func (m revoked) stored() store.RevokedTokens {
	return store.RevokedTokens{JTIs: m.jtis, MaxIAT: m.maxIAT, NotBefore: m.notBefore}
}
