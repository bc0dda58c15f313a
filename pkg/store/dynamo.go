package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

var (
	// ErrNotFound is returned when the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a conditional write lost a race: the record
	// changed (or was revoked) since it was read. Re-read and decide again.
	ErrConflict = errors.New("store: conflicting change")
	// ErrBadCursor is returned for a pagination cursor this store did not issue.
	ErrBadCursor = errors.New("store: bad cursor")
)

// API is the part of the DynamoDB client the store uses.
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Dynamo is the DynamoDB implementation of the key store.
type Dynamo struct {
	db        API
	table     string
	retention time.Duration
}

// New returns a store on table. Events expire (DynamoDB TTL) after retention.
func New(db API, table string, retention time.Duration) *Dynamo {
	return &Dynamo{db: db, table: table, retention: retention}
}

const (
	keySK     = "KEY"
	allKeysPK = "KEYS"
	eventSK   = "EV#"
	// auditPK is the one partition of the audit index. Bucketing it (by month, say)
	// would not raise its write ceiling, since every new event lands in the newest
	// bucket, and would make a sparse log cost a query per empty bucket.
	auditPK   = "AUDIT"
	maxMillis = 9999999999999
)

// KeyPK is the partition key of everything that belongs to key id.
func KeyPK(id string) string { return "KEY#" + id }

func ownerPK(owner string) string { return "OWNER#" + owner }

// statusRank orders the list index: live keys (active and rotating, which differ
// only by a time that passes without a write) first, then expired, then revoked.
func statusRank(status string) string {
	switch status {
	case StatusExpired:
		return "2"
	case StatusRevoked:
		return "3"
	default:
		return "1"
	}
}

func listSK(k *Key) string {
	return fmt.Sprintf("%s#%013d#%s", statusRank(k.Status), maxMillis-k.CreatedAt.UnixMilli(), k.ID)
}

// ownerSep ends the owner in gsi4 sort keys. Owners never contain a space (the API
// refuses one), and a space sorts before every character an owner may hold, so
// begins_with(owner + ownerSep) is exactly one owner and begins_with(prefix) every
// owner that starts with prefix.
const ownerSep = " "

// ownerSK is a gsi4 sort key: the owner first, so an owner prefix is one key range.
func ownerSK(owner, rest string) string { return owner + ownerSep + rest }

func keyItem(k *Key) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(k)
	if err != nil {
		return nil, fmt.Errorf("marshal key %s: %w", k.ID, err)
	}
	item["pk"] = &types.AttributeValueMemberS{Value: KeyPK(k.ID)}
	item["sk"] = &types.AttributeValueMemberS{Value: keySK}
	item["gsi1pk"] = &types.AttributeValueMemberS{Value: ownerPK(k.Owner)}
	item["gsi2pk"] = &types.AttributeValueMemberS{Value: allKeysPK}
	item["lsk"] = &types.AttributeValueMemberS{Value: listSK(k)}
	item["gsi4pk"] = &types.AttributeValueMemberS{Value: allKeysPK}
	item["gsi4sk"] = &types.AttributeValueMemberS{Value: ownerSK(k.Owner, listSK(k))}
	// A new key is due at once: the sweeper computes its real schedule (see due.go).
	item[AttrDuePK] = &types.AttributeValueMemberS{Value: DuePK(k.ID)}
	item[AttrDueAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(DueAtOnce.Unix(), 10)}
	return item, nil
}

func keyPrimary(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: KeyPK(id)},
		"sk": &types.AttributeValueMemberS{Value: keySK},
	}
}

// NewEventID returns a unique event id ordered by when it was written: the wall
// clock in nanoseconds, then randomness. It orders writes, so it ignores the event's
// own Time (which a sweep "as if at" some instant may set ahead).
func NewEventID() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%019d", time.Now().UnixNano()) + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (d *Dynamo) eventPut(e *Event) (*types.Put, error) {
	if e.ID == "" {
		e.ID = NewEventID()
	}
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	item["pk"] = &types.AttributeValueMemberS{Value: KeyPK(e.KeyID)}
	item["sk"] = &types.AttributeValueMemberS{Value: eventSK + e.ID}
	item["gsi3pk"] = &types.AttributeValueMemberS{Value: auditPK}
	item["gsi3sk"] = &types.AttributeValueMemberS{Value: e.ID}
	if e.Owner != "" {
		// The owner-narrowed audit log (an event of no known key has no owner).
		item["gsi4pk"] = &types.AttributeValueMemberS{Value: auditPK}
		item["gsi4sk"] = &types.AttributeValueMemberS{Value: ownerSK(e.Owner, e.ID)}
	}
	item["ttl"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(e.Time.Add(d.retention).Unix(), 10)}
	return &types.Put{
		TableName:           &d.table,
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}, nil
}

// CreateKey writes a new key and its creation event. The id must be unused.
func (d *Dynamo) CreateKey(ctx context.Context, k *Key, e *Event) error {
	if k.RevokedJTIs == nil {
		// Present from the start, so a revocation can set one entry of it.
		k.RevokedJTIs = map[string]int64{}
	}
	if k.Locks == nil {
		// Likewise for a lock (RecordLock).
		k.Locks = map[string]int64{}
	}
	item, err := keyItem(k)
	if err != nil {
		return err
	}
	put := &types.Put{TableName: &d.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}
	return d.transact(ctx, put, e)
}

// GetKey returns the key with id, read consistently, or ErrNotFound.
func (d *Dynamo) GetKey(ctx context.Context, id string) (*Key, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.table,
		Key:            keyPrimary(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get key %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	k, err := unmarshalKey(out.Item)
	if err != nil {
		return nil, fmt.Errorf("unmarshal key %s: %w", id, err)
	}
	return k, nil
}

// UpdateKey writes k, whose Version must be exactly one more than the stored one,
// together with e. It fails with ErrConflict if the stored version is not
// k.Version-1 or the stored key is revoked, and ErrNotFound if there is no key.
// last_used_at and last_used_ip are left alone: they have their own writer.
// The key becomes due at once (the sweeper reschedules it) and loses any purge time.
func (d *Dynamo) UpdateKey(ctx context.Context, k *Key, e *Event) error {
	return d.updateKey(ctx, k, Schedule{DueAt: DueAtOnce}, e)
}

func (d *Dynamo) updateKey(ctx context.Context, k *Key, s Schedule, e *Event) error {
	set := func(u expression.UpdateBuilder, name string, v any) expression.UpdateBuilder {
		return u.Set(expression.Name(name), expression.Value(v))
	}
	u := expression.UpdateBuilder{}
	u = set(u, "name", k.Name)
	u = set(u, "description", k.Description)
	u = set(u, "owner", k.Owner)
	u = set(u, "scopes", k.Scopes)
	u = set(u, "status", k.Status)
	u = set(u, "updated_at", k.UpdatedAt)
	u = set(u, "expires_at", k.ExpiresAt)
	u = set(u, "metadata", k.Metadata)
	u = set(u, "allowed_cidrs", k.AllowedCIDRs)
	u = set(u, "version", k.Version)
	u = set(u, "secret", k.Secret)
	u = set(u, "gsi1pk", ownerPK(k.Owner))
	u = set(u, "lsk", listSK(k))
	u = set(u, "gsi4pk", allKeysPK)
	u = set(u, "gsi4sk", ownerSK(k.Owner, listSK(k)))
	if k.LimitsSet {
		u = setLimits(u, k, set)
	}
	if k.Previous != nil {
		u = set(u, "previous", k.Previous)
	} else {
		u = u.Remove(expression.Name("previous"))
	}
	u = s.apply(u, k.ID)
	cond := expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("version").Equal(expression.Value(k.Version - 1))).
		And(expression.Name("status").NotEqual(expression.Value(StatusRevoked)))
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("build update: %w", err)
	}
	upd := &types.Update{
		TableName:                 &d.table,
		Key:                       keyPrimary(k.ID),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	return d.transact(ctx, upd, e)
}

// DeleteKey removes the key with id, as it was at version, and records e. Its events
// stay (until their TTL). ErrNotFound if there is no key, ErrConflict if it changed
// since it was read: the decision to delete was made on that version.
func (d *Dynamo) DeleteKey(ctx context.Context, id string, version int64, e *Event) error {
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("version").Equal(expression.Value(version)))).Build()
	if err != nil {
		return fmt.Errorf("build delete: %w", err)
	}
	del := &types.Delete{
		TableName:                 &d.table,
		Key:                       keyPrimary(id),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}
	return d.transact(ctx, del, e)
}

// transact writes one key change (a *types.Put, *types.Update or *types.Delete) and
// its event atomically, mapping a failed condition on the key to ErrNotFound or ErrConflict.
func (d *Dynamo) transact(ctx context.Context, change any, e *Event) error {
	ev, err := d.eventPut(e)
	if err != nil {
		return err
	}
	first := types.TransactWriteItem{}
	switch c := change.(type) {
	case *types.Put:
		first.Put = c
	case *types.Update:
		c.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		first.Update = c
	case *types.Delete:
		c.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
		first.Delete = c
	}
	_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{first, {Put: ev}},
	})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) > 0 {
		r := tce.CancellationReasons[0]
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			if first.Put == nil && len(r.Item) == 0 {
				return ErrNotFound
			}
			return ErrConflict
		}
		// Another transaction was touching the same item: a lost race, not a failure.
		if aws.ToString(r.Code) == "TransactionConflict" || aws.ToString(tce.CancellationReasons[len(tce.CancellationReasons)-1].Code) == "TransactionConflict" {
			return ErrConflict
		}
	}
	var tcx *types.TransactionConflictException
	if errors.As(err, &tcx) {
		return ErrConflict
	}
	return fmt.Errorf("write key change: %w", err)
}

// PutEvent records an event that goes with no key change (auth.failed, key.used, token.*).
func (d *Dynamo) PutEvent(ctx context.Context, e *Event) error {
	p, err := d.eventPut(e)
	if err != nil {
		return err
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
	})
	if err != nil {
		return fmt.Errorf("put event: %w", err)
	}
	return nil
}

// setLimits sets the limit fields a patch set: the rate limit as it stands, and
// remaining, refill and refilled_at only when the patch set remaining or refill, so
// that credits spent (or a refill made) since the read are never written back.
func setLimits(u expression.UpdateBuilder, k *Key, set func(expression.UpdateBuilder, string, any) expression.UpdateBuilder) expression.UpdateBuilder {
	u = set(u, AttrRateLimit, k.RateLimit)
	if k.creditsSet.remaining {
		u = set(u, AttrRemaining, k.Remaining)
	}
	if k.creditsSet.refill {
		u = set(u, AttrRefill, k.Refill)
	}
	if k.creditsSet.remaining || k.creditsSet.refill {
		u = set(u, AttrRefilledAt, k.RefilledAt)
	}
	return u
}
