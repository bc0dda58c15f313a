package lockout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/store"
)

// Config is the lockout rule.
type Config struct {
	MaxFailures int           // failures in Window that lock the pair; default 5
	Window      time.Duration // default 5 minutes
	Cooldown    time.Duration // how long the pair stays locked; default 5 minutes
}

// Defaults fills zero fields with the defaults.
func (c Config) Defaults() Config {
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.Window <= 0 {
		c.Window = 5 * time.Minute
	}
	if c.Cooldown <= 0 {
		c.Cooldown = 5 * time.Minute
	}
	return c
}

// API is the part of the DynamoDB client the guard uses.
type API interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store is what the guard writes besides its counters; *store.Dynamo implements it.
type Store interface {
	// PutEvent records an event that goes with no key change (auth.failed).
	PutEvent(ctx context.Context, e *store.Event) error
	// RecordLock records on key id's item that ip is locked out until until, without
	// bumping its version; store.ErrNotFound if there is no such key.
	RecordLock(ctx context.Context, id, ip string, until, now time.Time) error
}

var _ Store = (*store.Dynamo)(nil)

// maxMarks bounds the in-memory lock marks; expired ones are dropped past it.
const maxMarks = 10000

type pair struct{ keyID, ip string }

// Guard counts failures and remembers locks.
type Guard struct {
	db    API
	table string
	store Store
	cfg   Config

	mu     sync.Mutex
	locked map[pair]time.Time // pair → locked until
}

// New returns a guard keeping its counters in table, and its locks also on key items
// through st.
func New(db API, table string, st Store, cfg Config) *Guard {
	return &Guard{db: db, table: table, store: st, cfg: cfg.Defaults(), locked: map[pair]time.Time{}}
}

// Config returns the rule in force.
func (g *Guard) Config() Config { return g.cfg }

// Locked reports, without I/O, whether this instance knows the pair to be locked at
// now, and until when.
func (g *Guard) Locked(keyID, ip string, now time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	until, ok := g.locked[pair{keyID, ip}]
	if !ok || !now.Before(until) {
		return time.Time{}, false
	}
	return until, true
}

func (g *Guard) mark(keyID, ip string, until, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.locked) >= maxMarks {
		for p, u := range g.locked {
			if !now.Before(u) {
				delete(g.locked, p)
			}
		}
	}
	g.locked[pair{keyID, ip}] = until
}

// Fail records one failed attempt of keyID from ip at now. It reports whether the pair
// was already locked before this attempt, and until when (the caller answers 429
// then); the attempt that reaches the limit locks the pair for the next ones. A lock
// is also recorded on the key's item (if the key exists), where every instance's
// verification read sees it; failing to record it is an error, but the lock stands.
func (g *Guard) Fail(ctx context.Context, keyID, ip string, now time.Time) (time.Time, bool, error) {
	n, lockedUntil, err := g.count(ctx, keyID, ip, now)
	if err != nil {
		return time.Time{}, false, err
	}
	if now.Before(lockedUntil) {
		g.mark(keyID, ip, lockedUntil, now)
		// This instance had not seen the lock, and the caller's read of the key (if
		// there is one) did not show it: its record was lost or pushed out. Record it
		// again: once per pair and instance, since the mark now answers without I/O.
		return lockedUntil, true, g.record(ctx, keyID, ip, lockedUntil, now)
	}
	if n < int64(g.cfg.MaxFailures) {
		return time.Time{}, false, nil
	}
	until := now.Add(g.cfg.Cooldown)
	won, err := g.lock(ctx, keyID, ip, now, until)
	if err != nil {
		return time.Time{}, false, err
	}
	g.mark(keyID, ip, until, now)
	if won {
		// The winner of the lock tells every instance, through the key item, first:
		// until then only the counter and this instance know.
		recErr := g.record(ctx, keyID, ip, until, now)
		err := g.store.PutEvent(ctx, &store.Event{
			Time: now, Type: store.EventAuthFailed, KeyID: keyID, Actor: "anonymous", IP: ip,
			Detail: map[string]any{
				"reason": "too_many_attempts", "failures": n,
				"window_seconds": int64(g.cfg.Window / time.Second), "locked_until": until.UTC().Format(time.RFC3339),
			},
		})
		if err != nil {
			err = fmt.Errorf("lockout event: %w", err)
		}
		return time.Time{}, false, errors.Join(recErr, err)
	}
	return time.Time{}, false, nil
}

// record puts the pair's lock on the key item. An unknown key id has no item: its
// lock lives in the counter only, which every failed attempt reads anyway.
func (g *Guard) record(ctx context.Context, keyID, ip string, until, now time.Time) error {
	err := g.store.RecordLock(ctx, keyID, ip, until, now)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("lockout: %w", err)
	}
	return nil
}

func (g *Guard) key(keyID, ip string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "LOCKOUT#" + keyID + "#" + ip},
		"sk": &types.AttributeValueMemberS{Value: "LOCKOUT"},
	}
}

// count adds one failure to the pair's open window, or opens a new window, and returns
// the count and the lock end. Both steps are conditional, so concurrent failures on
// any number of instances are all counted, in one window.
func (g *Guard) count(ctx context.Context, keyID, ip string, now time.Time) (int64, time.Time, error) {
	cutoff := now.Add(-g.cfg.Window).Unix()
	// The item outlives both its window and a lock set within it.
	ttl := now.Add(g.cfg.Window + g.cfg.Cooldown).Unix()
	for range 2 {
		add := expression.Add(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("ttl"), expression.Value(ttl))
		cond := expression.Name("window_start").GreaterThan(expression.Value(cutoff))
		out, err := g.update(ctx, keyID, ip, add, cond)
		if err == nil {
			return result(out)
		}
		if !errors.Is(err, errCondition) {
			return 0, time.Time{}, err
		}
		open := expression.Set(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("window_start"), expression.Value(now.Unix())).
			Set(expression.Name("ttl"), expression.Value(ttl))
		cond = expression.AttributeNotExists(expression.Name("window_start")).
			Or(expression.Name("window_start").LessThanEqual(expression.Value(cutoff)))
		out, err = g.update(ctx, keyID, ip, open, cond)
		if err == nil {
			return result(out)
		}
		if !errors.Is(err, errCondition) {
			return 0, time.Time{}, err
		}
		// Another instance opened the window between the two writes: add to it.
	}
	return 0, time.Time{}, errors.New("lockout: counter kept changing")
}

// lock sets locked_until unless a lock is already running; it reports whether this call set it.
func (g *Guard) lock(ctx context.Context, keyID, ip string, now, until time.Time) (bool, error) {
	set := expression.Set(expression.Name("locked_until"), expression.Value(until.Unix())).
		Set(expression.Name("ttl"), expression.Value(until.Add(g.cfg.Window).Unix()))
	cond := expression.AttributeNotExists(expression.Name("locked_until")).
		Or(expression.Name("locked_until").LessThanEqual(expression.Value(now.Unix())))
	_, err := g.update(ctx, keyID, ip, set, cond)
	if errors.Is(err, errCondition) {
		return false, nil
	}
	return err == nil, err
}

var errCondition = errors.New("condition failed")

func (g *Guard) update(ctx context.Context, keyID, ip string, u expression.UpdateBuilder, c expression.ConditionBuilder) (*dynamodb.UpdateItemOutput, error) {
	expr, err := expression.NewBuilder().WithUpdate(u).WithCondition(c).Build()
	if err != nil {
		return nil, fmt.Errorf("lockout: build update: %w", err)
	}
	out, err := g.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(g.table),
		Key:                       g.key(keyID, ip),
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

func result(out *dynamodb.UpdateItemOutput) (int64, time.Time, error) {
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
