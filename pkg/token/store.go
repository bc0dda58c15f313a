package token

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

	"github.com/keyward/keyward/pkg/store"
)

// Errors of the refresh-token store.
var (
	// ErrInvalidGrant: the refresh token is unknown, expired, revoked, of another
	// client, or bound to a secret the key no longer accepts.
	ErrInvalidGrant = errors.New("token: invalid refresh token")
	// ErrReused: the token was already used; its family is revoked now.
	ErrReused = errors.New("token: refresh token reused")
)

// Family statuses.
const (
	FamilyActive  = "active"
	FamilyRevoked = "revoked"
)

// Family is one grant's chain of refresh tokens, stored as one item
// (pk=RT#<id>, sk=RT). Only hashes are stored.
type Family struct {
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
func (f *Family) Valid(now time.Time, secretNs []int64) bool {
	return f.Status == FamilyActive && now.Before(f.ExpiresAt) && slices.Contains(secretNs, f.SecretN)
}

// Dynamo keeps refresh-token families and revoked access-token ids in the Keyward
// table, next to the keys (see the table comment in template.yaml).
type Dynamo struct {
	db    store.API
	table string
	// events builds event items the way the key store does.
	events *store.Dynamo
}

// NewDynamo returns the token store on the key store's table.
func NewDynamo(s *store.Dynamo) *Dynamo {
	return &Dynamo{db: s.DB(), table: s.Table(), events: s}
}

const (
	familySK = "RT"
	// ttlSlack keeps a family a day past its expiry, so reuse of a just-expired
	// token is still recognised, before DynamoDB purges it.
	ttlSlack = 24 * time.Hour
)

func familyPK(id string) string { return "RT#" + id }

func primary(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

// maxBatchAttempts bounds retries of unprocessed batch items (throttling).
const maxBatchAttempts = 5

// Create writes a new family and its event in one round trip (see below).
func (d *Dynamo) Create(ctx context.Context, f *Family, e *store.Event) error {
	f.TTL = f.ExpiresAt.Add(ttlSlack).Unix()
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

// A family remembers the hashes of its latest spent tokens, so that presenting one
// again is recognised as reuse (and revokes the family). Without a bound the item
// would grow by a hash per refresh, forever, up to DynamoDB's 400 KB item limit.
// Past usedMax the oldest are trimmed down to usedKeep: one extra write every
// usedMax-usedKeep refreshes. An older spent token is still refused, as invalid.
const (
	usedKeep = 8
	usedMax  = 16
)

// trimUsed drops the oldest spent hashes of f, if the family has not moved on since.
// A lost race only leaves the list long until the next trim.
func (d *Dynamo) trimUsed(ctx context.Context, f *Family) {
	drop := len(f.Used) - usedKeep
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

// PutEvent records e in its key's event log.
func (d *Dynamo) PutEvent(ctx context.Context, e *store.Event) error {
	return d.events.PutEvent(ctx, e)
}

// eventPut is the Put of e as the key store writes events (same item shape).
func (d *Dynamo) eventPut(e *store.Event) (*types.Put, error) {
	return d.events.EventPut(e)
}

// Rotate consumes presented and makes next the family's current token in one
// conditional write: the family must be active, of keyID, unexpired at now,
// bound to one of secretNs, and presented must be its current token. On failure the
// family as stored says why: ErrReused (presented was used before: the caller must
// revoke the family) or ErrInvalidGrant. The family after rotation is returned.
func (d *Dynamo) Rotate(ctx context.Context, keyID string, presented, next Refresh, secretNs []int64,
	now, expires time.Time) (*Family, error) {
	old := presented.Hash()
	ns := make([]expression.OperandBuilder, 0, len(secretNs))
	for _, n := range secretNs {
		ns = append(ns, expression.Value(n))
	}
	var secretCond expression.ConditionBuilder
	if len(ns) == 1 {
		secretCond = expression.Name("secret_n").Equal(ns[0].(expression.ValueBuilder))
	} else {
		secretCond = expression.Name("secret_n").In(ns[0], ns[1:]...)
	}
	cond := expression.Name("hash").Equal(expression.Value(old)).
		And(expression.Name("status").Equal(expression.Value(FamilyActive))).
		And(expression.Name("key_id").Equal(expression.Value(keyID))).
		And(expression.Name("expires_at").GreaterThan(expression.Value(now.UTC().Format(time.RFC3339Nano)))).
		And(secretCond)
	upd := expression.Set(expression.Name("hash"), expression.Value(next.Hash())).
		Set(expression.Name("expires_at"), expression.Value(expires.UTC().Format(time.RFC3339Nano))).
		Set(expression.Name("ttl"), expression.Value(expires.Add(ttlSlack).Unix())).
		Add(expression.Name("gen"), expression.Value(1)).
		Set(expression.Name("used"), expression.ListAppend(
			expression.IfNotExists(expression.Name("used"), expression.Value([]string{})),
			expression.Value([]string{old})))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return nil, fmt.Errorf("build rotate: %w", err)
	}
	// One conditional UpdateItem decides the race and, with ALL_NEW, returns the family
	// as rotated, so a refresh needs no read first. The caller records the event; a
	// transaction with it would cost twice the write units and, on DynamoDB Local, most
	// of a refresh's latency (make bench, token_refresh_p50_ratio).
	out, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: primary(familyPK(presented.Family), familySK),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		var f Family
		if err := attributevalue.UnmarshalMap(out.Attributes, &f); err != nil {
			return nil, fmt.Errorf("unmarshal refresh family: %w", err)
		}
		if len(f.Used) > usedMax {
			d.trimUsed(ctx, &f)
		}
		return &f, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil, fmt.Errorf("rotate refresh token: %w", err)
	}
	r := ccf
	if len(r.Item) == 0 {
		return nil, ErrInvalidGrant
	}
	var f Family
	if err := attributevalue.UnmarshalMap(r.Item, &f); err != nil {
		return nil, fmt.Errorf("unmarshal refresh family: %w", err)
	}
	if f.KeyID == keyID && slices.Contains(f.Used, old) {
		return &f, ErrReused
	}
	return &f, ErrInvalidGrant
}

// Get returns the family with id, read consistently, or store.ErrNotFound.
func (d *Dynamo) Get(ctx context.Context, id string) (*Family, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.table, Key: primary(familyPK(id), familySK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get refresh family: %w", err)
	}
	if out.Item == nil {
		return nil, store.ErrNotFound
	}
	var f Family
	if err := attributevalue.UnmarshalMap(out.Item, &f); err != nil {
		return nil, fmt.Errorf("unmarshal refresh family: %w", err)
	}
	return &f, nil
}

// RevokeFamily marks family revoked and records e, if the family belongs to keyID
// and presented is one of its tokens (current or used): a guessed family id or
// another client's token revokes nothing. It reports whether it revoked.
func (d *Dynamo) RevokeFamily(ctx context.Context, keyID string, presented Refresh, e *store.Event) (bool, error) {
	h := presented.Hash()
	cond := expression.Name("key_id").Equal(expression.Value(keyID)).
		And(expression.Name("status").Equal(expression.Value(FamilyActive))).
		And(expression.Or(expression.Name("hash").Equal(expression.Value(h)), expression.Contains(expression.Name("used"), h)))
	upd := expression.Set(expression.Name("status"), expression.Value(FamilyRevoked))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(upd).Build()
	if err != nil {
		return false, fmt.Errorf("build revoke: %w", err)
	}
	ev, err := d.eventPut(e)
	if err != nil {
		return false, err
	}
	failed, err := d.transact(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: &d.table, Key: primary(familyPK(presented.Family), familySK),
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

// transactAttempts bounds retries of a transaction that lost to a concurrent write.
const transactAttempts = 4

// transact writes items, retrying while another write to the same items is in
// flight (TransactionConflict: the last-used writer, the sweeper, a PATCH). It
// reports whether the first item's condition failed; any other failure is an error,
// never a silent success.
func (d *Dynamo) transact(ctx context.Context, items []types.TransactWriteItem) (conditionFailed bool, err error) {
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
