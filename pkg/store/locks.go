package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// lockAttempts bounds how often RecordLock re-plans after a concurrent change of the
// locks map. Each failed attempt returns the item as it is now, and the writes only
// conflict when two of them prune the same expired entries, so a few suffice.
const lockAttempts = 6

// RecordLock records on key id's item that ip is locked out of it until until, so that
// the one read which verifies the key refuses the pair on every instance (package
// lockout calls it when a pair becomes locked). It writes only entries of the item's
// locks map: no version bump, no event, no other attribute, so it neither loses to nor
// clobbers a management write. The map never holds more than MaxLocks entries: a lock
// that finds it full of running locks is not recorded (see NextLocks), and one that
// finds expired entries removes them. It is ErrNotFound if there is no key (no item
// is created); a revoked key is left alone (it refuses everything anyway), and so is
// an ip that is not an IP address (nothing to record: the counter still holds).
func (d *Dynamo) RecordLock(ctx context.Context, id, ip string, until, now time.Time) error {
	if _, err := netip.ParseAddr(ip); err != nil {
		return nil
	}
	locks := expression.Name("locks")
	entry := locks.AppendName(expression.NameNoDotSplit(ip))
	live := expression.AttributeExists(expression.Name("pk")).
		And(expression.Name("status").NotEqual(expression.Value(StatusRevoked)))
	// Set the entry, unless a later lock of ip is recorded already. A new entry needs
	// room; each removed entry must still be as read, so that at least as many go as
	// come, and a lock raised meanwhile is not removed.
	write := func(remove map[string]int64) (expression.UpdateBuilder, expression.ConditionBuilder) {
		u := expression.Set(entry, expression.Value(until.Unix()))
		c := live.And(expression.Or(expression.AttributeNotExists(entry), entry.LessThan(expression.Value(until.Unix()))))
		if len(remove) == 0 {
			return u, c.And(expression.Or(locks.Size().LessThan(expression.Value(MaxLocks)), expression.AttributeExists(entry)))
		}
		for _, a := range slices.Sorted(maps.Keys(remove)) {
			e := locks.AppendName(expression.NameNoDotSplit(a))
			u = u.Remove(e)
			c = c.And(e.Equal(expression.Value(remove[a])))
		}
		return u, c
	}
	// First without knowing the map: the common case, a map with room.
	u, c := write(nil)
	for attempt := 1; ; attempt++ {
		old, err := d.updateLocks(ctx, id, u, c)
		switch {
		case err == nil || errors.Is(err, ErrNotFound):
			return err
		case errors.Is(err, errInFlight):
			// Another write to the item was in flight: try the same write again.
		case !errors.Is(err, errLocksChanged):
			return err
		case old.Status == StatusRevoked:
			return nil
		case old.Locks == nil:
			// An item from before locks were kept: the map itself is new.
			u = expression.Set(locks, expression.Value(map[string]int64{ip: until.Unix()}))
			c = live.And(expression.Or(expression.AttributeNotExists(locks), expression.AttributeType(locks, expression.Null)))
		default:
			next, changed := NextLocks(old.Locks, ip, until, now)
			if !changed {
				return nil
			}
			remove := map[string]int64{}
			for a, v := range old.Locks {
				if _, kept := next[a]; !kept {
					remove[a] = v
				}
			}
			u, c = write(remove)
		}
		if attempt == lockAttempts {
			return fmt.Errorf("record lock of %s: %w", id, ErrConflict)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(10*time.Millisecond) << min(attempt, 5))))
	}
}

var (
	// errLocksChanged: the condition of a locks write failed on an existing key.
	errLocksChanged = errors.New("store: locks changed")
	// errInFlight: a transaction on the item was in flight (TransactionConflict).
	errInFlight = errors.New("store: write in flight")
)

// updateLocks applies u to key id's item under c. When c fails on an existing item it
// returns that item as it is now, with errLocksChanged.
func (d *Dynamo) updateLocks(ctx context.Context, id string, u expression.UpdateBuilder, c expression.ConditionBuilder) (*Key, error) {
	err := d.updateKeyItem(ctx, id, u, c)
	var ccf *types.ConditionalCheckFailedException
	var tcx *types.TransactionConflictException
	switch {
	case err == nil:
		return nil, nil
	case errors.As(err, &tcx):
		return nil, errInFlight
	case !errors.As(err, &ccf):
		return nil, fmt.Errorf("record lock of %s: %w", id, err)
	case len(ccf.Item) == 0:
		return nil, ErrNotFound
	}
	k, err := unmarshalKey(ccf.Item)
	if err != nil {
		return nil, fmt.Errorf("unmarshal key %s: %w", id, err)
	}
	return k, errLocksChanged
}

// NextLocks is the locks map after recording ip locked until until, at now: the
// entries still running at now, with ip's set or raised. It reports false when that
// changes nothing: ip is recorded until until or later already, or ip is new and
// MaxLocks locks are running. At the cap the locks already kept stay until they
// expire, so an attacker locking out many addresses costs no write and no contention
// once the map is full, and cannot push out an earlier lock. A lock left out still
// holds in its LOCKOUT counter, which every failed attempt reads, and on every
// instance that has seen it; only a correct secret from that address, on an instance
// that has not, is accepted, as before locks were kept on the key.
func NextLocks(cur map[string]int64, ip string, until, now time.Time) (map[string]int64, bool) {
	if cur[ip] >= until.Unix() {
		return nil, false
	}
	next := make(map[string]int64, len(cur)+1)
	for a, u := range cur {
		if u > now.Unix() {
			next[a] = u
		}
	}
	if _, ok := next[ip]; !ok && len(next) >= MaxLocks {
		return nil, false
	}
	next[ip] = until.Unix()
	return next, true
}
