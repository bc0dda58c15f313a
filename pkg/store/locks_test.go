package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

func TestNextLocks(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(s int64) int64 { return now.Unix() + s }
	full := map[string]int64{}
	for i := range store.MaxLocks {
		full[fmt.Sprintf("10.0.0.%d", i)] = at(100 + int64(i))
	}
	cases := []struct {
		name    string
		cur     map[string]int64
		ip      string
		until   int64
		changed bool
		want    map[string]int64
	}{
		{"first", nil, "10.1.1.1", at(300), true, map[string]int64{"10.1.1.1": at(300)}},
		{"raised", map[string]int64{"10.1.1.1": at(-5)}, "10.1.1.1", at(300), true, map[string]int64{"10.1.1.1": at(300)}},
		{"recorded already", map[string]int64{"10.1.1.1": at(300)}, "10.1.1.1", at(300), false, nil},
		{"expired ones pruned", map[string]int64{"10.1.1.1": at(0), "10.1.1.2": at(1)}, "::1", at(300), true,
			map[string]int64{"10.1.1.2": at(1), "::1": at(300)}},
		{"full of running locks: not recorded", full, "10.1.1.1", at(300), false, nil},
		{"full: a kept lock is still raised", full, "10.0.0.3", at(300), true, func() map[string]int64 {
			m := maps.Clone(full)
			m["10.0.0.3"] = at(300)
			return m
		}()},
		{"full: expired ones make room", func() map[string]int64 {
			m := maps.Clone(full)
			m["10.0.0.1"], m["10.0.0.2"] = at(-1), at(0)
			return m
		}(), "10.1.1.1", at(300), true, func() map[string]int64 {
			m := maps.Clone(full)
			delete(m, "10.0.0.1")
			delete(m, "10.0.0.2")
			m["10.1.1.1"] = at(300)
			return m
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, changed := store.NextLocks(c.cur, c.ip, time.Unix(c.until, 0), now)
			if changed != c.changed {
				t.Fatalf("changed = %v, want %v", changed, c.changed)
			}
			if changed && !maps.Equal(got, c.want) {
				t.Fatalf("got %v\nwant %v", got, c.want)
			}
			if len(got) > store.MaxLocks {
				t.Fatalf("%d locks kept, cap %d", len(got), store.MaxLocks)
			}
		})
	}
}

func TestKeyLockedUntil(t *testing.T) {
	until := time.Unix(1_800_000_300, 0)
	k := &store.Key{Locks: map[string]int64{"192.0.2.1": until.Unix()}}
	for _, c := range []struct {
		ip     string
		at     time.Time
		locked bool
	}{
		{"192.0.2.1", until.Add(-time.Minute), true},
		{"192.0.2.1", until.Add(-time.Millisecond), true},
		{"192.0.2.1", until, false},
		{"192.0.2.2", until.Add(-time.Minute), false},
		{"", until.Add(-time.Minute), false},
	} {
		got, locked := k.LockedUntil(c.ip, c.at)
		if locked != c.locked || (locked && !got.Equal(until)) {
			t.Errorf("LockedUntil(%q, %v) = %v, %v", c.ip, c.at, got, locked)
		}
	}
}

// TestRecordLockBounded: an attacker locks one key from 200 addresses, from 8 workers
// at once, while a management writer keeps changing the key. The locks map never
// holds more than MaxLocks entries and ends with the MaxLocks locks that end last;
// the lock writes never bump the version, and neither kind of write loses the other's.
func TestRecordLockBounded(t *testing.T) {
	env := testenv.New(t)
	ddb := dynamodb.NewFromConfig(env.AWS, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	st := store.New(ddb, env.Table, 24*time.Hour)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	newKey := func(id string) {
		t.Helper()
		k := &store.Key{
			ID: id, Name: "n", Description: "even", Owner: "alice@example.com", Scopes: []string{"orders:read"},
			Status: store.StatusActive, Start: "kw_test_" + id, CreatedAt: now, UpdatedAt: now, CreatedBy: "root",
			ExpiresAt: now.Add(24 * time.Hour), Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1,
			Secret: store.Secret{N: 1, Hash: make([]byte, 32), Pepper: "p1"},
		}
		if err := st.CreateKey(ctx, k, &store.Event{Time: now, Type: store.EventKeyCreated, KeyID: id, Actor: "root"}); err != nil {
			t.Fatal(err)
		}
	}
	const id = "lockbound"
	newKey(id)

	stop := make(chan struct{})
	var bg sync.WaitGroup
	var patches, samples atomic.Int64
	var lastDescription atomic.Value
	bg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, err := st.GetKey(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			if len(k.Locks) > store.MaxLocks {
				t.Errorf("the key item holds %d locks, cap %d", len(k.Locks), store.MaxLocks)
			}
			samples.Add(1)
			k.Version++
			k.Description = fmt.Sprint("patch ", k.Version)
			switch err := st.UpdateKey(ctx, k, &store.Event{Time: now, Type: store.EventKeyUpdated, KeyID: id, Actor: "root"}); {
			case err == nil:
				patches.Add(1)
				lastDescription.Store(k.Description)
			case !errors.Is(err, store.ErrConflict):
				t.Error(err)
				return
			}
		}
	})

	// lockAll records, from 8 workers at once, a lock of each of n new addresses at
	// at, the i-th one until at + 5 min + i s, and returns the untils.
	round := 0
	lockAll := func(n int, at time.Time) map[string]int64 {
		round++
		untils := map[string]int64{}
		ips := make([]string, n)
		for i := range ips {
			ips[i] = fmt.Sprintf("198.51.%d.%d", round, i)
			if i%2 == 1 {
				ips[i] = fmt.Sprintf("2001:db8:%x::%x", round, i)
			}
			untils[ips[i]] = at.Add(5*time.Minute + time.Duration(i)*time.Second).Unix()
		}
		work := make(chan string)
		var workers sync.WaitGroup
		for range 8 {
			workers.Go(func() {
				for ip := range work {
					if err := st.RecordLock(ctx, id, ip, time.Unix(untils[ip], 0), at); err != nil {
						t.Errorf("record lock of %s: %v", ip, err)
					}
				}
			})
		}
		for _, ip := range ips {
			work <- ip
		}
		close(work)
		workers.Wait()
		return untils
	}
	// held checks that the key holds MaxLocks locks, all of them from untils.
	held := func(untils map[string]int64) {
		t.Helper()
		k, err := st.GetKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Locks) != store.MaxLocks {
			t.Fatalf("%d locks kept, want the cap, %d: %v", len(k.Locks), store.MaxLocks, k.Locks)
		}
		for ip, u := range k.Locks {
			if u != untils[ip] {
				t.Fatalf("lock of %s until %d, want %d (0: not one of this round's)", ip, u, untils[ip])
			}
		}
	}
	// 200 addresses: the first 32 recorded stay, the others are not broadcast.
	first := lockAll(200, now)
	held(first)
	// Ten minutes later those have expired: new locks replace them.
	later := lockAll(40, now.Add(10*time.Minute))
	held(later)

	close(stop)
	bg.Wait()
	if t.Failed() {
		return
	}
	k, err := st.GetKey(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if patches.Load() == 0 || k.Version != 1+patches.Load() {
		t.Fatalf("version %d after %d management writes: the lock writes bumped it, or a write was lost", k.Version, patches.Load())
	}
	if k.Description != lastDescription.Load() {
		t.Fatalf("description %q, last written %q: a lock write clobbered a management write", k.Description, lastDescription.Load())
	}
	t.Logf("%d management writes and %d samples during 240 lock writes", patches.Load(), samples.Load())

	t.Run("no key, no item", func(t *testing.T) {
		if err := st.RecordLock(ctx, "nokey", "192.0.2.1", now.Add(time.Minute), now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
		if _, err := st.GetKey(ctx, "nokey"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("recording a lock created an item for an unknown key: %v", err)
		}
	})
	t.Run("item without a locks map", func(t *testing.T) {
		newKey("oldkey")
		if _, err := ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(env.Table), UpdateExpression: aws.String("REMOVE #l"), ExpressionAttributeNames: map[string]string{"#l": "locks"},
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.KeyPK("oldkey")}, "sk": &types.AttributeValueMemberS{Value: "KEY"}},
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordLock(ctx, "oldkey", "192.0.2.1", now.Add(time.Minute), now); err != nil {
			t.Fatal(err)
		}
		k, err := st.GetKey(ctx, "oldkey")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := k.LockedUntil("192.0.2.1", now); !ok || k.Version != 1 {
			t.Fatalf("locks %v, version %d", k.Locks, k.Version)
		}
	})
}
