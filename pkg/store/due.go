package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The due index (gsi "due", sparse): an item is in it while something about it falls
// due, keyed by due_pk = DUE#<shard> and due_at = epoch seconds of the earliest such
// instant. The sweeper queries due_at <= now on every shard, so a run reads what is
// due and nothing else. Shards spread the index's writes over partitions.
const (
	// DueIndex is the name of the due GSI.
	DueIndex = "due"
	// DueShards is how many due_pk partitions there are.
	DueShards = 8
	// AttrDuePK and AttrDueAt are the due index's key attributes; AttrTTL is the table's TTL attribute.
	AttrDuePK = "due_pk"
	AttrDueAt = "due_at"
	AttrTTL   = "ttl"
)

// DueAtOnce is the due instant a management write gives a key: any sweep looks at it
// and computes its real next instant with its own configuration (offsets, stale time).
// The cost is one processed item per key change, proportional to writes, not to keys.
var DueAtOnce = time.Unix(0, 0).UTC()

// DuePK returns the due partition of everything that belongs to key id.
func DuePK(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "DUE#" + strconv.Itoa(int(h.Sum32()%DueShards))
}

// DueShardPKs returns every due partition.
func DueShardPKs() []string {
	out := make([]string, DueShards)
	for i := range out {
		out[i] = "DUE#" + strconv.Itoa(i)
	}
	return out
}

// Schedule is the sweeper's bookkeeping on a key item: when to look at it next, and
// when DynamoDB TTL may purge it.
type Schedule struct {
	// DueAt is when the sweeper should look at the key next; zero means nothing is
	// pending and the key leaves the due index.
	DueAt time.Time
	// PurgeAt is when TTL may delete the key item; zero keeps it.
	PurgeAt time.Time
}

func (s Schedule) apply(u expression.UpdateBuilder, id string) expression.UpdateBuilder {
	if s.DueAt.IsZero() {
		u = u.Remove(expression.Name(AttrDuePK)).Remove(expression.Name(AttrDueAt))
	} else {
		u = u.Set(expression.Name(AttrDuePK), expression.Value(DuePK(id))).
			Set(expression.Name(AttrDueAt), expression.Value(s.DueAt.Unix()))
	}
	if s.PurgeAt.IsZero() {
		u = u.Remove(expression.Name(AttrTTL))
	} else {
		u = u.Set(expression.Name(AttrTTL), expression.Value(s.PurgeAt.Unix()))
	}
	return u
}

// UpdateKeyScheduled is UpdateKey with the sweeper's own schedule instead of DueAtOnce.
func (d *Dynamo) UpdateKeyScheduled(ctx context.Context, k *Key, s Schedule, e *Event) error {
	return d.updateKey(ctx, k, s, e)
}

// SetSchedule writes only the schedule of key id, if its stored version is still
// version and it is not gone: ErrConflict or ErrNotFound otherwise. It records no
// event: the schedule is bookkeeping, not a change of the key.
func (d *Dynamo) SetSchedule(ctx context.Context, id string, version int64, s Schedule) error {
	u := s.apply(expression.UpdateBuilder{}, id)
	cond := expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("version").Equal(expression.Value(version)))
	err := d.updateKeyItem(ctx, id, u, cond)
	if err == nil {
		return nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return ErrNotFound
		}
		return ErrConflict
	}
	return fmt.Errorf("set schedule of %s: %w", id, err)
}

// updateKeyItem applies u to key id's item under c, in one conditional UpdateItem
// that returns the item as it is when c fails (in the ConditionalCheckFailedException).
func (d *Dynamo) updateKeyItem(ctx context.Context, id string, u expression.UpdateBuilder, c expression.ConditionBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(c).Build()
	if err != nil {
		return fmt.Errorf("build update of %s: %w", id, err)
	}
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           &d.table,
		Key:                                 keyPrimary(id),
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	return err
}
