package token

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	return revoked{jtis: k.RevokedJTIs, maxIAT: k.RevokedIAT, notBefore: k.TokensNotBefore}
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
	var ev *types.Put
	for attempt := 1; ; attempt++ {
		next, changed := m.revoke(jti, iat.Unix(), until, now.Unix())
		if !changed {
			return nil // refused already: nothing to write or record
		}
		if ev == nil {
			var err error
			if ev, err = d.eventPut(e); err != nil {
				return err
			}
		}
		upd, err := d.revocationUpdate(k.ID, m, next, jti)
		if err != nil {
			return err
		}
		_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
			TransactItems: []types.TransactWriteItem{{Update: upd}, {Put: ev}},
		})
		if err == nil {
			return nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) == 0 {
			return fmt.Errorf("revoke access token: %w", err)
		}
		switch r := tce.CancellationReasons[0]; {
		case r.Code != nil && *r.Code == "ConditionalCheckFailed":
			if len(r.Item) == 0 {
				return nil // the key is gone: its tokens are refused already
			}
			var cur store.Key
			if err := attributevalue.UnmarshalMap(r.Item, &cur); err != nil {
				return fmt.Errorf("revoke access token: unmarshal key %s: %w", k.ID, err)
			}
			m = memoryOf(&cur)
		case !lostRace(tce):
			return fmt.Errorf("revoke access token: %w", err)
		}
		if attempt == revokeAttempts {
			return fmt.Errorf("revoke access token: lost %d times to concurrent writes: %w", attempt, store.ErrConflict)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 5))))
	}
}

// lostRace reports whether a cancelled transaction lost to another write in flight.
func lostRace(tce *types.TransactionCanceledException) bool {
	for _, r := range tce.CancellationReasons {
		if r.Code != nil && *r.Code == "TransactionConflict" {
			return true
		}
	}
	return false
}

// revocationUpdate is the write that turns the key item's memory m into next. When m
// has room and no watermark moves, it sets one entry and removes the expired ones m
// holds, under the condition that the stored list has room too (so it can never
// exceed store.MaxRevokedJTIs, however stale m is) and that revoked_iat covers the
// new token. Otherwise it replaces the memory whole, under the condition that the
// stored memory is still m.
func (d *Dynamo) revocationUpdate(keyID string, m, next revoked, jti string) (*types.Update, error) {
	list := expression.Name("revoked_jti")
	iatName, nbName := expression.Name("revoked_iat"), expression.Name("tokens_not_before")
	cond := expression.AttributeExists(expression.Name("pk"))
	var u expression.UpdateBuilder
	if m.jtis != nil && len(m.jtis) < store.MaxRevokedJTIs && next.notBefore == m.notBefore {
		u = expression.Set(list.AppendName(expression.NameNoDotSplit(jti)), expression.Value(next.jtis[jti]))
		for old := range m.jtis {
			if _, kept := next.jtis[old]; !kept {
				u = u.Remove(list.AppendName(expression.NameNoDotSplit(old)))
			}
		}
		iat := expression.Value(next.maxIAT)
		if next.maxIAT > m.maxIAT {
			u = u.Set(iatName, iat)
			cond = cond.And(expression.Or(expression.AttributeNotExists(iatName), iatName.LessThanEqual(iat)))
		} else {
			cond = cond.And(iatName.GreaterThanEqual(iat))
		}
		cond = cond.And(list.Size().LessThan(expression.Value(store.MaxRevokedJTIs)))
	} else {
		jtis := next.jtis
		if jtis == nil {
			jtis = map[string]int64{}
		}
		u = expression.Set(list, expression.Value(maps.Clone(jtis))).Set(iatName, expression.Value(next.maxIAT))
		if next.notBefore > 0 {
			u = u.Set(nbName, expression.Value(next.notBefore))
		}
		cond = cond.And(storedAs(list, m.jtis, m.jtis == nil)).
			And(storedAs(iatName, m.maxIAT, m.maxIAT == 0)).
			And(storedAs(nbName, m.notBefore, m.notBefore == 0))
	}
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build access-token revocation: %w", err)
	}
	return &types.Update{
		TableName: &d.table, Key: primary(store.KeyPK(keyID), "KEY"),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// storedAs is the condition that attribute name holds v, or, if absent, that it is
// not there (or NULL).
func storedAs(name expression.NameBuilder, v any, absent bool) expression.ConditionBuilder {
	if absent {
		return expression.Or(expression.AttributeNotExists(name), expression.AttributeType(name, expression.Null))
	}
	return name.Equal(expression.Value(v))
}
