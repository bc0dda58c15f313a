package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/limits"
)

// Attributes of a key item that hold its limits (package limits) and their
// bookkeeping. ratelimit, remaining and refill are the API's fields, written by
// management writes; the others are written only by UseKey.
const (
	AttrRateLimit   = "ratelimit"   // map {limit, window_seconds}, absent or NULL: none
	AttrRemaining   = "remaining"   // number, absent or NULL: unlimited
	AttrRefill      = "refill"      // map {amount, every}, absent or NULL: none
	AttrRefilledAt  = "refilled_at" // number, epoch s: the refill period last refilled
	AttrWindowStart = "rl_window"   // number, epoch s: the window rl_count counts
	AttrWindowCount = "rl_count"    // number
	AttrUseMarks    = "use_marks"   // map slot → mark (limits.Use.Mark)
)

// useAttempts bounds how often UseKey plans again after its condition failed: each
// failure returns the item as it is, so only a window opening, a refill or a
// management write in between makes an attempt fail, and a few attempts suffice.
const useAttempts = 8

// limitItem is the part of a key item that package limits reads.
type limitItem struct {
	RateLimit   *limits.RateLimit `dynamodbav:"ratelimit"`
	Remaining   *int64            `dynamodbav:"remaining"`
	Refill      *limits.Refill    `dynamodbav:"refill"`
	RefilledAt  int64             `dynamodbav:"refilled_at"`
	WindowStart int64             `dynamodbav:"rl_window"`
	WindowCount int64             `dynamodbav:"rl_count"`
	Marks       map[string]string `dynamodbav:"use_marks"`
}

// LimitState decodes the limits of a key item (as read by GetItem or returned by an
// update). A NULL attribute reads as absent.
func LimitState(item map[string]types.AttributeValue) (*limits.State, error) {
	var li limitItem
	if err := attributevalue.UnmarshalMap(item, &li); err != nil {
		return nil, fmt.Errorf("unmarshal limits: %w", err)
	}
	return &limits.State{
		Settings:   limits.Settings{RateLimit: li.RateLimit, Remaining: li.Remaining, Refill: li.Refill},
		RefilledAt: li.RefilledAt, WindowStart: li.WindowStart, WindowCount: li.WindowCount, Marks: li.Marks,
	}, nil
}

// UseInput is one use of a key to count.
type UseInput struct {
	ID  string
	Use limits.Use
	// Hint is the key's limit state as last seen by this instance (the State of the
	// previous UseResult), or nil: with it the use is one UpdateItem; without, a
	// consistent GetItem comes first.
	Hint *limits.State
	// Hashes, when set, are the HMACs of the presented secret under each live pepper:
	// the use counts only if one of them is the key's current or previous secret, so
	// whoever knows a key id but not its secret cannot spend its credits or window.
	Hashes [][]byte
	// Previous: Hashes matched the key's previous secret (in its grace) in the
	// caller's view, not its current one. The use counts only if the item still holds
	// them in that place, so a view older than a rotation cannot spend with a secret
	// the rotation retired (as current, or past its grace as previous).
	Previous bool
	Now      time.Time
}

// UseResult is what came of a use, with the key as the same round trip returned it.
type UseResult struct {
	Key   *Key
	State *limits.State
	// Counted: the use was counted (now or by an earlier attempt of the same Use).
	Counted bool
	// Refused and RetryAfter are limits.Decision's, when the limits refused the use.
	Refused    string
	RetryAfter time.Time
	// NotLimited: the key has neither rate limit nor credits; nothing was written.
	// SecretMismatch: the key's item does not hold the presented secret, or the key
	// is revoked; nothing was counted and the caller's verification refuses it.
	NotLimited, SecretMismatch bool
}

// UseKey counts one use of key id against its credits and rate limit, in one
// conditional UpdateItem (ReturnValues ALL_NEW) that returns the key as GetItem
// would: remaining never goes below zero and a window never goes over its limit,
// whatever the concurrency, because the update's condition holds every part to the
// state it was planned from (see limits.Plan). A use is counted at most once: its
// mark (in its slot) makes any repeat of a counted attempt, such as an SDK retry of
// an UpdateItem whose answer was lost, fail its condition, and the failure returns
// the item, whose mark says the use was counted. So a caller may retry UseKey with
// the same Use after an error, as long as the use keeps its slot. A refusal from a
// hint is confirmed by a consistent read before it is answered. It is ErrNotFound
// if there is no key.
func (d *Dynamo) UseKey(ctx context.Context, in UseInput) (*UseResult, error) {
	state, fresh := in.Hint, false
	var key *Key
	for attempt := 0; attempt < useAttempts; attempt++ {
		if state == nil {
			var err error
			if key, state, err = d.readLimits(ctx, in.ID); err != nil {
				return nil, err
			}
			fresh = true
		}
		res, plan, reread := settle(key, state, fresh, in)
		if res != nil {
			return res, nil
		}
		if reread {
			state = nil
			continue
		}
		item, ok, err := d.applyUse(ctx, in, plan)
		if err != nil {
			return nil, err
		}
		if key, err = unmarshalKey(item); err != nil {
			return nil, fmt.Errorf("unmarshal key %s: %w", in.ID, err)
		}
		if state = key.UseState; state == nil { // decoded with the key when it has limits
			if state, err = LimitState(item); err != nil {
				return nil, err
			}
		}
		if ok {
			return &UseResult{Key: key, State: state, Counted: true}, nil
		}
		fresh = true // the failed condition returned the item as it is now
	}
	return nil, fmt.Errorf("use key %s: %w", in.ID, ErrConflict)
}

// settle is what UseKey does next with key and state (fresh: read in this call):
// answer res, or write plan, or read the key again (reread) because a hint alone
// cannot settle a refusal, a key without limits or a use seen as counted.
func settle(key *Key, state *limits.State, fresh bool, in UseInput) (res *UseResult, plan *limits.Plan, reread bool) {
	if fresh && !secretMatches(key, in.Hashes, in.Previous) {
		return &UseResult{Key: key, State: state, SecretMismatch: true}, nil, false
	}
	dec := limits.Decide(state, in.Use, in.Now)
	switch {
	case !fresh && (dec.Counted || dec.Refused != "" || !state.Limited()):
		return nil, nil, true
	case dec.Counted:
		return &UseResult{Key: key, State: state, Counted: true}, nil, false
	case dec.Refused != "":
		return &UseResult{Key: key, State: state, Refused: dec.Refused, RetryAfter: dec.RetryAfter}, nil, false
	case !state.Limited():
		return &UseResult{Key: key, State: state, NotLimited: true}, nil, false
	}
	return nil, dec.Plan, false
}

// readLimits reads key id consistently, with its limits.
func (d *Dynamo) readLimits(ctx context.Context, id string) (*Key, *limits.State, error) {
	out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &d.table, Key: keyPrimary(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, nil, fmt.Errorf("get key %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, nil, ErrNotFound
	}
	k, err := unmarshalKey(out.Item)
	if err != nil {
		return nil, nil, fmt.Errorf("unmarshal key %s: %w", id, err)
	}
	if k.UseState != nil { // decoded with the key when it has limits
		return k, k.UseState, nil
	}
	s, err := LimitState(out.Item)
	return k, s, err
}

// secretMatches reports whether k is not revoked and, when hashes are given, holds
// one of them as its current secret (as its previous one, with previous).
func secretMatches(k *Key, hashes [][]byte, previous bool) bool {
	if k.Status == StatusRevoked {
		return false
	}
	if len(hashes) == 0 {
		return true
	}
	held := k.Secret.Hash
	if previous {
		if k.Previous == nil {
			return false
		}
		held = k.Previous.Hash
	}
	for _, h := range hashes {
		if bytes.Equal(held, h) {
			return true
		}
	}
	return false
}

// applyUse writes plan p. It returns the item after the write and true, or the item
// as it is and false when the condition failed (ErrNotFound if there is no item).
// A write in flight on the item (a transaction) is waited out and tried again.
func (d *Dynamo) applyUse(ctx context.Context, in UseInput, p *limits.Plan) (map[string]types.AttributeValue, bool, error) {
	expr, err := useExpression(p, in.Hashes, in.Previous)
	if err != nil {
		return nil, false, fmt.Errorf("build use of %s: %w", in.ID, err)
	}
	req := &dynamodb.UpdateItemInput{
		TableName:                           &d.table,
		Key:                                 keyPrimary(in.ID),
		UpdateExpression:                    &expr.update,
		ConditionExpression:                 &expr.condition,
		ExpressionAttributeNames:            expr.names,
		ExpressionAttributeValues:           expr.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	for wait := 5 * time.Millisecond; ; wait *= 2 {
		out, err := d.db.UpdateItem(ctx, req)
		var ccf *types.ConditionalCheckFailedException
		var tcx *types.TransactionConflictException
		switch {
		case err == nil:
			return out.Attributes, true, nil
		case errors.As(err, &ccf) && len(ccf.Item) == 0:
			return nil, false, ErrNotFound
		case errors.As(err, &ccf):
			return ccf.Item, false, nil
		case !errors.As(err, &tcx) || wait > time.Second:
			return nil, false, fmt.Errorf("use key %s: %w", in.ID, err)
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// useExpression is plan p as one update and its condition: each part of the plan
// sets its attributes on condition that the item is still in the state the part was
// planned from (see limits.CreditStep and limits.WindowStep).
func useExpression(p *limits.Plan, hashes [][]byte, previous bool) (useExpr, error) {
	o := &operands{}
	u, c := creditUpdate(o, expression.UpdateBuilder{}, p.Credit)
	u, wc := windowUpdate(o, u, p.Window)
	c = c.And(wc)
	c = c.And(expression.AttributeExists(expression.Name("pk"))).
		And(expression.Name("status").NotEqual(o.val(StatusRevoked)))
	if len(hashes) > 0 {
		c = c.And(hashCondition(o, hashes, previous))
	}
	u, c = markUpdate(o, u, c, p)
	return cachedExpression("key:"+planShape(p)+":"+strconv.Itoa(len(hashes))+":"+strconv.FormatBool(previous), o, u, c)
}

// planShape is what the text of plan p's update depends on: which parts it has, and
// how many stale marks it removes.
func planShape(p *limits.Plan) string {
	var b strings.Builder
	switch c := p.Credit; {
	case c == nil:
		b.WriteString("c-")
	case c.Refill:
		b.WriteString("cR")
	case c.Every == "":
		b.WriteString("c0")
	default:
		b.WriteString("cE")
	}
	switch w := p.Window; {
	case w == nil:
		b.WriteString("w-")
	case w.New:
		b.WriteString("wN")
	default:
		b.WriteString("w+")
	}
	if p.NewMarks {
		b.WriteString("m")
	}
	b.WriteString(strconv.Itoa(len(p.Prune)))
	return b.String()
}

// markUpdate adds plan p's mark, and the removal of the stale marks it names, to u
// and c: marks.<slot> = mark on condition that it is not the mark already, each
// stale mark removed on condition that it is still as read.
func markUpdate(o *operands, u expression.UpdateBuilder, c expression.ConditionBuilder, p *limits.Plan) (expression.UpdateBuilder, expression.ConditionBuilder) {
	marks := expression.Name(AttrUseMarks)
	if p.NewMarks {
		// No map yet (or an empty one, which decodes as none): the use creates it.
		none := expression.Or(absent(marks), marks.Size().Equal(o.val(0)))
		return u.Set(marks, o.val(map[string]string{p.Slot: p.Mark})), c.And(none)
	}
	own := marks.AppendName(o.name(p.Slot))
	u = u.Set(own, o.val(p.Mark))
	c = c.And(expression.Or(expression.AttributeNotExists(own), own.NotEqual(o.val(p.Mark))))
	for _, slot := range sortedKeys(p.Prune) {
		old := marks.AppendName(o.name(slot))
		u = u.Remove(old)
		c = c.And(old.Equal(o.val(p.Prune[slot])))
	}
	return u, c
}

// absent is the condition that attribute n is absent or NULL.
func absent(n expression.NameBuilder) expression.ConditionBuilder {
	return expression.Or(expression.AttributeNotExists(n), expression.AttributeType(n, expression.Null))
}

func creditUpdate(o *operands, u expression.UpdateBuilder, s *limits.CreditStep) (expression.UpdateBuilder, expression.ConditionBuilder) {
	remaining, refill := expression.Name(AttrRemaining), expression.Name(AttrRefill)
	refilledAt := expression.Name(AttrRefilledAt)
	switch {
	case s == nil:
		return u, absent(remaining)
	case s.Refill:
		amount := expression.Name(AttrRefill + ".amount")
		u = u.Set(remaining, amount.Minus(o.val(s.Cost))).Set(refilledAt, o.val(s.Period))
		c := expression.Or(expression.AttributeNotExists(refilledAt), refilledAt.LessThan(o.val(s.Period))).
			And(expression.Name(AttrRefill + ".every").Equal(o.val(s.Every))).
			And(amount.GreaterThanEqual(o.val(s.Cost))).
			And(expression.AttributeType(remaining, expression.Number))
		return u, c
	}
	u = u.Set(remaining, remaining.Minus(o.val(s.Cost)))
	c := remaining.GreaterThanEqual(o.val(s.Cost))
	if s.Every == "" {
		return u, c.And(absent(refill))
	}
	return u, c.And(refilledAt.GreaterThanEqual(o.val(s.Period))).
		And(expression.Name(AttrRefill + ".every").Equal(o.val(s.Every)))
}

func windowUpdate(o *operands, u expression.UpdateBuilder, w *limits.WindowStep) (expression.UpdateBuilder, expression.ConditionBuilder) {
	rl := expression.Name(AttrRateLimit)
	if w == nil {
		return u, absent(rl)
	}
	start, count := expression.Name(AttrWindowStart), expression.Name(AttrWindowCount)
	same := expression.Name(AttrRateLimit + ".limit").Equal(o.val(w.Limit)).
		And(expression.Name(AttrRateLimit + ".window_seconds").Equal(o.val(w.WindowSeconds)))
	if w.New {
		u = u.Set(start, o.val(w.Start)).Set(count, o.val(w.Cost))
		return u, same.And(expression.Or(expression.AttributeNotExists(start), start.LessThan(o.val(w.Start))))
	}
	u = u.Set(count, count.Plus(o.val(w.Cost)))
	return u, same.And(start.Equal(o.val(w.Start))).
		And(count.LessThanEqual(o.val(w.Limit - w.Cost)))
}

// hashCondition: the item's current or previous secret is one of hashes.
func hashCondition(o *operands, hashes [][]byte, previous bool) expression.ConditionBuilder {
	name := expression.Name("secret.hash")
	if previous {
		name = expression.Name("previous.hash")
	}
	vals := make([]expression.OperandBuilder, 0, len(hashes)-1)
	for _, h := range hashes[1:] {
		vals = append(vals, o.val(h))
	}
	return name.In(o.val(hashes[0]), vals...)
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// Usage counts (package limits' Counter): one item per key, UTC day and writer,
//
//	usage  pk=KEY#<id>  sk=USAGE#<day>#<writer>  accepted, refused (code → n), seq, ttl
//
// each holding the writer's whole count for that key and day. A day is the sum of its
// items. A write replaces its item only with a higher seq, so repeating a write, or
// one arriving after a newer one, changes nothing.
const usageSK = "USAGE#"

// UsageRetention is how long a day's usage counts are kept (DynamoDB TTL).
const UsageRetention = 100 * 24 * time.Hour

// PutUsageCount stores one writer's count of a key on a day (see limits.CountWrite).
// A write with a seq not above the stored one is a no-op, not an error.
func (d *Dynamo) PutUsageCount(ctx context.Context, w limits.CountWrite) error {
	day, err := time.Parse(time.DateOnly, w.Day)
	if err != nil {
		return fmt.Errorf("usage count of %s: bad day %q", w.KeyID, w.Day)
	}
	refused := w.Tally.Refused
	if refused == nil {
		refused = map[string]int64{}
	}
	item, err := attributevalue.MarshalMap(map[string]any{
		"pk": KeyPK(w.KeyID), "sk": usageSK + w.Day + "#" + w.Instance,
		"accepted": w.Tally.Accepted, "refused": refused, "seq": w.Seq,
		"ttl": day.Add(UsageRetention).Unix(),
	})
	if err != nil {
		return fmt.Errorf("marshal usage count: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.Or(
		expression.AttributeNotExists(expression.Name("pk")),
		expression.Name("seq").LessThan(expression.Value(w.Seq)))).Build()
	if err != nil {
		return fmt.Errorf("build usage count: %w", err)
	}
	_, err = d.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &d.table, Item: item, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("put usage count of %s: %w", w.KeyID, err)
	}
	return nil
}

// UsageByDay returns key id's counts for each UTC day from..to (2006-01-02, both
// included) that has any, summed over writers.
func (d *Dynamo) UsageByDay(ctx context.Context, id, from, to string) (map[string]limits.Tally, error) {
	// '~' sorts after '#' and every character of a writer, so the range ends after
	// every item of day to.
	kc := expression.Key("pk").Equal(expression.Value(KeyPK(id))).
		And(expression.Key("sk").Between(expression.Value(usageSK+from), expression.Value(usageSK+to+"~")))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build usage query: %w", err)
	}
	out := map[string]limits.Tally{}
	p := dynamodb.NewQueryPaginator(d.db, &dynamodb.QueryInput{
		TableName: &d.table, KeyConditionExpression: expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query usage of %s: %w", id, err)
		}
		for _, item := range page.Items {
			var u struct {
				SK string `dynamodbav:"sk"`
				limits.Tally
			}
			if err := attributevalue.UnmarshalMap(item, &u); err != nil {
				return nil, fmt.Errorf("unmarshal usage of %s: %w", id, err)
			}
			day := strings.TrimPrefix(u.SK, usageSK)
			if len(day) < len(time.DateOnly) {
				continue // not an item this store writes
			}
			day = day[:len(time.DateOnly)]
			t := out[day]
			t.Add(u.Tally)
			out[day] = t
		}
	}
	return out, nil
}
