package sweeper

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/store"
)

// Store is what the sweeper needs of the key store.
type Store interface {
	// GetKey returns the key read consistently, or store.ErrNotFound.
	GetKey(ctx context.Context, id string) (*store.Key, error)
	// Revisit runs visit on k, and on a fresh read of it after each store.ErrConflict,
	// at most attempts times.
	Revisit(ctx context.Context, k *store.Key, attempts int, visit func(*store.Key) error) error
	// UpdateKeyScheduled writes k (Version = stored+1) with its event and schedule;
	// store.ErrConflict if the stored version moved or the key is revoked.
	UpdateKeyScheduled(ctx context.Context, k *store.Key, s store.Schedule, e *store.Event) error
	// SetSchedule writes only the schedule, if the stored version is still version.
	SetSchedule(ctx context.Context, id string, version int64, s store.Schedule) error
	// DueItems reads the items of one due shard due at now, a page at a time.
	DueItems(ctx context.Context, shard string, now time.Time, page func([]store.DueItem) error) error
	// RecordReminder puts a pending marker with its event if k is still as read (and,
	// when sameUse, unused since): false if recorded already, store.ErrConflict if k moved.
	RecordReminder(ctx context.Context, k *store.Key, m *store.ReminderMarker, sameUse bool, e *store.Event) (bool, error)
	// ClaimReminder takes the lease of a pending marker whose lease is still leaseRead.
	ClaimReminder(ctx context.Context, keyID, name, run string, leaseRead int64, leaseUntil time.Time) error
	// MarkReminderHalfSent records the EventBridge half sent, while run holds the lease.
	MarkReminderHalfSent(ctx context.Context, keyID, name, run string) error
	// MarkReminderSent records the marker sent, while run holds the lease.
	MarkReminderSent(ctx context.Context, keyID, name, run string, now time.Time) error
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
	items, queryErr := r.queryAll(qctx)
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				if stopped.Load() || late() {
					stopped.Store(true)
					cancel()
					continue // drain: the rest stays due for the next run
				}
				r.handle(ctx, it)
			}
		}()
	}
	wg.Wait()
	res := r.result()
	res.Stopped = stopped.Load()
	s.log.Info("sweep", "result", res)
	if err := queryErr(); err != nil {
		return res, fmt.Errorf("query due index: %w", err)
	}
	if res.Failed > 0 {
		return res, fmt.Errorf("%d due items failed and stay due", res.Failed)
	}
	return res, nil
}

// queryAll reads every due shard at once into the returned channel, which is closed
// when all are read; the function returns the first query error (after the close).
func (r *run) queryAll(ctx context.Context) (<-chan store.DueItem, func() error) {
	items := make(chan store.DueItem, r.s.cfg.Concurrency)
	var (
		wg       sync.WaitGroup
		queryErr error
		errOnce  sync.Once
	)
	for _, pk := range store.DueShardPKs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.query(ctx, pk, items); err != nil && ctx.Err() == nil {
				errOnce.Do(func() { queryErr = err })
			}
		}()
	}
	go func() { wg.Wait(); close(items) }()
	return items, func() error { return queryErr }
}

// handle handles one due item; a failure is counted and logged, and the item stays due.
func (r *run) handle(ctx context.Context, it store.DueItem) {
	if r.s.beforeItem != nil {
		r.s.beforeItem()
	}
	if err := r.item(ctx, it); err != nil {
		r.count(func(res *Result) { res.Failed++ })
		r.s.log.Error("sweep item failed; it stays due", "pk", it.PK, "sk", it.SK, "err", err)
	}
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

// query sends every item of shard pk due at r.now, in due order.
func (r *run) query(ctx context.Context, pk string, out chan<- store.DueItem) error {
	return r.s.store.DueItems(ctx, pk, r.now, func(items []store.DueItem) error {
		r.count(func(res *Result) { res.ItemsRead += int64(len(items)) })
		for _, it := range items {
			select {
			case out <- it:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
}

// item handles one due item: a key, or a reminder still pending from an earlier run.
func (r *run) item(ctx context.Context, it store.DueItem) error {
	switch {
	case it.Err != nil:
		return it.Err
	case it.Key != nil:
		return r.key(ctx, it.Key)
	case it.Marker != nil:
		return r.resume(ctx, it.Marker)
	}
	return nil
}

// maxAttempts bounds the re-read loop on a key that keeps changing under the sweep;
// what is left stays due for the next run.
const maxAttempts = 5

// key visits one key, re-reading it after a lost race (store.Revisit, the one
// optimistic loop). k may come from the index (an eventually consistent copy): every
// write is conditional on its version.
func (r *run) key(ctx context.Context, k *store.Key) error {
	err := r.s.store.Revisit(ctx, k, maxAttempts, func(k *store.Key) error {
		r.count(func(res *Result) { res.Keys++ })
		return r.visit(ctx, k)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile: nothing is due
	}
	if err != nil {
		return fmt.Errorf("key %s: %w", k.ID, err)
	}
	return nil
}

func (r *run) event(typ string, k *store.Key, detail map[string]any) *store.Event {
	return &store.Event{Time: r.now, Type: typ, KeyID: k.ID, Owner: k.Owner, Actor: Actor, Detail: detail}
}

// visit writes what Decide finds due on k at r.now.
func (r *run) visit(ctx context.Context, k *store.Key) error {
	p := Decide(k, r.now, r.s.cfg)
	switch {
	case p.Expire:
		return r.expire(ctx, k, p.Schedule)
	case !p.Schedule.PurgeAt.IsZero():
		r.count(func(res *Result) { res.Purgeable++ })
		return r.s.store.SetSchedule(ctx, k.ID, k.Version, p.Schedule)
	}
	// Reminders first: they check k's version, so they go before any write that bumps it.
	if d := p.Expiry; d != nil {
		rem := r.reminder(k, KindExpiry)
		rem.DaysLeft, rem.OffsetDays = ptr(d.DaysLeft), ptr(d.OffsetDays)
		detail := map[string]any{"offset_days": d.OffsetDays, "days_left": d.DaysLeft, "expires_at": k.ExpiresAt, "secret_version": k.Secret.N}
		name := store.ExpiryReminderName(k.ExpiresAt, k.Secret.N, d.OffsetDays)
		if err := r.remind(ctx, k, rem, name, false, store.EventExpiryReminder, detail); err != nil {
			return err
		}
	}
	if d := p.Stale; d != nil {
		rem := r.reminder(k, KindStale)
		rem.IdleSince, rem.IdleDays, rem.StaleAfterDays = ptr(d.IdleSince), ptr(d.IdleDays), ptr(d.StaleAfterDays)
		detail := map[string]any{"idle_since": d.IdleSince, "idle_days": d.IdleDays, "stale_after_days": d.StaleAfterDays}
		// The idle period must be the one read: a use since then (last_used_at has its
		// own writer, which does not bump version) cancels the notice.
		if err := r.remind(ctx, k, rem, store.StaleReminderName(d.IdleSince), true, store.EventStaleReminder, detail); err != nil {
			return err
		}
	}
	if p.FinishRotation {
		return r.finishRotation(ctx, k, p.Schedule)
	}
	return r.s.store.SetSchedule(ctx, k.ID, k.Version, p.Schedule)
}

// expire writes k expired (key.expired) with purge schedule s, or only s when k is
// expired already with nothing to drop.
func (r *run) expire(ctx context.Context, k *store.Key, s store.Schedule) error {
	detail, ok := k.Expire(r.now)
	if !ok {
		r.count(func(res *Result) { res.Purgeable++ })
		return r.s.store.SetSchedule(ctx, k.ID, k.Version, s)
	}
	k.Bump(r.now)
	detail["version"] = k.Version
	if err := r.s.store.UpdateKeyScheduled(ctx, k, s, r.event(store.EventKeyExpired, k, detail)); err != nil {
		return err
	}
	r.count(func(res *Result) { res.Expired++; res.Purgeable++ })
	return nil
}

// finishRotation drops k's previous secret (key.rotation_finished) with schedule s.
func (r *run) finishRotation(ctx context.Context, k *store.Key, s store.Schedule) error {
	detail, ok := k.FinishRotation(r.now)
	if !ok {
		return r.s.store.SetSchedule(ctx, k.ID, k.Version, s)
	}
	k.Bump(r.now)
	detail["by"], detail["version"] = Actor, k.Version
	if err := r.s.store.UpdateKeyScheduled(ctx, k, s, r.event(store.EventKeyRotationFinished, k, detail)); err != nil {
		return err
	}
	r.count(func(res *Result) { res.RotationsFinished++ })
	return nil
}

func (r *run) reminder(k *store.Key, kind string) *Reminder {
	return &Reminder{
		Kind: kind, KeyID: k.ID, Name: k.Name, Owner: k.Owner, Start: k.Start, Status: k.EffectiveStatus(r.now),
		SecretVersion: k.Secret.N, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt,
		SweptAt: r.now,
	}
}

// remind records reminder rem, named name, once (marker + event, conditional on k's
// version and, when sameUse, on k being unused since it was read), then delivers it.
// A marker that exists already means another run (or an earlier one) has it:
// nothing to do here.
func (r *run) remind(ctx context.Context, k *store.Key, rem *Reminder, name string, sameUse bool, evType string, detail map[string]any) error {
	rem.ReminderID = k.ID + "/" + name
	body, err := json.Marshal(rem)
	if err != nil {
		return err
	}
	m := &store.ReminderMarker{
		KeyID: k.ID, Name: name, Kind: rem.Kind, State: store.ReminderPending, Detail: string(body),
		Run: r.id, CreatedAt: r.now, LeaseUntil: r.now.Add(r.s.cfg.Lease).Unix(),
		// Kept until the key is past expiry (no reminder is evaluated after that), and a margin.
		TTL: k.ExpiresAt.Add(30 * day).Unix(),
	}
	detail["reminder_id"] = rem.ReminderID
	recorded, err := r.s.store.RecordReminder(ctx, k, m, sameUse, r.event(evType, k, detail))
	if err != nil || !recorded {
		return err
	}
	r.count(func(res *Result) {
		if rem.Kind == KindStale {
			res.StaleReminders++
		} else {
			res.ExpiryReminders++
		}
	})
	if err := r.deliver(ctx, k.ID, name, rem, false); err != nil {
		// Recorded and pending: the marker is due after its lease, and a later run delivers it.
		r.count(func(res *Result) { res.Failed++ })
		r.s.log.Warn("reminder delivery failed; retried after the lease", "reminder_id", rem.ReminderID, "err", err)
	}
	return nil
}

// resume takes up a reminder left pending by a run that failed or died: claim its lease
// (conditional on the lease read, so one run wins), then deliver the stored payload.
func (r *run) resume(ctx context.Context, m *store.ReminderMarker) error {
	if m.State != store.ReminderPending {
		return nil
	}
	if err := r.s.store.ClaimReminder(ctx, m.KeyID, m.Name, r.id, m.LeaseUntil, r.now.Add(r.s.cfg.Lease)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil // another run claimed it, or it was sent
		}
		return err
	}
	var rem Reminder
	if err := json.Unmarshal([]byte(m.Detail), &rem); err != nil {
		return fmt.Errorf("marker %s/%s: %w", m.KeyID, m.Name, err)
	}
	r.count(func(res *Result) { res.Resumed++ })
	return r.deliver(ctx, m.KeyID, m.Name, &rem, m.EBSent)
}

// deliver publishes rem to EventBridge (unless ebSent) and SNS, then marks its marker
// (keyID, name) sent. It writes only while this run holds the marker's lease.
func (r *run) deliver(ctx context.Context, keyID, name string, rem *Reminder, ebSent bool) error {
	if !ebSent {
		if err := r.s.pub.PublishEvent(ctx, rem); err != nil {
			return err
		}
	}
	if err := r.s.pub.PublishNotice(ctx, rem); err != nil {
		if !ebSent {
			// Remember the half that went out, so the retry does not repeat it.
			if uerr := r.s.store.MarkReminderHalfSent(ctx, keyID, name, r.id); uerr != nil {
				r.s.log.Warn("could not record the EventBridge half of a reminder", "reminder_id", rem.ReminderID, "err", uerr)
			}
		}
		return err
	}
	if err := r.s.store.MarkReminderSent(ctx, keyID, name, r.id, r.now); err != nil {
		return fmt.Errorf("mark %s sent: %w", rem.ReminderID, err)
	}
	r.count(func(res *Result) { res.Delivered++ })
	return nil
}

// String renders the result for logs.
func (res Result) String() string { b, _ := json.Marshal(res); return string(b) }
