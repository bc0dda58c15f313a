package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Refresh family statuses.
const (
	FamilyActive  = "active"
	FamilyRevoked = "revoked"
)

// RefreshFamily is one grant's chain of refresh tokens, stored as one item
// (pk=RT#<family>, sk=RT). Only hashes are stored.
type RefreshFamily struct {
	ID        string    `dynamodbav:"family"`
	KeyID     string    `dynamodbav:"key_id"`
	Hash      string    `dynamodbav:"hash"`           // the current (unused) token's hash
	Used      []string  `dynamodbav:"used,omitempty"` // the latest hashes rotated away, oldest first
	Gen       int64     `dynamodbav:"gen"`            // how many times it was rotated
	SecretN   int64     `dynamodbav:"secret_n"`       // the key secret version it was issued under
	Scope     string    `dynamodbav:"scope"`          // granted at issue, space-separated
	Status    string    `dynamodbav:"status"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	ExpiresAt time.Time `dynamodbav:"expires_at"` // of the current token
	TTL       int64     `dynamodbav:"ttl"`        // DynamoDB purges the item after this
}

// Valid reports whether the family's current token is usable at now for a key whose
// accepted secret versions are secretNs.
func (f *RefreshFamily) Valid(now time.Time, secretNs []int64) bool {
	return f.Status == FamilyActive && now.Before(f.ExpiresAt) && slices.Contains(secretNs, f.SecretN)
}

const (
	familySK = "RT"
	// familyTTLSlack keeps a family a day past its expiry, so reuse of a just-expired
	// token is still recognised, before DynamoDB purges it.
	familyTTLSlack = 24 * time.Hour
	// maxBatchAttempts bounds retries of unprocessed batch items (throttling).
	maxBatchAttempts = 5
	// transactAttempts bounds retries of a transaction that lost to a concurrent write.
	transactAttempts = 4
)

func familyPK(id string) string { return "RT#" + id }

func primary(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

// CreateFamily writes a new family and its event in one round trip, setting f.TTL.
func (d *Dynamo) CreateFamily(ctx context.Context, f *RefreshFamily, e *Event) error {
	f.TTL = f.ExpiresAt.Add(familyTTLSlack).Unix()
	item, err := attributevalue.MarshalMap(f)
	if err != nil {
		return fmt.Errorf("marshal refresh family: %w", err)
	}
	for k, v := range primary(familyPK(f.ID), familySK) {
		item[k] = v
	}
	ev, err := d.eventPut(e)
	if err != nil {
		return err
	}
	// One BatchWriteItem: one round trip for both items, where a transaction costs
	// twice the write units and two parallel puts contend (make bench,
	// token_issue_p50_ratio). Both items are new under ids of 80 random bits, so the
	// attribute_not_exists a batch cannot carry would never fail; if the batch fails the
	// grant fails, and a lone family or event is harmless (no token was handed out).
	reqs := map[string][]types.WriteRequest{d.table: {
		{PutRequest: &types.PutRequest{Item: item}},
		{PutRequest: &types.PutRequest{Item: ev.Item}},
	}}
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt == maxBatchAttempts {
			return fmt.Errorf("create refresh family: %d items unprocessed", len(reqs[d.table]))
		}
		if attempt > 0 {
			time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
		}
		out, err := d.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: reqs})
		if err != nil {
			return fmt.Errorf("create refresh family: %w", err)
		}
		reqs = out.UnprocessedItems
	}
	return nil
}

// FamilyRotation is one refresh: the presented token's hash is replaced by the next
// one's, if the family is as the refresh expects.
type FamilyRotation struct {
	KeyID    string    // the family must belong to this key
	Old, New string    // hashes of the presented and the next token
	SecretNs []int64   // the family must be bound to one of these secret versions (at least one)
	Now      time.Time // the family must be unexpired at Now
	Expires  time.Time // the next token's expiry
}

// RotateFamily applies r to family id in one conditional UpdateItem (it must be
// active, of r.KeyID, unexpired at r.Now, bound to one of r.SecretNs, and r.Old must
// be its current hash) and returns the family as rotated. When the condition fails
// it returns the family as stored with ErrConflict, or ErrNotFound if there is none.
func (d *Dynamo) RotateFamily(ctx context.Context, id string, r FamilyRotation) (*RefreshFamily, error) {
	if len(r.SecretNs) == 0 {
		return nil, fmt.Errorf("rotate refresh family %s: no secret version", id)
	}
	ns := make([]expression.OperandBuilder, 0, len(r.SecretNs))
	for _, n := range r.SecretNs {
		ns = append(ns, expression.Value(n))
	}
	secretCond := expression.Name("secret_n").Equal(ns[0])
	if len(ns) > 1 {
		secretCond = expression.Name("secret_n").In(ns[0], ns[1:]...)
	}
	cond := expression.Name("hash").Equal(expression.Value(r.Old)).
		And(expression.Name("status").Equal(expression.Value(FamilyActive))).
		And(expression.Name("key_id").Equal(expression.Value(r.KeyID))).
		And(expression.Name("expires_at").GreaterThan(expression.Value(r.Now.UTC().Format(time.RFC3339Nano)))).
		And(secretCond)
	upd := expression.Set(expression.Name("hash"), expression.Value(r.New)).
		Set(expression.Name("expires_at"), expression.Value(r.Expires.UTC().Format(time.RFC3339Nano))).
		Set(expression.Name("ttl"), expression.Value(r.Expires.Add(familyTTLSlack).Unix())).
		Add(expression.Name("gen"), expression.Value(1)).
		Set(expression.Name("used"), expression.ListAppend(
			expression.IfNotExists(expression.Name("used"), expression.Value([]string{})),
			expression.Value([]string{r.Old})))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, fmt.Errorf("build rotate: %w", err)
	}
	// One conditional UpdateItem decides the race and, with ALL_NEW, returns the family
	// as rotated, so a refresh needs no read first. The caller records the event; a
	// transaction with it would cost twice the write units and, on DynamoDB Local, most
	// of a refresh's latency (make bench, token_refresh_p50_ratio).
	out, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: primary(familyPK(id), familySK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return unmarshalFamily(out.Attributes)
	}
	var ccf *types.ConditionalCheckFailedException
	switch {
	case !errors.As(err, &ccf):
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	case len(ccf.Item) == 0:
		return nil, ErrNotFound
	}
	f, err := unmarshalFamily(ccf.Item)
	if err != nil {
		return nil, err
	}
	return f, ErrConflict
}

func unmarshalFamily(item map[string]types.AttributeValue) (*RefreshFamily, error) {
	var f RefreshFamily
	if err := attributevalue.UnmarshalMap(item, &f); err != nil {
		return nil, fmt.Errorf("unmarshal refresh family: %w", err)
	}
	return &f, nil
}

// TrimFamilyUsed drops the oldest spent hashes of f down to the newest keep, if the
// family has not moved on (its gen is still f.Gen), and then trims f.Used too. A lost
// race, or any failure, only leaves the list long until the next trim.
func (d *Dynamo) TrimFamilyUsed(ctx context.Context, f *RefreshFamily, keep int) {
	drop := len(f.Used) - keep
	if drop <= 0 {
		return
	}
	u := expression.UpdateBuilder{}
	for i := range drop {
		u = u.Remove(expression.Name(fmt.Sprintf("used[%d]", i)))
	}
	expr, err := expression.NewBuilder().WithUpdate(u).
		WithCondition(expression.Name("gen").Equal(expression.Value(f.Gen))).Build()
	if err != nil {
		return
	}
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: primary(familyPK(f.ID), familySK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err == nil {
		f.Used = f.Used[drop:]
	}
}

// GetFamily returns the family with id, read consistently, or ErrNotFound.
func (d *Dynamo) GetFamily(ctx context.Context, id string) (*RefreshFamily, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.table, Key: primary(familyPK(id), familySK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get refresh family: %w", err)
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	return unmarshalFamily(out.Item)
}

// RevokeFamily marks family id revoked and records e, in one transaction, if the
// family belongs to keyID, is active, and hash is one of its tokens (current or
// used). It reports whether it revoked.
func (d *Dynamo) RevokeFamily(ctx context.Context, id, keyID, hash string, e *Event) (bool, error) {
	cond := expression.Name("key_id").Equal(expression.Value(keyID)).
		And(expression.Name("status").Equal(expression.Value(FamilyActive))).
		And(expression.Or(expression.Name("hash").Equal(expression.Value(hash)), expression.Contains(expression.Name("used"), hash)))
	upd := expression.Set(expression.Name("status"), expression.Value(FamilyRevoked))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, fmt.Errorf("build revoke: %w", err)
	}
	ev, err := d.eventPut(e)
	if err != nil {
		return false, err
	}
	failed, err := d.transactRetry(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &d.table, Key: primary(familyPK(id), familySK),
			UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}},
		{Put: ev},
	})
	if err != nil {
		return false, fmt.Errorf("revoke refresh family: %w", err)
	}
	return !failed, nil
}

// transactRetry writes items, retrying while another write to the same items is in
// flight (TransactionConflict: the last-used writer, the sweeper, a PATCH). It
// reports whether the first item's condition failed; any other failure is an error,
// never a silent success.
func (d *Dynamo) transactRetry(ctx context.Context, items []types.TransactWriteItem) (conditionFailed bool, err error) {
	for attempt := 1; ; attempt++ {
		_, err := d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return false, err
		}
		conflict := false
		for i, r := range tce.CancellationReasons {
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				if i == 0 {
					return true, nil
				}
			case "TransactionConflict":
				conflict = true
			}
		}
		if !conflict || attempt == transactAttempts {
			return false, err
		}
		time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
	}
}
