package usage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/store"
)

// Interval is the least time between two last-used writes of one key.
const Interval = 60 * time.Second

// maxMarks bounds the in-memory marks; marks older than Interval are dropped past it.
const maxMarks = 10000

// API is the part of the DynamoDB client the recorder uses.
type API interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// EventWriter records the key.used event.
type EventWriter interface {
	// PutEvent records an event that goes with no key change.
	PutEvent(ctx context.Context, e *store.Event) error
}

// Recorder writes last-used information, at most once per key per Interval.
type Recorder struct {
	db     API
	table  string
	events EventWriter

	mu      sync.Mutex
	touched map[string]time.Time // key id → last attempt on this instance
}

// New returns a recorder for the keys of table.
func New(db API, table string, events EventWriter) *Recorder {
	return &Recorder{db: db, table: table, events: events, touched: map[string]time.Time{}}
}

// due marks keyID as touched at now and reports whether this instance should try.
func (r *Recorder) due(keyID string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if last, ok := r.touched[keyID]; ok && now.Sub(last) < Interval {
		return false
	}
	if len(r.touched) >= maxMarks {
		for id, t := range r.touched {
			if now.Sub(t) >= Interval {
				delete(r.touched, id)
			}
		}
	}
	r.touched[keyID] = now
	return true
}

// Touch records that keyID was used from ip at now, unless it was recorded less than
// Interval ago. It reports whether this call wrote.
func (r *Recorder) Touch(ctx context.Context, keyID, owner, ip, actor string, now time.Time) (bool, error) {
	if !r.due(keyID, now) {
		return false, nil
	}
	now = now.UTC().Truncate(time.Second)
	set := expression.Set(expression.Name("last_used_at"), expression.Value(now.Format(time.RFC3339))).
		Set(expression.Name("last_used_ip"), expression.Value(ip))
	cond := expression.AttributeExists(expression.Name("pk")).And(
		expression.AttributeNotExists(expression.Name("last_used_at")).
			Or(expression.Name("last_used_at").LessThanEqual(expression.Value(now.Add(-Interval).Format(time.RFC3339)))))
	expr, err := expression.NewBuilder().WithUpdate(set).WithCondition(cond).Build()
	if err != nil {
		return false, fmt.Errorf("usage: build update: %w", err)
	}
	_, err = r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.KeyPK(keyID)},
			"sk": &types.AttributeValueMemberS{Value: "KEY"},
		},
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil // another instance wrote within the interval, or the key is gone
	}
	if err != nil {
		return false, fmt.Errorf("usage: update last used of %s: %w", keyID, err)
	}
	err = r.events.PutEvent(ctx, &store.Event{Time: now, Type: store.EventKeyUsed, KeyID: keyID, Owner: owner, Actor: actor, IP: ip, Detail: map[string]any{}})
	if err != nil {
		return true, fmt.Errorf("usage: key.used event: %w", err)
	}
	return true, nil
}
