package sweeper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/store"
)

// Store is what the sweeper needs of the key store.
type Store interface {
	// GetKey returns the key read consistently, or store.ErrNotFound.
	GetKey(ctx context.Context, id string) (*store.Key, error)
	// UpdateKeyScheduled writes k (Version = stored+1) with its event and schedule;
	// store.ErrConflict if the stored version moved or the key is revoked.
	UpdateKeyScheduled(ctx context.Context, k *store.Key, s store.Schedule, e *store.Event) error
	// SetSchedule writes only the schedule, if the stored version is still version.
	SetSchedule(ctx context.Context, id string, version int64, s store.Schedule) error
	// KeyCondition is a transaction condition: key id at version, not revoked, and extra.
	KeyCondition(id string, version int64, extra *expression.ConditionBuilder) (*types.ConditionCheck, error)
	// EventPut is the transaction put that records an event.
	EventPut(e *store.Event) (*types.Put, error)
	// Table is the table name; DB the client, for the marker items and the due index.
	Table() string
	DB() store.API
}

var _ Store = (*store.Dynamo)(nil)

// Actor is the actor of the events the sweeper records.
const Actor = "sweeper"

// Sweeper runs sweeps. It is safe for concurrent use, and for concurrent runs.
type Sweeper struct {
	store Store
	pub   Publisher
	cfg   Config
	log   *slog.Logger
	// Clock is the wall clock; tests replace it.
	Clock func() time.Time
	// beforeItem, when set (tests), runs before each item is handled.
	beforeItem func()
}

// New returns a sweeper.
func New(s Store, p Publisher, cfg Config, log *slog.Logger) *Sweeper {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	return &Sweeper{store: s, pub: p, cfg: cfg, log: log, Clock: time.Now}
}

// Result is what one run did.
type Result struct {
	Now               time.Time `json:"now"`
	ItemsRead         int64     `json:"items_read"` // items returned by the due index
	Keys              int64     `json:"keys"`       // keys examined (including re-reads after a lost race)
	Expired           int64     `json:"expired"`
	RotationsFinished int64     `json:"rotations_finished"`
	ExpiryReminders   int64     `json:"expiry_reminders"` // recorded by this run
	StaleReminders    int64     `json:"stale_reminders"`  // recorded by this run
	Delivered         int64     `json:"delivered"`        // reminders that reached both channels
	Resumed           int64     `json:"resumed"`          // pending reminders of earlier runs taken up
	Purgeable         int64     `json:"purgeable"`        // keys given a purge time
	Failed            int64     `json:"failed"`           // items left for the next run after an error
	Stopped           bool      `json:"stopped"`          // stopped at the deadline with work left
}

// Handle is the Lambda handler for the scheduled event. The event carries nothing the
// sweep needs: a duplicated delivery is just another, harmless, run.
func (s *Sweeper) Handle(ctx context.Context, _ events.EventBridgeEvent) (Result, error) {
	return s.Run(ctx)
}

// Run sweeps once: every due item, until done or Margin before ctx's deadline.
func (s *Sweeper) Run(ctx context.Context) (Result, error) {
	now := s.cfg.Now
	if now.IsZero() {
		now = s.Clock()
	}
	now = now.UTC()
	r := &run{s: s, now: now, id: runID(), res: Result{Now: now}}
	stopAt, hasDeadline := ctx.Deadline()
	stopAt = stopAt.Add(-s.cfg.Margin)
	late := func() bool { return hasDeadline && !s.Clock().Before(stopAt) }

	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan map[string]types.AttributeValue, s.cfg.Concurrency)
	var (
		qwg      sync.WaitGroup
		queryErr error
		errOnce  sync.Once
	)
	for _, pk := range store.DueShardPKs() {
		qwg.Add(1)
		go func() {
			defer qwg.Done()
			if err := r.query(qctx, pk, items); err != nil && qctx.Err() == nil {
				errOnce.Do(func() { queryErr = err })
			}
		}()
	}
	go func() { qwg.Wait(); close(items) }()

	var stopped atomic.Bool
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for item := range items {
				if stopped.Load() || late() {
					stopped.Store(true)
					cancel()
					continue // drain: the rest stays due for the next run
				}
				if s.beforeItem != nil {
					s.beforeItem()
				}
				if err := r.item(ctx, item); err != nil {
					r.count(func(res *Result) { res.Failed++ })
					s.log.Error("sweep item failed; it stays due", "pk", str(item["pk"]), "sk", str(item["sk"]), "err", err)
				}
			}
		}()
	}
	wg.Wait()
	res := r.result()
	res.Stopped = stopped.Load()
	s.log.Info("sweep", "result", res)
	if queryErr != nil {
		return res, fmt.Errorf("query due index: %w", queryErr)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d due items failed and stay due", res.Failed)
	}
	return res, nil
}

// run is one sweep's state.
type run struct {
	s   *Sweeper
	now time.Time
	id  string
	mu  sync.Mutex
	res Result
}

func (r *run) result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.res
}

func (r *run) count(f func(*Result)) {
	r.mu.Lock()
	f(&r.res)
	r.mu.Unlock()
}

func runID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// query sends every item of shard pk due at r.now, in due order.
func (r *run) query(ctx context.Context, pk string, out chan<- map[string]types.AttributeValue) error {
	kc := expression.Key(store.AttrDuePK).Equal(expression.Value(pk)).
		And(expression.Key(store.AttrDueAt).LessThanEqual(expression.Value(r.now.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(r.s.store.DB(), &dynamodb.QueryInput{
		TableName:                 aws.String(r.s.store.Table()),
		IndexName:                 aws.String(store.DueIndex),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(100), // pages of 100: a stopped run has read little it does not handle
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		r.count(func(res *Result) { res.ItemsRead += int64(len(page.Items)) })
		for _, it := range page.Items {
			select {
			case out <- it:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// item handles one due item: a key, or a reminder still pending from an earlier run.
func (r *run) item(ctx context.Context, item map[string]types.AttributeValue) error {
	sk := str(item["sk"])
	switch {
	case sk == "KEY":
		k, err := store.KeyFromItem(item)
		if err != nil {
			return fmt.Errorf("unmarshal key: %w", err)
		}
		return r.key(ctx, k)
	case strings.HasPrefix(sk, "REMINDER#"):
		return r.resume(ctx, item)
	}
	return nil
}

// maxAttempts bounds the re-read loop on a key that keeps changing under the sweep;
// what is left stays due for the next run.
const maxAttempts = 5

// key visits one key, re-reading it after a lost race. k may come from the index (an
// eventually consistent copy): every write is conditional on its version.
func (r *run) key(ctx context.Context, k *store.Key) error {
	for attempt := 0; ; attempt++ {
		r.count(func(res *Result) { res.Keys++ })
		err := r.visit(ctx, k)
		if !errors.Is(err, store.ErrConflict) {
			if errors.Is(err, store.ErrNotFound) {
				return nil // deleted meanwhile: nothing is due
			}
			return err
		}
		if attempt+1 >= maxAttempts {
			return fmt.Errorf("key %s: %w after %d attempts", k.ID, err, maxAttempts)
		}
		if k, err = r.s.store.GetKey(ctx, k.ID); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func (r *run) event(typ string, k *store.Key, detail map[string]any) *store.Event {
	return &store.Event{Time: r.now, Type: typ, KeyID: k.ID, Owner: k.Owner, Actor: Actor, Detail: detail}
}

// visit decides and writes everything due on k at r.now.
func (r *run) visit(ctx context.Context, k *store.Key) error {
	cfg := r.s.cfg
	now := r.now
	if k.Status == store.StatusRevoked {
		// Revoke is the last write a key gets (UpdatedAt is its time): purge after retention.
		r.count(func(res *Result) { res.Purgeable++ })
		return r.s.store.SetSchedule(ctx, k.ID, k.Version, store.Schedule{PurgeAt: k.UpdatedAt.Add(cfg.KeyRetention)})
	}
	if !now.Before(k.ExpiresAt) {
		purge := store.Schedule{PurgeAt: k.ExpiresAt.Add(cfg.KeyRetention)}
		if k.Status == store.StatusExpired && k.Previous == nil {
			r.count(func(res *Result) { res.Purgeable++ })
			return r.s.store.SetSchedule(ctx, k.ID, k.Version, purge)
		}
		detail := map[string]any{"expires_at": k.ExpiresAt}
		if k.Previous != nil {
			detail["dropped_secret_version"] = k.Previous.N
		}
		k.Status, k.Previous = store.StatusExpired, nil
		k.Version++
		k.UpdatedAt = now
		detail["version"] = k.Version
		if err := r.s.store.UpdateKeyScheduled(ctx, k, purge, r.event(store.EventKeyExpired, k, detail)); err != nil {
			return err
		}
		r.count(func(res *Result) { res.Expired++; res.Purgeable++ })
		return nil
	}

	// Reminders first: they check k's version, so they go before any write that bumps it.
	if off, ok := dueOffset(k.ExpiresAt, now, cfg.Offsets); ok {
		daysLeft := int(k.ExpiresAt.Sub(now) / day)
		rem := r.reminder(k, KindExpiry)
		rem.DaysLeft, rem.OffsetDays = ptr(daysLeft), ptr(off)
		detail := map[string]any{"offset_days": off, "days_left": daysLeft, "expires_at": k.ExpiresAt, "secret_version": k.Secret.N}
		if err := r.remind(ctx, k, rem, expiryMarkerSK(k.ExpiresAt, k.Secret.N, off), nil, store.EventExpiryReminder, detail); err != nil {
			return err
		}
	}
	if idle := idleSince(k); cfg.StaleAfter > 0 && !now.Before(idle.Add(cfg.StaleAfter)) {
		idleDays := int(now.Sub(idle) / day)
		rem := r.reminder(k, KindStale)
		rem.IdleSince, rem.IdleDays, rem.StaleAfterDays = ptr(idle), ptr(idleDays), ptr(int(cfg.StaleAfter/day))
		// The idle period must be the one read: a use since then (last_used_at has its
		// own writer, which does not bump version) cancels the notice.
		var used expression.ConditionBuilder
		if k.LastUsedAt == nil {
			used = expression.AttributeNotExists(expression.Name("last_used_at"))
		} else {
			used = expression.Name("last_used_at").Equal(expression.Value(*k.LastUsedAt))
		}
		detail := map[string]any{"idle_since": idle, "idle_days": idleDays, "stale_after_days": int(cfg.StaleAfter / day)}
		if err := r.remind(ctx, k, rem, staleMarkerSK(idle), &used, store.EventStaleReminder, detail); err != nil {
			return err
		}
	}

	if k.Previous != nil && !now.Before(k.Previous.ExpiresAt) {
		n := k.Previous.N
		k.Previous = nil
		if k.Status == store.StatusRotating {
			k.Status = store.StatusActive
		}
		k.Version++
		k.UpdatedAt = now
		ev := r.event(store.EventKeyRotationFinished, k, map[string]any{"dropped_secret_version": n, "by": Actor, "version": k.Version})
		if err := r.s.store.UpdateKeyScheduled(ctx, k, r.next(k), ev); err != nil {
			return err
		}
		r.count(func(res *Result) { res.RotationsFinished++ })
		return nil
	}
	return r.s.store.SetSchedule(ctx, k.ID, k.Version, r.next(k))
}

// dueOffset returns the smallest offset whose reminder instant has passed before
// expires: a sweep that finds both the 14- and the 7-day reminder due sends the 7-day one.
func dueOffset(expires, now time.Time, offsets []int) (int, bool) {
	best, ok := 0, false
	for _, d := range offsets {
		if !now.Before(expires.Add(-time.Duration(d) * day)) {
			best, ok = d, true // offsets are largest first: the last match is the smallest
		}
	}
	return best, ok
}

func idleSince(k *store.Key) time.Time {
	if k.LastUsedAt != nil && k.LastUsedAt.After(k.CreatedAt) {
		return *k.LastUsedAt
	}
	return k.CreatedAt
}

// next is k's schedule after a visit at r.now: the earliest instant after now at which
// something about a live key falls due.
func (r *run) next(k *store.Key) store.Schedule {
	cfg := r.s.cfg
	var due time.Time
	consider := func(t time.Time) {
		if t.After(r.now) && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	consider(k.ExpiresAt)
	if k.Previous != nil {
		consider(k.Previous.ExpiresAt)
	}
	for _, d := range cfg.Offsets {
		consider(k.ExpiresAt.Add(-time.Duration(d) * day))
	}
	if cfg.StaleAfter > 0 {
		if t := idleSince(k).Add(cfg.StaleAfter); t.After(r.now) {
			consider(t)
		} else {
			// This idle period was reported; a new one cannot end before a use after now.
			consider(r.now.Add(cfg.StaleAfter))
		}
	}
	return store.Schedule{DueAt: due}
}

func (r *run) reminder(k *store.Key, kind string) *Reminder {
	return &Reminder{
		Kind: kind, KeyID: k.ID, Name: k.Name, Owner: k.Owner, Start: k.Start, Status: k.EffectiveStatus(r.now),
		SecretVersion: k.Secret.N, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		SweptAt: r.now,
	}
}

// marker is a reminder's marker item.
type marker struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	Kind      string    `dynamodbav:"kind"`
	KeyID     string    `dynamodbav:"key_id"`
	State     string    `dynamodbav:"state"`
	Detail    string    `dynamodbav:"detail"` // the Reminder as JSON, replayed verbatim by a retry
	Run       string    `dynamodbav:"run"`    // the run that holds the lease
	EBSent    bool      `dynamodbav:"eb_sent"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	SentAt    time.Time `dynamodbav:"sent_at,omitempty"`
	DuePK     string    `dynamodbav:"due_pk,omitempty"`
	DueAt     int64     `dynamodbav:"due_at,omitempty"`
	TTL       int64     `dynamodbav:"ttl"`
}

// remind records reminder rem once (marker + event, conditional on k's version and
// extra), then delivers it. A marker that exists already means another run (or an
// earlier one) has it: nothing to do here.
func (r *run) remind(ctx context.Context, k *store.Key, rem *Reminder, sk string, extra *expression.ConditionBuilder, evType string, detail map[string]any) error {
	rem.ReminderID = k.ID + "/" + strings.TrimPrefix(sk, "REMINDER#")
	body, err := json.Marshal(rem)
	if err != nil {
		return err
	}
	m := marker{
		PK: store.KeyPK(k.ID), SK: sk, Kind: rem.Kind, KeyID: k.ID, State: markerPending, Detail: string(body),
		Run: r.id, CreatedAt: r.now, DuePK: store.DuePK(k.ID), DueAt: r.now.Add(r.s.cfg.Lease).Unix(),
		// Kept until the key is past expiry (no reminder is evaluated after that), and a margin.
		TTL: k.ExpiresAt.Add(30 * day).Unix(),
	}
	item, err := attributevalue.MarshalMap(m)
	if err != nil {
		return err
	}
	check, err := r.s.store.KeyCondition(k.ID, k.Version, extra)
	if err != nil {
		return err
	}
	detail["reminder_id"] = rem.ReminderID
	ev, err := r.s.store.EventPut(r.event(evType, k, detail))
	if err != nil {
		return err
	}
	table := r.s.store.Table()
	_, err = r.s.store.DB().TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: check},
		{Put: &types.Put{TableName: &table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)")}},
		{Put: ev},
	}})
	var tce *types.TransactionCanceledException
	switch {
	case err == nil:
	case errors.As(err, &tce) && len(tce.CancellationReasons) == 3:
		reasons := tce.CancellationReasons
		switch {
		case aws.ToString(reasons[0].Code) == "ConditionalCheckFailed":
			return store.ErrConflict // the key changed (or was used): decide again
		case aws.ToString(reasons[1].Code) == "ConditionalCheckFailed":
			return nil // recorded already
		}
		return store.ErrConflict // TransactionConflict: a concurrent writer; retry
	default:
		var tcx *types.TransactionConflictException
		if errors.As(err, &tcx) {
			return store.ErrConflict
		}
		return fmt.Errorf("record reminder %s: %w", rem.ReminderID, err)
	}
	r.count(func(res *Result) {
		if rem.Kind == KindStale {
			res.StaleReminders++
		} else {
			res.ExpiryReminders++
		}
	})
	if err := r.deliver(ctx, m.PK, m.SK, rem, false); err != nil {
		// Recorded and pending: the marker is due after its lease, and a later run delivers it.
		r.count(func(res *Result) { res.Failed++ })
		r.s.log.Warn("reminder delivery failed; retried after the lease", "reminder_id", rem.ReminderID, "err", err)
	}
	return nil
}

// resume takes up a reminder left pending by a run that failed or died: claim its lease
// (conditional on the due_at read, so one run wins), then deliver the stored payload.
func (r *run) resume(ctx context.Context, item map[string]types.AttributeValue) error {
	var m marker
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return fmt.Errorf("unmarshal marker: %w", err)
	}
	if m.State != markerPending {
		return nil
	}
	u := expression.Set(expression.Name("run"), expression.Value(r.id)).
		Set(expression.Name(store.AttrDueAt), expression.Value(r.now.Add(r.s.cfg.Lease).Unix()))
	cond := expression.Name("state").Equal(expression.Value(markerPending)).
		And(expression.Name(store.AttrDueAt).Equal(expression.Value(m.DueAt)))
	if err := r.updateMarker(ctx, m.PK, m.SK, u, cond); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another run claimed it, or it was sent
		}
		return err
	}
	var rem Reminder
	if err := json.Unmarshal([]byte(m.Detail), &rem); err != nil {
		return fmt.Errorf("marker %s %s: %w", m.PK, m.SK, err)
	}
	r.count(func(res *Result) { res.Resumed++ })
	return r.deliver(ctx, m.PK, m.SK, &rem, m.EBSent)
}

// deliver publishes rem to EventBridge (unless ebSent) and SNS, then marks it sent.
// It writes only while this run holds the marker's lease.
func (r *run) deliver(ctx context.Context, pk, sk string, rem *Reminder, ebSent bool) error {
	mine := expression.Name("run").Equal(expression.Value(r.id)).And(expression.Name("state").Equal(expression.Value(markerPending)))
	if !ebSent {
		if err := r.s.pub.PublishEvent(ctx, rem); err != nil {
			return err
		}
	}
	if err := r.s.pub.PublishNotice(ctx, rem); err != nil {
		if !ebSent {
			// Remember the half that went out, so the retry does not repeat it.
			if uerr := r.updateMarker(ctx, pk, sk, expression.Set(expression.Name("eb_sent"), expression.Value(true)), mine); uerr != nil {
				r.s.log.Warn("could not record the EventBridge half of a reminder", "reminder_id", rem.ReminderID, "err", uerr)
			}
		}
		return err
	}
	u := expression.Set(expression.Name("state"), expression.Value(markerSent)).
		Set(expression.Name("eb_sent"), expression.Value(true)).
		Set(expression.Name("sent_at"), expression.Value(r.now)).
		Remove(expression.Name(store.AttrDuePK)).Remove(expression.Name(store.AttrDueAt))
	if err := r.updateMarker(ctx, pk, sk, u, mine); err != nil {
		return fmt.Errorf("mark %s sent: %w", rem.ReminderID, err)
	}
	r.count(func(res *Result) { res.Delivered++ })
	return nil
}

func (r *run) updateMarker(ctx context.Context, pk, sk string, u expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	_, err = r.s.store.DB().UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.s.store.Table()),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk},
		},
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return store.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("update marker: %w", err)
	}
	return nil
}

// String renders the result for logs.
func (res Result) String() string { b, _ := json.Marshal(res); return string(b) }
