package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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

// cursor is the opaque pagination state: where the index query stops, and for the
// audit log which month it is in.
type cursor struct {
	Part  string            `json:"p"` // the partition the query ran on
	Key   map[string]string `json:"k"` // LastEvaluatedKey, all string attributes
	Month string            `json:"m,omitempty"`
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
	if json.Unmarshal(b, &c) != nil || len(c.Key) == 0 && c.Month == "" || part != "" && c.Part != part {
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
	c, err := decodeCursor(after, part)
	if err != nil {
		return Page[*Key]{}, err
	}
	kc := expression.Key(pkName).Equal(expression.Value(part))
	if f.Status != "" {
		kc = kc.And(expression.Key("lsk").BeginsWith(statusRank(f.Status) + "#"))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return Page[*Key]{}, fmt.Errorf("build key query: %w", err)
	}
	var page Page[*Key]
	start := lastKey(c)
	for {
		out, err := d.db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 &d.table,
			IndexName:                 &index,
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(limit - len(page.Items))),
		})
		if err != nil {
			return Page[*Key]{}, queryError("list keys", err)
		}
		for _, item := range out.Items {
			var k Key
			if err := attributevalue.UnmarshalMap(item, &k); err != nil {
				return Page[*Key]{}, fmt.Errorf("unmarshal key: %w", err)
			}
			if f.Status == "" || k.EffectiveStatus(now) == f.Status {
				page.Items = append(page.Items, &k)
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
		start = out.LastEvaluatedKey
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

func unmarshalEvents(items []map[string]types.AttributeValue) ([]*Event, error) {
	out := make([]*Event, 0, len(items))
	for _, item := range items {
		var e Event
		if err := attributevalue.UnmarshalMap(item, &e); err != nil {
			return nil, fmt.Errorf("unmarshal event: %w", err)
		}
		out = append(out, &e)
	}
	return out, nil
}

// ListEvents returns a key's events, newest first. A deleted key's events are still there.
func (d *Dynamo) ListEvents(ctx context.Context, keyID string, limit int, after string) (Page[*Event], error) {
	part := KeyPK(keyID)
	c, err := decodeCursor(after, part)
	if err != nil {
		return Page[*Event]{}, err
	}
	kc := expression.Key("pk").Equal(expression.Value(part)).And(expression.Key("sk").BeginsWith(eventSK))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return Page[*Event]{}, fmt.Errorf("build events query: %w", err)
	}
	out, err := d.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &d.table,
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         lastKey(c),
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return Page[*Event]{}, queryError("list events", err)
	}
	events, err := unmarshalEvents(out.Items)
	if err != nil {
		return Page[*Event]{}, err
	}
	page := Page[*Event]{Items: events}
	if next, more := cursorFrom(part, out.LastEvaluatedKey); more {
		page.Next = encodeCursor(next)
	}
	return page, nil
}

// auditBatch is how many older monthly partitions ListAudit reads at once once the
// newer ones are exhausted: a sparse audit log then costs a few round trips, not one
// per month of retention.
const auditBatch = 6

// monthPage is one query's result on one monthly audit partition.
type monthPage struct {
	events []*Event
	lek    map[string]types.AttributeValue
	err    error
}

// ListAudit returns every key's events, newest first, optionally of one type. It walks
// the monthly audit partitions back from now to the retention horizon.
func (d *Dynamo) ListAudit(ctx context.Context, eventType string, limit int, after string, now time.Time) (Page[*Event], error) {
	c, err := decodeCursor(after, "")
	if err != nil {
		return Page[*Event]{}, err
	}
	month := monthStart(now)
	var start map[string]types.AttributeValue
	if c != nil {
		m, err := time.Parse(monthTrunc, c.Month)
		if err != nil || c.Part != auditPK+c.Month {
			return Page[*Event]{}, ErrBadCursor
		}
		month, start = m, lastKey(c)
	}
	horizon := monthStart(now.Add(-d.retention))
	var page Page[*Event]
	for batch := 1; !month.Before(horizon); batch = auditBatch {
		// The first partition is read alone (it usually fills the page); older, often
		// empty ones are read several at a time.
		months := []time.Time{month}
		for len(months) < batch && !months[len(months)-1].AddDate(0, -1, 0).Before(horizon) {
			months = append(months, months[len(months)-1].AddDate(0, -1, 0))
		}
		results := make([]monthPage, len(months))
		var wg sync.WaitGroup
		for i, m := range months {
			from := start
			if i > 0 {
				from = nil
			}
			wg.Go(func() {
				results[i] = d.auditMonth(ctx, m, eventType, limit-len(page.Items), from)
			})
		}
		wg.Wait()
		start = nil
		for i, r := range results {
			if r.err != nil {
				return Page[*Event]{}, r.err
			}
			part := auditPK + months[i].Format(monthTrunc)
			room := limit - len(page.Items)
			if len(r.events) > room {
				// Only a concurrently read older month can overshoot; it is re-read next page.
				r.events, r.lek = r.events[:room], nil
				page.Items = append(page.Items, r.events...)
				last := r.events[len(r.events)-1]
				page.Next = encodeCursor(cursor{Part: part, Month: months[i].Format(monthTrunc),
					Key: map[string]string{"pk": KeyPK(last.KeyID), "sk": eventSK + last.ID, "gsi3pk": part, "gsi3sk": last.ID}})
				return page, nil
			}
			page.Items = append(page.Items, r.events...)
			if next, more := cursorFrom(part, r.lek); more {
				next.Month = months[i].Format(monthTrunc)
				if len(page.Items) >= limit {
					page.Next = encodeCursor(next)
					return page, nil
				}
				// The partition has more (a filtered query stopped early): read on from here.
				month, start = months[i], r.lek
				break
			}
			month = months[i].AddDate(0, -1, 0)
			if len(page.Items) >= limit {
				if !month.Before(horizon) {
					page.Next = encodeCursor(cursor{Part: auditPK + month.Format(monthTrunc), Month: month.Format(monthTrunc)})
				}
				return page, nil
			}
		}
	}
	return page, nil
}

// auditMonth reads up to limit events of one monthly audit partition, newest first.
func (d *Dynamo) auditMonth(ctx context.Context, month time.Time, eventType string, limit int, start map[string]types.AttributeValue) monthPage {
	part := auditPK + month.Format(monthTrunc)
	b := expression.NewBuilder().WithKeyCondition(expression.Key("gsi3pk").Equal(expression.Value(part)))
	if eventType != "" {
		b = b.WithFilter(expression.Name("type").Equal(expression.Value(eventType)))
	}
	expr, err := b.Build()
	if err != nil {
		return monthPage{err: fmt.Errorf("build audit query: %w", err)}
	}
	out, err := d.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 &d.table,
		IndexName:                 aws.String("gsi3"),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return monthPage{err: queryError("list audit", err)}
	}
	events, err := unmarshalEvents(out.Items)
	return monthPage{events: events, lek: out.LastEvaluatedKey, err: err}
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
