package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/scope"
)

// KeyFilter selects keys to list. Zero fields select everything.
type KeyFilter struct {
	Owner  string
	Status string // one of the Status constants, or empty
	// Within, when set, keeps the listing to the owners a caller may read; nil is
	// every owner. It is read by index, never filtered out of a wider read.
	Within *scope.OwnerRange
}

// Page is one page of a listing. Next is empty on the last page.
type Page[T any] struct {
	Items []T
	Next  string
}

// cursor is the opaque pagination state: which segment of the listing (one index
// query, named by Part) and where in it the next page starts (Key empty: at its start).
type cursor struct {
	Part string            `json:"p"`
	Key  map[string]string `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	var c cursor
	if json.Unmarshal(b, &c) != nil || c.Part == "" {
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

// segment is one index query of a listing, named by part (unique within the listing).
type segment struct {
	part string
	in   *dynamodb.QueryInput
}

// ListKeys returns up to limit keys matching f, from index queries, never a Scan.
// Unnarrowed, a listing is newest first within each status group (live keys, then
// expired, then revoked). Narrowed by f.Within, it is read owner range by owner
// range: each exact owner's keys grouped and ordered as above (gsi1), then each owner
// prefix's keys in owner order (gsi4, one key range per prefix), so it reads what it
// returns. Status is the effective status at now: a key whose grace or expiry has
// passed but that the sweeper has not yet rewritten is shown, and filtered, by its
// status now (a prefix range filtered by status reads its other statuses too).
func (d *Dynamo) ListKeys(ctx context.Context, f KeyFilter, limit int, after string, now time.Time) (Page[*Key], error) {
	var segs []segment
	var err error
	switch {
	case f.Owner != "" && f.Within != nil && !f.Within.Covers(f.Owner):
		return Page[*Key]{}, nil // an owner the caller may not read has no keys for it
	case f.Owner != "":
		segs, err = d.keySegments("gsi1", "gsi1pk", ownerPK(f.Owner), "", f.Status)
	case f.Within == nil || f.Within.All:
		segs, err = d.keySegments("gsi2", "gsi2pk", allKeysPK, "", f.Status)
	default:
		for _, o := range f.Within.Owners {
			s, err2 := d.keySegments("gsi1", "gsi1pk", ownerPK(o), "", f.Status)
			segs, err = append(segs, s...), errors.Join(err, err2)
		}
		for _, p := range f.Within.Prefixes {
			s, err2 := d.keySegments("gsi4", "gsi4pk", allKeysPK, p, "")
			segs, err = append(segs, s...), errors.Join(err, err2)
		}
	}
	if err != nil {
		return Page[*Key]{}, err
	}
	return querySegments(ctx, d.db, segs, limit, after, func(item map[string]types.AttributeValue) (*Key, bool, error) {
		k, err := unmarshalKey(item)
		if err != nil {
			return nil, false, fmt.Errorf("unmarshal key: %w", err)
		}
		keep := f.Status == "" || k.EffectiveStatus(now) == f.Status
		return k, keep && (f.Within == nil || f.Within.Covers(k.Owner)), nil
	})
}

// keySegments is the one query of a key listing on index: partition part, and either
// an owner prefix on gsi4sk or a status group on lsk.
func (d *Dynamo) keySegments(index, pkName, part, ownerPrefix, status string) ([]segment, error) {
	kc := expression.Key(pkName).Equal(expression.Value(part))
	name := part
	switch {
	case ownerPrefix != "":
		kc = kc.And(expression.Key("gsi4sk").BeginsWith(ownerPrefix))
		name = "PREFIX#" + ownerPrefix
	case status != "":
		kc = kc.And(expression.Key("lsk").BeginsWith(statusRank(status) + "#"))
	}
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build key query: %w", err)
	}
	return []segment{{part: name, in: &dynamodb.QueryInput{
		TableName: &d.table, IndexName: &index, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}}}, nil
}

// queryPage runs the one query in on partition part from the cursor after.
func queryPage[T any](ctx context.Context, db API, in *dynamodb.QueryInput, part string, limit int, after string,
	keep func(map[string]types.AttributeValue) (T, bool, error)) (Page[T], error) {
	return querySegments(ctx, db, []segment{{part: part, in: in}}, limit, after, keep)
}

// querySegments reads the segments one after another from the cursor after, until
// limit items are kept or every segment is exhausted: a page that a filter
// (DynamoDB's or keep's) or a segment's end left short is read on, so only the last
// page is ever short.
func querySegments[T any](ctx context.Context, db API, segs []segment, limit int, after string,
	keep func(map[string]types.AttributeValue) (T, bool, error)) (Page[T], error) {
	c, err := decodeCursor(after)
	if err != nil {
		return Page[T]{}, err
	}
	first := 0
	if c != nil {
		first = slices.IndexFunc(segs, func(s segment) bool { return s.part == c.Part })
		if first < 0 {
			return Page[T]{}, ErrBadCursor
		}
	}
	var page Page[T]
	for i := first; i < len(segs); i++ {
		in := segs[i].in
		in.ExclusiveStartKey = nil
		if i == first {
			in.ExclusiveStartKey = lastKey(c)
		}
		for {
			if len(page.Items) >= limit {
				// Full at a segment's start: the next page begins there.
				page.Next = encodeCursor(cursor{Part: segs[i].part})
				return page, nil
			}
			in.Limit = aws.Int32(int32(limit - len(page.Items)))
			out, err := db.Query(ctx, in)
			if err != nil {
				return Page[T]{}, queryError("query "+segs[i].part, err)
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
			next, more := cursorFrom(segs[i].part, out.LastEvaluatedKey)
			if !more {
				break
			}
			if len(page.Items) >= limit {
				page.Next = encodeCursor(next)
				return page, nil
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return page, nil
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
	return d.ListKeyEvents(ctx, keyID, nil, limit, after)
}

// ListKeyEvents is ListEvents keeping only events of owners within (nil: every owner):
// a key that changed owners shows a narrowed reader only the events recorded while it
// was theirs. One key's trail is small, so it is read on past what a reader may not
// see rather than by index.
func (d *Dynamo) ListKeyEvents(ctx context.Context, keyID string, within *scope.OwnerRange, limit int, after string) (Page[*Event], error) {
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
	}, part, limit, after, func(item map[string]types.AttributeValue) (*Event, bool, error) {
		e, _, err := event(item)
		return e, err == nil && (within == nil || within.Covers(e.Owner)), err
	})
}

// ListAudit returns every key's events, newest first, optionally of one type, from
// the audit index. Events past their retention that TTL has not yet purged are skipped.
// Narrowed by within, it reads gsi4, one key range per exact owner and per owner
// prefix: each range newest first, owners in reverse order, so it reads what it
// returns (a type filter reads the range's other types too).
func (d *Dynamo) ListAudit(ctx context.Context, eventType string, within *scope.OwnerRange, limit int, after string, now time.Time) (Page[*Event], error) {
	filter := expression.Name("ttl").GreaterThan(expression.Value(now.Unix()))
	if eventType != "" {
		filter = filter.And(expression.Name("type").Equal(expression.Value(eventType)))
	}
	query := func(part, index string, kc expression.KeyConditionBuilder) (segment, error) {
		expr, err := expression.NewBuilder().WithKeyCondition(kc).WithFilter(filter).Build()
		if err != nil {
			return segment{}, fmt.Errorf("build audit query: %w", err)
		}
		return segment{part: part, in: &dynamodb.QueryInput{
			TableName: &d.table, IndexName: aws.String(index), KeyConditionExpression: expr.KeyCondition(),
			FilterExpression: expr.Filter(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
			ScanIndexForward: aws.Bool(false),
		}}, nil
	}
	var segs []segment
	var errs error
	add := func(s segment, err error) { segs = append(segs, s); errs = errors.Join(errs, err) }
	if within == nil || within.All {
		add(query(auditPK, "gsi3", expression.Key("gsi3pk").Equal(expression.Value(auditPK))))
	} else {
		byOwner := expression.Key("gsi4pk").Equal(expression.Value(auditPK))
		for _, o := range within.Owners {
			add(query("OWNER#"+o, "gsi4", byOwner.And(expression.Key("gsi4sk").BeginsWith(ownerSK(o, "")))))
		}
		for _, p := range within.Prefixes {
			add(query("PREFIX#"+p, "gsi4", byOwner.And(expression.Key("gsi4sk").BeginsWith(p))))
		}
	}
	if errs != nil {
		return Page[*Event]{}, errs
	}
	return querySegments(ctx, d.db, segs, limit, after, func(item map[string]types.AttributeValue) (*Event, bool, error) {
		e, _, err := event(item)
		return e, err == nil && (within == nil || within.Covers(e.Owner)), err
	})
}
