package store

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RevokedTokens is a key item's memory of its revoked access tokens (Key's
// RevokedJTIs, RevokedIAT and TokensNotBefore), all in epoch seconds.
type RevokedTokens struct {
	JTIs      map[string]int64 // jti → last second accepted; nil if the item has no map
	MaxIAT    int64            // ≥ the iat of every token ever listed in JTIs
	NotBefore int64            // tokens with iat ≤ NotBefore are refused; 0 for none
}

// RevokedTokens returns k's memory of revoked access tokens.
func (k *Key) RevokedTokens() RevokedTokens {
	return RevokedTokens{JTIs: k.RevokedJTIs, MaxIAT: k.RevokedIAT, NotBefore: k.TokensNotBefore}
}

// ReviseRevokedTokens turns key keyID's memory of revoked tokens from cur (as read)
// into next, which adds jti, and records e, in one transaction. It never bumps the
// key's version. When cur has room and no watermark moves, it sets jti's entry and
// removes the entries of cur that next drops, under the condition that the stored
// list has room too (so it can never exceed MaxRevokedJTIs, however stale cur is) and
// that revoked_iat covers the new token; otherwise it replaces the memory whole,
// under the condition that it is still cur. Outcomes: nil (written); ErrNotFound (no
// key); ErrConflict with the memory as stored (a condition failed: plan again on it);
// ErrConflict with nil (another write was in flight: try again as is).
func (d *Dynamo) ReviseRevokedTokens(ctx context.Context, keyID string, cur, next RevokedTokens, jti string, e *Event) (*RevokedTokens, error) {
	ev, err := d.eventPut(e)
	if err != nil {
		return nil, err
	}
	upd, err := d.revocationUpdate(keyID, cur, next, jti)
	if err != nil {
		return nil, err
	}
	_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{{Update: upd}, {Put: ev}},
	})
	if err == nil {
		return nil, nil
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) == 0 {
		return nil, fmt.Errorf("revoke access token: %w", err)
	}
	switch r := tce.CancellationReasons[0]; {
	case aws.ToString(r.Code) == "ConditionalCheckFailed":
		if len(r.Item) == 0 {
			return nil, ErrNotFound
		}
		k, err := unmarshalKey(r.Item)
		if err != nil {
			return nil, fmt.Errorf("revoke access token: unmarshal key %s: %w", keyID, err)
		}
		m := k.RevokedTokens()
		return &m, ErrConflict
	case transactionConflict(tce):
		return nil, ErrConflict
	}
	return nil, fmt.Errorf("revoke access token: %w", err)
}

// transactionConflict reports whether a cancelled transaction lost to another write in flight.
func transactionConflict(tce *types.TransactionCanceledException) bool {
	for _, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "TransactionConflict" {
			return true
		}
	}
	return false
}

// revocationUpdate is the write that turns the key item's memory m into next (see
// ReviseRevokedTokens).
func (d *Dynamo) revocationUpdate(keyID string, m, next RevokedTokens, jti string) (*types.Update, error) {
	list := expression.Name("revoked_jti")
	iatName, nbName := expression.Name("revoked_iat"), expression.Name("tokens_not_before")
	cond := expression.AttributeExists(expression.Name("pk"))
	var u expression.UpdateBuilder
	if m.JTIs != nil && len(m.JTIs) < MaxRevokedJTIs && next.NotBefore == m.NotBefore {
		u = expression.Set(list.AppendName(expression.NameNoDotSplit(jti)), expression.Value(next.JTIs[jti]))
		for old := range m.JTIs {
			if _, kept := next.JTIs[old]; !kept {
				u = u.Remove(list.AppendName(expression.NameNoDotSplit(old)))
			}
		}
		iat := expression.Value(next.MaxIAT)
		if next.MaxIAT > m.MaxIAT {
			u = u.Set(iatName, iat)
			cond = cond.And(expression.Or(expression.AttributeNotExists(iatName), iatName.LessThanEqual(iat)))
		} else {
			cond = cond.And(iatName.GreaterThanEqual(iat))
		}
		cond = cond.And(list.Size().LessThan(expression.Value(MaxRevokedJTIs)))
	} else {
		jtis := next.JTIs
		if jtis == nil {
			jtis = map[string]int64{}
		}
		u = expression.Set(list, expression.Value(maps.Clone(jtis))).Set(iatName, expression.Value(next.MaxIAT))
		if next.NotBefore > 0 {
			u = u.Set(nbName, expression.Value(next.NotBefore))
		}
		cond = cond.And(storedAs(list, m.JTIs, m.JTIs == nil)).
			And(storedAs(iatName, m.MaxIAT, m.MaxIAT == 0)).
			And(storedAs(nbName, m.NotBefore, m.NotBefore == 0))
	}
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build access-token revocation: %w", err)
	}
	return &types.Update{
		TableName: &d.table, Key: keyPrimary(keyID),
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
