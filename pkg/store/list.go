package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// KeyFilter selects keys to list. Zero fields select everything.
type KeyFilter struct {
	Owner  string
	Status string // one of the Status constants, or empty
}

// Page is one page of a listing. Next is empty on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// cursor is the opaque pagination state: where the index query stops, on which partition.
type cursor struct {
	Part string            `json:"p"` // the partition the query ran on
	Key  map[string]string `json:"k"` // LastEvaluatedKey, all string attributes
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, part string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || len(c.Key) == 0 || part != "" && c.Part != part {
		return nil, ErrBadCursor
	}
	return &c, nil
}

func lastKey(c *cursor) map[string]types.AttributeValue {
	if c == nil || len(c.Key) == 0 {
		return nil
	}
	m := make(map[string]types.AttributeValue, len(c.Key))
	for k, v := range c.Key {
		m[k] = &types.AttributeValueMemberS{Value: v}
	}
	return m
}

func cursorFrom(part string, lek map[string]types.AttributeValue) (cursor, bool) {
	if len(lek) == 0 {
		return cursor{}, false
	}
	c := cursor{Part: part, Key: make(map[string]string, len(lek))}
	for k, v := range lek {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			c.Key[k] = s.Value
		}
	}
	return c, true
}

// ListKeys returns up to limit keys matching f, newest first within each status group
// (live keys, then expired, then revoked), from an index query, never a Scan.
// Status is the effective status at now: a key whose grace or expiry has passed but
// that the sweeper has not yet rewritten is shown, and filtered, by its status now.
func (d *Dynamo) ListKeys(ctx context.Context, f KeyFilter, limit int, after string, now time.Time) (Page[*Key], error) {
	index, pkName, part := "gsi2", "gsi2pk", allKeysPK
	if f.Owner != "" {
		index, pkName, part = "gsi1", "gsi1pk", ownerPK(f.Owner)
	}
	kc := expression.Key(pkName).Equal(expression.Value(part))
	if f.Status != "" {
		kc = kc.And(expression.Key("lsk").BeginsWith(statusRank(f.Status) + "#"))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return Page[*Key]{}, fmt.Errorf("build key query: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName: &d.table, IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	return queryPage(ctx, d.db, in, part, limit, after, func(item map[string]types.AttributeValue) (*Key, bool, error) {
		var k Key
		if err := attributevalue.UnmarshalMap(item, &k); err != nil {
			return nil, false, fmt.Errorf("unmarshal key: %w", err)
		}
		return &k, f.Status == "" || k.EffectiveStatus(now) == f.Status, nil
	})
}

// queryPage runs the query in on partition part from the cursor after, until limit
// items are kept or the partition is exhausted: a page that a filter (DynamoDB's or
// keep's) left short is read on, so only the last page is ever short.
func queryPage[T any](ctx context.Context, db API, in *dynamodb.QueryInput, part string, limit int, after string,
	keep func(map[string]types.AttributeValue) (T, bool, error)) (Page[T], error) {
	c, err := decodeCursor(after, part)
	if err != nil {
		return Page[T]{}, err
	}
	var page Page[T]
	in.ExclusiveStartKey = lastKey(c)
	for {
		in.Limit = aws.Int32(int32(limit - len(page.Items)))
		out, err := db.Query(ctx, in)
		if err != nil {
			return Page[T]{}, queryError("query "+part, err)
		}
		for _, item := range out.Items {
			v, ok, err := keep(item)
			if err != nil {
				return Page[T]{}, err
			}
			if ok {
				page.Items = append(page.Items, v)
			}
		}
		next, more := cursorFrom(part, out.LastEvaluatedKey)
		if !more {
			return page, nil
		}
		if len(page.Items) >= limit {
			page.Next = encodeCursor(next)
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// queryError maps DynamoDB's refusal of a start key (a cursor from another
// listing) to ErrBadCursor.
func queryError(what string, err error) error {
	var ve interface{ ErrorCode() string }
	if errors.As(err, &ve) && ve.ErrorCode() == "ValidationException" {
		return ErrBadCursor
	}
	return fmt.Errorf("%s: %w", what, err)
}

func event(item map[string]types.AttributeValue) (*Event, bool, error) {
	var e Event
	if err := attributevalue.UnmarshalMap(item, &e); err != nil {
		return nil, false, fmt.Errorf("unmarshal event: %w", err)
	}
	return &e, true, nil
}

// ListEvents returns a key's events, newest first. A deleted key's events are still there.
func (d *Dynamo) ListEvents(ctx context.Context, keyID string, limit int, after string) (Page[*Event], error) {
	part := KeyPK(keyID)
	kc := expression.Key("pk").Equal(expression.Value(part)).And(expression.Key("sk").BeginsWith(eventSK))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return Page[*Event]{}, fmt.Errorf("build events query: %w", err)
	}
	return queryPage(ctx, d.db, &dynamodb.QueryInput{
		TableName: &d.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false),
	}, part, limit, after, event)
}

// ListAudit returns every key's events, newest first, optionally of one type, from
// the audit index. Events past their retention that TTL has not yet purged are skipped.
func (d *Dynamo) ListAudit(ctx context.Context, eventType string, limit int, after string, now time.Time) (Page[*Event], error) {
	filter := expression.Name("ttl").GreaterThan(expression.Value(now.Unix()))
	if eventType != "" {
		filter = filter.And(expression.Name("type").Equal(expression.Value(eventType)))
	}
	expr, err := expression.NewBuilder().
		WithKeyCondition(expression.Key("gsi3pk").Equal(expression.Value(auditPK))).
		WithFilter(filter).Build()
	if err != nil {
		return Page[*Event]{}, fmt.Errorf("build audit query: %w", err)
	}
	return queryPage(ctx, d.db, &dynamodb.QueryInput{
		TableName: &d.table, IndexName: aws.String("gsi3"), KeyConditionExpression: expr.KeyCondition(),
		FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ScanIndexForward: aws.Bool(false),
	}, auditPK, limit, after, event)
}
