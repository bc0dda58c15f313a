package meter

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// scanEvery is how often, at most, ObserveUse looks for due counts: the pass over
// the instance's keys then costs at most that often, and a due count waits at most
// that long past its minute for a use to write it.
const scanEvery = time.Second

// maxMarks bounds the in-memory event marks; past it, marks of earlier minutes go.
const maxMarks = 10000

// Store is where the meter writes; *store.Dynamo implements it.
type Store interface {
	limits.CountStore
	// PutEventOnce records e under its id unless that event exists, and reports
	// whether this call wrote it.
	PutEventOnce(ctx context.Context, e *store.Event) (bool, error)
}

var _ Store = (*store.Dynamo)(nil)

// Publisher puts an event on the EventBridge bus; *eventbus.Bus implements it.
type Publisher interface {
	// Put puts one event of detailType; an error means the bus did not accept it.
	Put(ctx context.Context, detailType string, detail any, at time.Time) error
}

// Meter counts uses and records limit events. It is safe for concurrent use.
type Meter struct {
	counter *limits.Counter
	store   Store
	bus     Publisher
	log     *slog.Logger
	// Now is the clock of FlushAll (time.Now by default).
	Now func() time.Time
	// FirstAside makes the first use's write in a goroutine beside its request
	// rather than inline (the functions set it: a cold start's first answer then
	// waits for no write).
	FirstAside bool

	// flushing is held by the write of due counts in progress (one at a time).
	flushing sync.Mutex
	mu       sync.Mutex
	nextScan time.Time
	marks    map[string]time.Time // key id + type → minute of the last attempt
}

// New returns a meter writing to st and, when bus is not nil, putting the limit
// events it writes on bus. Errors go to log.
func New(st Store, bus Publisher, log *slog.Logger) *Meter {
	return &Meter{
		counter: limits.NewCounter(limits.RandomID()), store: st, bus: bus, log: log,
		Now: time.Now, marks: map[string]time.Time{},
	}
}

// eventTypes maps the refusal codes that make an event to the event's type.
var eventTypes = map[string]string{
	limits.CodeRateLimited:   store.EventKeyRateLimited,
	limits.CodeUsageExceeded: store.EventKeyUsageExceeded,
}

// ObserveUse counts one decided use of key keyID (of owner) at now, with its code
// (limits.CodeValid or a refusal), writes the counts that are due, and records a
// limit event when code calls for one and none was recorded for this minute. It
// never fails: errors are logged.
func (m *Meter) ObserveUse(ctx context.Context, keyID, owner, code string, now time.Time) {
	m.counter.Record(keyID, now, code)
	switch m.scanDue(now) {
	case scanNow:
		// A scan already running (the first use's) writes what is due: none waits.
		if m.flushing.TryLock() {
			m.flushDue(ctx, now)
			m.flushing.Unlock()
		}
	case scanFirst:
		if !m.FirstAside {
			m.flushing.Lock()
			m.flushDue(ctx, now)
			m.flushing.Unlock()
			break
		}
		// The first use is written at once, beside the answer rather than before it:
		// a cold start's first answer waits for no write, and a key used once shows
		// its use without waiting for another. The write outlives the request.
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), firstWriteTimeout)
			defer cancel()
			m.flushing.Lock()
			defer m.flushing.Unlock()
			m.flushDue(ctx, now)
		}()
	}
	if typ, ok := eventTypes[code]; ok && m.firstThisMinute(keyID, typ, now) {
		m.recordEvent(ctx, keyID, owner, code, typ, now)
	}
}

// FlushAll writes every count not yet written: the flush at shutdown. It waits for a
// write in progress.
func (m *Meter) FlushAll(ctx context.Context) error {
	m.flushing.Lock()
	defer m.flushing.Unlock()
	return limits.Flush(ctx, m.counter, m.store, m.Now(), true)
}

// flushDue writes the counts due at now; the caller holds m.flushing, so that no two
// writes of one count interleave their reading and marking of it.
func (m *Meter) flushDue(ctx context.Context, now time.Time) {
	if err := limits.Flush(ctx, m.counter, m.store, now, false); err != nil {
		m.log.WarnContext(ctx, "usage counts not written", "err", err)
	}
}

// firstWriteTimeout bounds the first use's write, made beside its request.
const firstWriteTimeout = 10 * time.Second

// What a use's scan does: nothing, a scan of due counts, or the first use's write.
const (
	scanNone = iota
	scanNow
	scanFirst
)

// scanDue says what the use at now does about due counts: scanFirst for the first
// use the meter sees, which starts the first scanEvery; scanNow, at most once per
// scanEvery after it, which starts the next; else scanNone.
func (m *Meter) scanDue(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := m.nextScan.IsZero()
	if !first && now.Before(m.nextScan) {
		return scanNone
	}
	m.nextScan = now.Add(scanEvery)
	if first {
		return scanFirst
	}
	return scanNow
}

// firstThisMinute marks keyID's typ events as tried in now's minute, and reports
// whether they had not been.
func (m *Meter) firstThisMinute(keyID, typ string, now time.Time) bool {
	minute := now.UTC().Truncate(time.Minute)
	mark := keyID + "\x00" + typ
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.marks[mark]; ok && !last.Before(minute) {
		return false
	}
	if len(m.marks) >= maxMarks {
		for k, t := range m.marks {
			if t.Before(minute) {
				delete(m.marks, k)
			}
		}
	}
	m.marks[mark] = minute
	return true
}

// busEvent is a limit event as the bus carries it: the audit event's fields.
type busEvent struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"`
	KeyID  string         `json:"key_id"`
	Owner  string         `json:"owner"`
	Detail map[string]any `json:"detail"`
}

// recordEvent writes the typ event of keyID for now's minute unless another writer
// did, and puts it on the bus if this call wrote it.
func (m *Meter) recordEvent(ctx context.Context, keyID, owner, code, typ string, now time.Time) {
	minute := now.UTC().Truncate(time.Minute)
	e := &store.Event{
		ID: EventID(keyID, typ, minute), Time: now.UTC().Truncate(time.Second), Type: typ,
		KeyID: keyID, Owner: owner, Actor: keyID,
		Detail: map[string]any{"code": code, "minute": minute.Format(time.RFC3339)},
	}
	won, err := m.store.PutEventOnce(ctx, e)
	if err != nil {
		m.log.WarnContext(ctx, "limit event not written", "type", typ, "key_id", keyID, "err", err)
		return
	}
	if !won || m.bus == nil {
		return
	}
	be := busEvent{ID: e.ID, Time: e.Time, Type: typ, KeyID: keyID, Owner: owner, Detail: e.Detail}
	if err := m.bus.Put(ctx, typ, be, e.Time); err != nil {
		m.log.WarnContext(ctx, "limit event not put on the bus", "type", typ, "key_id", keyID, "err", err)
	}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// EventID is the id of key keyID's typ event of minute: the minute in nanoseconds
// (as store.NewEventID orders events) and a hash of the key and the type, so every
// instance names that event alike and ids of other keys and types differ.
func EventID(keyID, typ string, minute time.Time) string {
	h := sha256.Sum256([]byte(keyID + "\x00" + typ))
	return fmt.Sprintf("%019d", minute.UnixNano()) + strings.ToLower(idEncoding.EncodeToString(h[:5]))
}
