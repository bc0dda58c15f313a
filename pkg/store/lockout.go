package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A lockout counter (pk=LOCKOUT#<key id>#<ip>, sk=LOCKOUT) counts the failed attempts
// of one key id from one source IP in a window: n, window_start and, once the pair is
// locked, locked_until (epoch seconds); it expires by ttl.
const lockoutSK = "LOCKOUT"

func lockoutPK(keyID, ip string) string { return "LOCKOUT#" + keyID + "#" + ip }

// errCondition: the condition of a counter write failed.
var errCondition = errors.New("store: condition failed")

// CountFailure adds one failure at now to the counter of (keyID, ip): to its open
// window (one that began after now-window), or to a new window. It returns the count
// and the end of any lock set within the window. Both steps are conditional, so
// concurrent failures on any number of instances are all counted, in one window. The
// item outlives its window and a lock of cooldown set within it.
func (d *Dynamo) CountFailure(ctx context.Context, keyID, ip string, now time.Time, window, cooldown time.Duration) (int64, time.Time, error) {
	cutoff := now.Add(-window).Unix()
	ttl := now.Add(window + cooldown).Unix()
	for range 2 {
		add := expression.Add(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("ttl"), expression.Value(ttl))
		cond := expression.Name("window_start").GreaterThan(expression.Value(cutoff))
		out, err := d.updateCounter(ctx, keyID, ip, add, cond)
		if err == nil {
			return counterResult(out)
		}
		if !errors.Is(err, errCondition) {
			return 0, time.Time{}, err
		}
		open := expression.Set(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("window_start"), expression.Value(now.Unix())).
			Set(expression.Name("ttl"), expression.Value(ttl))
		cond = expression.AttributeNotExists(expression.Name("window_start")).
			Or(expression.Name("window_start").LessThanEqual(expression.Value(cutoff)))
		out, err = d.updateCounter(ctx, keyID, ip, open, cond)
		if err == nil {
			return counterResult(out)
		}
		if !errors.Is(err, errCondition) {
			return 0, time.Time{}, err
		}
		// Another instance opened the window between the two writes: add to it.
	}
	return 0, time.Time{}, errors.New("lockout: counter kept changing")
}

// LockPair sets the lock of (keyID, ip) to end at until, unless a lock is running at
// now; the counter then lives window past the lock. It reports whether this call set it.
func (d *Dynamo) LockPair(ctx context.Context, keyID, ip string, now, until time.Time, window time.Duration) (bool, error) {
	set := expression.Set(expression.Name("locked_until"), expression.Value(until.Unix())).
		Set(expression.Name("ttl"), expression.Value(until.Add(window).Unix()))
	cond := expression.AttributeNotExists(expression.Name("locked_until")).
		Or(expression.Name("locked_until").LessThanEqual(expression.Value(now.Unix())))
	_, err := d.updateCounter(ctx, keyID, ip, set, cond)
	if errors.Is(err, errCondition) {
		return false, nil
	}
	return err == nil, err
}

func (d *Dynamo) updateCounter(ctx context.Context, keyID, ip string, u expression.UpdateBuilder, c expression.ConditionBuilder) (*dynamodb.UpdateItemOutput, error) {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(c).Build()
	if err != nil {
		return nil, fmt.Errorf("lockout: build update: %w", err)
	}
	out, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       primary(lockoutPK(keyID, ip), lockoutSK),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil, errCondition
	}
	if err != nil {
		return nil, fmt.Errorf("lockout: update counter: %w", err)
	}
	return out, nil
}

func counterResult(out *dynamodb.UpdateItemOutput) (int64, time.Time, error) {
	num := func(name string) (int64, error) {
		v, ok := out.Attributes[name].(*types.AttributeValueMemberN)
		if !ok {
			return 0, nil
		}
		return strconv.ParseInt(v.Value, 10, 64)
	}
	n, err := num("n")
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("lockout: counter: %w", err)
	}
	until, err := num("locked_until")
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("lockout: locked_until: %w", err)
	}
	var t time.Time
	if until > 0 {
		t = time.Unix(until, 0)
	}
	return n, t, nil
}
