package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/limits"
)

// Owner limits: one item per owner that has any,
//
//	limits  pk=OWNER#<owner>  sk=LIMITS  ratelimit, rl_window, rl_count, use_marks
//
// holding the rate limit shared by the owner's keys and its window, counted as a
// key's own window is (UseOwner), so an owner's window is as exact as a key's.
const ownerLimitsSK = "LIMITS"

func ownerLimitsPrimary(owner string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: ownerPK(owner)},
		"sk": &types.AttributeValueMemberS{Value: ownerLimitsSK},
	}
}

// PutOwnerLimits sets owner's limits; a nil RateLimit removes the item (the owner
// then pays nothing extra). A changed rate limit keeps the current window's count.
func (d *Dynamo) PutOwnerLimits(ctx context.Context, owner string, l limits.OwnerLimits) error {
	if l.RateLimit == nil {
		_, err := d.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.table, Key: ownerLimitsPrimary(owner)})
		if err != nil {
			return fmt.Errorf("delete limits of %s: %w", owner, err)
		}
		return nil
	}
	expr, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name(AttrRateLimit), expression.Value(l.RateLimit))).Build()
	if err != nil {
		return fmt.Errorf("build owner limits: %w", err)
	}
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: ownerLimitsPrimary(owner), UpdateExpression: expr.Update(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return fmt.Errorf("put limits of %s: %w", owner, err)
	}
	return nil
}

// OwnerLimits returns owner's limits and window state, read consistently; an owner
// without limits has a zero State (no RateLimit), not ErrNotFound.
func (d *Dynamo) OwnerLimits(ctx context.Context, owner string) (*limits.State, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: ownerLimitsPrimary(owner), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get limits of %s: %w", owner, err)
	}
	if out.Item == nil {
		return &limits.State{}, nil
	}
	return LimitState(out.Item)
}

// UseOwner counts one use against owner's shared rate limit, in one conditional
// UpdateItem when hint (the State of this instance's previous UseOwner of the owner)
// is given, as UseKey counts a key's window: never over the limit, never twice for
// one Use. An owner without limits costs one read (or none after a hint said so:
// the caller may skip the call for owners it knows to have none).
func (d *Dynamo) UseOwner(ctx context.Context, owner string, u limits.Use, hint *limits.State, now time.Time) (*UseResult, error) {
	state, fresh := hint, false
	for attempt := 0; attempt < useAttempts; attempt++ {
		if state == nil {
			var err error
			if state, err = d.OwnerLimits(ctx, owner); err != nil {
				return nil, err
			}
			fresh = true
		}
		dec := limits.Decide(state, u, now)
		switch {
		case !fresh && (dec.Counted || dec.Refused != "" || !state.Limited()):
			state = nil // confirmed by a read
			continue
		case dec.Counted:
			return &UseResult{State: state, Counted: true}, nil
		case dec.Refused != "":
			return &UseResult{State: state, Refused: dec.Refused, RetryAfter: dec.RetryAfter}, nil
		case !state.Limited():
			return &UseResult{State: state, NotLimited: true}, nil
		}
		item, ok, err := d.applyOwnerUse(ctx, owner, dec.Plan)
		if err != nil {
			return nil, err
		}
		if state, err = LimitState(item); err != nil {
			return nil, err
		}
		if ok {
			return &UseResult{State: state, Counted: true}, nil
		}
		fresh = true
	}
	return nil, fmt.Errorf("use owner %s: %w", owner, ErrConflict)
}

// applyOwnerUse writes plan p (a window part only) on owner's limits item: the item
// after the write and true, or the item as it is and false when the condition failed
// (an item removed meanwhile reads as an owner without limits).
func (d *Dynamo) applyOwnerUse(ctx context.Context, owner string, p *limits.Plan) (map[string]types.AttributeValue, bool, error) {
	o := &operands{}
	u, c := windowUpdate(o, expression.UpdateBuilder{}, p.Window)
	u, c = markUpdate(o, u, c, p)
	expr, err := cachedExpression("owner:"+planShape(p), o, u, c.And(expression.AttributeExists(expression.Name("pk"))))
	if err != nil {
		return nil, false, fmt.Errorf("build use of owner %s: %w", owner, err)
	}
	out, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: ownerLimitsPrimary(owner), UpdateExpression: &expr.update,
		ConditionExpression: &expr.condition, ExpressionAttributeNames: expr.names,
		ExpressionAttributeValues: expr.values, ReturnValues: types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return out.Attributes, true, nil
	case errors.As(err, &ccf):
		if ccf.Item == nil {
			return map[string]types.AttributeValue{}, false, nil
		}
		return ccf.Item, false, nil
	}
	return nil, false, fmt.Errorf("use owner %s: %w", owner, err)
}

// Owner events: an event about an owner rather than a key (owner.limits_updated),
//
//	owner event  pk=OWNER#<owner>  sk=EV#<evid>
//
// with an event's attributes and audit index entries, and no key_id: it is in the
// audit log (and the owner-narrowed one), in no key's trail.
// SetOwnerLimits sets owner's limits as PutOwnerLimits does and records e (an owner
// event: e.Owner is owner, e.KeyID empty) in the same transaction, so the audit log
// holds every change of an owner's limits and no change that did not happen.
func (d *Dynamo) SetOwnerLimits(ctx context.Context, owner string, l limits.OwnerLimits, e *Event) error {
	e.KeyID, e.Owner = "", owner
	ev, err := d.eventPut(e)
	if err != nil {
		return err
	}
	ev.Item["pk"] = &types.AttributeValueMemberS{Value: ownerPK(owner)}
	change := types.TransactWriteItem{Delete: &types.Delete{TableName: &d.table, Key: ownerLimitsPrimary(owner)}}
	if l.RateLimit != nil {
		expr, err := expression.NewBuilder().WithUpdate(expression.Set(expression.Name(AttrRateLimit), expression.Value(l.RateLimit))).Build()
		if err != nil {
			return fmt.Errorf("build owner limits: %w", err)
		}
		change = types.TransactWriteItem{Update: &types.Update{
			TableName: &d.table, Key: ownerLimitsPrimary(owner), UpdateExpression: expr.Update(),
			ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		}}
	}
	_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{change, {Put: ev}}})
	if err == nil {
		return nil
	}
	var tce *types.TransactionCanceledException
	var tcx *types.TransactionConflictException
	if errors.As(err, &tcx) || errors.As(err, &tce) && len(tce.CancellationReasons) > 0 &&
		aws.ToString(tce.CancellationReasons[0].Code) == "TransactionConflict" {
		// Another write on the item at the same moment (a use counting its window).
		return ErrConflict
	}
	return fmt.Errorf("set limits of %s: %w", owner, err)
}
