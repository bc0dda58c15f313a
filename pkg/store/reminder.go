package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// A reminder marker (pk=KEY#<id>, sk=REMINDER#<name>) makes one reminder of the
// sweeper exactly-once: it is put once, pending and in the due index under a lease,
// and becomes sent (leaving the index) once delivered.
const reminderSKPrefix = "REMINDER#"

// Reminder marker states.
const (
	ReminderPending = "pending"
	ReminderSent    = "sent"
)

// ExpiryReminderName names the expiry reminder of a key expiring at expires, with
// secret version secretN, for offset days before: a new expiry or secret re-arms it.
func ExpiryReminderName(expires time.Time, secretN int64, offset int) string {
	return fmt.Sprintf("EXPIRY#%s#v%d#%dd", expires.UTC().Format(time.RFC3339Nano), secretN, offset)
}

// StaleReminderName names the stale notice of the idle period that began at idleSince.
func StaleReminderName(idleSince time.Time) string {
	return "STALE#" + idleSince.UTC().Format(time.RFC3339Nano)
}

// ReminderMarker is a reminder's marker item.
type ReminderMarker struct {
	KeyID     string    `dynamodbav:"key_id"`
	Name      string    `dynamodbav:"-"` // the sort key after REMINDER# (ExpiryReminderName, StaleReminderName)
	Kind      string    `dynamodbav:"kind"`
	State     string    `dynamodbav:"state"`
	Detail    string    `dynamodbav:"detail"` // the payload, replayed verbatim by a retry
	Run       string    `dynamodbav:"run"`    // the sweep run that holds the lease
	EBSent    bool      `dynamodbav:"eb_sent"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	SentAt    time.Time `dynamodbav:"sent_at,omitempty"`
	// LeaseUntil is when a pending marker falls due again (due_at, epoch seconds).
	LeaseUntil int64 `dynamodbav:"due_at,omitempty"`
	TTL        int64 `dynamodbav:"ttl"`
}

func reminderKey(keyID, name string) map[string]types.AttributeValue {
	return primary(KeyPK(keyID), reminderSKPrefix+name)
}

// RecordReminder puts m, pending, with e, in one transaction that also checks that
// key k is stored at k.Version and not revoked, and, when sameUse, that its
// last_used_at is still k.LastUsedAt (absent if nil). It reports false if the marker
// exists already (the reminder is recorded), and ErrConflict if the key changed (or
// was used) or another write was in flight: decide again.
func (d *Dynamo) RecordReminder(ctx context.Context, k *Key, m *ReminderMarker, sameUse bool, e *Event) (bool, error) {
	item, err := attributevalue.MarshalMap(m)
	if err != nil {
		return false, err
	}
	for a, v := range reminderKey(k.ID, m.Name) {
		item[a] = v
	}
	if m.State == ReminderPending {
		item[AttrDuePK] = &types.AttributeValueMemberS{Value: DuePK(k.ID)}
	}
	check, err := d.keyCondition(k, sameUse)
	if err != nil {
		return false, err
	}
	ev, err := d.eventPut(e)
	if err != nil {
		return false, err
	}
	_, err = d.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: check},
		{Put: &types.Put{TableName: &d.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: ev},
	}})
	var tce *types.TransactionCanceledException
	var tcx *types.TransactionConflictException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &tce) && len(tce.CancellationReasons) == 3:
		if aws.ToString(tce.CancellationReasons[0].Code) != "ConditionalCheckFailed" &&
			aws.ToString(tce.CancellationReasons[1].Code) == "ConditionalCheckFailed" {
			return false, nil // recorded already
		}
		return false, ErrConflict // the key changed (or was used), or TransactionConflict
	case errors.As(err, &tcx):
		return false, ErrConflict
	}
	return false, fmt.Errorf("record reminder %s/%s: %w", k.ID, m.Name, err)
}

// keyCondition is the transaction check that k is stored at k.Version and not
// revoked, and, when sameUse, that its last_used_at is as read.
func (d *Dynamo) keyCondition(k *Key, sameUse bool) (*types.ConditionCheck, error) {
	cond := expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("version").Equal(expression.Value(k.Version))).
		And(expression.Name("status").NotEqual(expression.Value(StatusRevoked)))
	if sameUse {
		if k.LastUsedAt == nil {
			cond = cond.And(expression.AttributeNotExists(expression.Name("last_used_at")))
		} else {
			cond = cond.And(expression.Name("last_used_at").Equal(expression.Value(*k.LastUsedAt)))
		}
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	return &types.ConditionCheck{
		TableName:                 &d.table,
		Key:                       keyPrimary(k.ID),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}, nil
}

// ClaimReminder gives sweep run the lease of pending marker (keyID, name) until
// leaseUntil, if its lease is still the one read (leaseRead): ErrConflict if another
// run claimed it first, or it was sent.
func (d *Dynamo) ClaimReminder(ctx context.Context, keyID, name, run string, leaseRead int64, leaseUntil time.Time) error {
	u := expression.Set(expression.Name("run"), expression.Value(run)).
		Set(expression.Name(AttrDueAt), expression.Value(leaseUntil.Unix()))
	cond := expression.Name("state").Equal(expression.Value(ReminderPending)).
		And(expression.Name(AttrDueAt).Equal(expression.Value(leaseRead)))
	return d.updateMarker(ctx, keyID, name, u, cond)
}

// MarkReminderHalfSent records that the EventBridge half of marker (keyID, name) went
// out, while run holds its lease: ErrConflict otherwise.
func (d *Dynamo) MarkReminderHalfSent(ctx context.Context, keyID, name, run string) error {
	return d.updateMarker(ctx, keyID, name, expression.Set(expression.Name("eb_sent"), expression.Value(true)), leaseHeld(run))
}

// MarkReminderSent records marker (keyID, name) sent at now and takes it out of the
// due index, while run holds its lease: ErrConflict otherwise.
func (d *Dynamo) MarkReminderSent(ctx context.Context, keyID, name, run string, now time.Time) error {
	u := expression.Set(expression.Name("state"), expression.Value(ReminderSent)).
		Set(expression.Name("eb_sent"), expression.Value(true)).
		Set(expression.Name("sent_at"), expression.Value(now)).
		Remove(expression.Name(AttrDuePK)).Remove(expression.Name(AttrDueAt))
	return d.updateMarker(ctx, keyID, name, u, leaseHeld(run))
}

func leaseHeld(run string) expression.ConditionBuilder {
	return expression.Name("run").Equal(expression.Value(run)).And(expression.Name("state").Equal(expression.Value(ReminderPending)))
}

func (d *Dynamo) updateMarker(ctx context.Context, keyID, name string, u expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	_, err = d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.table,
		Key:                       reminderKey(keyID, name),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("update marker: %w", err)
	}
	return nil
}

// DueItem is one item of the due index: a key, or a reminder marker still pending.
// An item that does not decode has Err set (and PK, SK), so that it can be reported.
type DueItem struct {
	PK, SK string
	Key    *Key            // set for a key
	Marker *ReminderMarker // set for a reminder marker
	Err    error
}

// dueItem decodes one item of the due index; items of other kinds have neither
// Key nor Marker.
func dueItem(item map[string]types.AttributeValue) DueItem {
	str := func(a string) string {
		if s, ok := item[a].(*types.AttributeValueMemberS); ok {
			return s.Value
		}
		return ""
	}
	it := DueItem{PK: str("pk"), SK: str("sk")}
	switch {
	case it.SK == keySK:
		if it.Key, it.Err = unmarshalKey(item); it.Err != nil {
			it.Key, it.Err = nil, fmt.Errorf("unmarshal key: %w", it.Err)
		}
	case strings.HasPrefix(it.SK, reminderSKPrefix):
		var m ReminderMarker
		if err := attributevalue.UnmarshalMap(item, &m); err != nil {
			it.Err = fmt.Errorf("unmarshal marker: %w", err)
			break
		}
		m.Name = strings.TrimPrefix(it.SK, reminderSKPrefix)
		it.Marker = &m
	}
	return it
}

// duePageSize is the due index's page: a stopped sweep has read little it does not handle.
const duePageSize = 100

// DueItems reads every item of due shard pk (one of DueShardPKs) due at or before
// now, in due order, a page at a time: each page goes to page, and an error from
// page stops the read and is returned.
func (d *Dynamo) DueItems(ctx context.Context, pk string, now time.Time, page func([]DueItem) error) error {
	kc := expression.Key(AttrDuePK).Equal(expression.Value(pk)).
		And(expression.Key(AttrDueAt).LessThanEqual(expression.Value(now.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(d.db, &dynamodb.QueryInput{
		TableName:                 &d.table,
		IndexName:                 aws.String(DueIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(duePageSize),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		items := make([]DueItem, len(out.Items))
		for i, it := range out.Items {
			items[i] = dueItem(it)
		}
		if err := page(items); err != nil {
			return err
		}
	}
	return nil
}
