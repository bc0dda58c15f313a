package auth_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/lockout"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// instance is one cold start of a function: its own store client, guard and verifier.
type instance struct {
	v  *auth.Verifier
	st *store.Dynamo
	db *testenv.CountingDB
}

func newInstance(t *testing.T, env *testenv.Env, clock *testenv.Clock) *instance {
	t.Helper()
	cfg := service.Config{
		Local: true, // DynamoDB Local, as FromEnv finds it (env.Local)
		Table: env.Table, Prefix: testenv.KeyPrefix, PepperSecretID: env.PepperSecretID, RootSecretID: env.RootSecretID,
		DefaultExpiry: 90 * 24 * time.Hour, EventRetention: 400 * 24 * time.Hour,
	}
	deps := service.Build(cfg, env.AWS)
	db := &testenv.CountingDB{API: deps.DDB}
	st := store.New(db, env.Table, cfg.EventRetention)
	v := deps.Verifier
	v.Keys, v.Limits, v.Guard, v.Usage, v.Now = st, st, lockout.New(st, cfg.Lockout), nil, clock.Now
	return &instance{v: v, st: st, db: db}
}

func (in *instance) verify(t *testing.T, cred, ip string) auth.Decision {
	t.Helper()
	d, err := in.v.Verify(context.Background(), cred, ip)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLockSeenByEveryInstance: instance A locks a (key id, IP) pair after five wrong
// secrets. Instance B, which never saw a failure, refuses the correct secret from that
// IP with TooManyAttempts and the lock's real remaining time, for exactly the one
// GetItem of verification and no write; the refusal resets and records nothing.
// Another IP still gets in, and the lock ends by itself after the cooldown.
func TestLockSeenByEveryInstance(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	a, b := newInstance(t, env, clock), newInstance(t, env, clock)
	ctx := context.Background()

	k, good := testenv.SeedKey(t, a.st, a.v.Peppers, clock.Now(), []string{"orders:read"}, nil)
	bad := apikey.NewWithID(testenv.KeyPrefix, k.ID).String()
	const attacker, other = "198.51.100.66", "2001:db8::10"

	// B has verified the key before: it is warm, with nothing in memory about the pair.
	if d := b.verify(t, good, attacker); !d.OK() {
		t.Fatalf("before any failure: %+v", d.Reason)
	}
	for i := range 5 {
		if d := a.verify(t, bad, attacker); d.Reason != auth.Unknown {
			t.Fatalf("wrong secret %d on A: %q, want unknown", i+1, d.Reason)
		}
	}
	lockedAt := clock.Now()
	clock.Advance(10 * time.Second)
	if d := a.verify(t, good, attacker); d.Reason != auth.TooManyAttempts || d.RetryAfter != 5*time.Minute-10*time.Second {
		t.Fatalf("A, which set the lock: %q, retry after %v", d.Reason, d.RetryAfter)
	}

	counter := lockoutItem(t, env, k.ID, attacker)
	events := eventCount(t, a.st, k.ID)
	gets, writes := b.db.Gets.Load(), b.db.Writes.Load()
	d := b.verify(t, good, attacker)
	if d.Reason != auth.TooManyAttempts {
		t.Fatalf("B accepted or refused otherwise the correct secret from a locked IP: %q", d.Reason)
	}
	if d.RetryAfter != 5*time.Minute-10*time.Second {
		t.Fatalf("B: retry after %v, want the lock's remaining %v", d.RetryAfter, 5*time.Minute-10*time.Second)
	}
	if g, w := b.db.Gets.Load()-gets, b.db.Writes.Load()-writes; g != 1 || w != 0 {
		t.Fatalf("B's refusal cost %d reads and %d writes, want the one GetItem", g, w)
	}
	// A wrong secret from the locked IP gets the same answer, for the same cost.
	gets = b.db.Gets.Load()
	if d := b.verify(t, bad, attacker); d.Reason != auth.TooManyAttempts || b.db.Gets.Load()-gets != 1 || b.db.Writes.Load() != writes {
		t.Fatalf("B, wrong secret from the locked IP: %q", d.Reason)
	}
	if after := lockoutItem(t, env, k.ID, attacker); after["n"] != counter["n"] || after["locked_until"] != counter["locked_until"] {
		t.Fatalf("a refused attempt changed the counter: %v → %v", counter, after)
	}
	if n := eventCount(t, a.st, k.ID); n != events {
		t.Fatalf("a refused attempt recorded %d events", n-events)
	}
	if got := lockedAt.Add(5 * time.Minute).Unix(); counter["locked_until"] != got {
		t.Fatalf("counter locked until %d, want %d", counter["locked_until"], got)
	}

	// A record lost from the key item is put back by the next failed attempt on an
	// instance that did not know the lock, which finds it in the counter.
	if _, err := env.DDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(env.Table), UpdateExpression: aws.String("REMOVE #l.#ip"),
		ExpressionAttributeNames: map[string]string{"#l": "locks", "#ip": attacker},
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.KeyPK(k.ID)}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
		},
	}); err != nil {
		t.Fatal(err)
	}
	c := newInstance(t, env, clock)
	if d := c.verify(t, bad, attacker); d.Reason != auth.TooManyAttempts {
		t.Fatalf("C, wrong secret from the locked IP, record lost: %q", d.Reason)
	}
	fresh := newInstance(t, env, clock)
	if d := fresh.verify(t, good, attacker); d.Reason != auth.TooManyAttempts || fresh.db.Gets.Load() != 1 {
		t.Fatalf("after the repair, a fresh instance: %q after %d reads", d.Reason, fresh.db.Gets.Load())
	}

	// Another address is not locked, on either instance.
	if d := b.verify(t, good, other); !d.OK() {
		t.Fatalf("B, another IP: %q", d.Reason)
	}
	if d := a.verify(t, good, other); !d.OK() {
		t.Fatalf("A, another IP: %q", d.Reason)
	}

	// The lock ends by itself.
	clock.Advance(5*time.Minute - 10*time.Second - time.Second)
	if d := b.verify(t, good, attacker); d.Reason != auth.TooManyAttempts || d.RetryAfter != time.Second {
		t.Fatalf("a second before the end: %q, retry after %v", d.Reason, d.RetryAfter)
	}
	clock.Advance(time.Second)
	for name, in := range map[string]*instance{"A": a, "B": b} {
		if d := in.verify(t, good, attacker); !d.OK() {
			t.Fatalf("%s: still locked after the cooldown: %q", name, d.Reason)
		}
	}
}

// TestLockOfUnknownKey: locking a key id that does not exist creates no key item; the
// pair is still refused, by the counter, on an instance that did not see the lock.
func TestLockOfUnknownKey(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	a, b := newInstance(t, env, clock), newInstance(t, env, clock)
	k := apikey.New(testenv.KeyPrefix)
	const attacker = "198.51.100.67"
	for range 5 {
		a.verify(t, k.String(), attacker)
	}
	if _, err := a.st.GetKey(context.Background(), k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the lock of an unknown key id made an item: %v", err)
	}
	if d := b.verify(t, k.String(), attacker); d.Reason != auth.TooManyAttempts || d.RetryAfter != 5*time.Minute {
		t.Fatalf("B: %q, retry after %v", d.Reason, d.RetryAfter)
	}
}

// lockoutItem reads the failure counter of the pair, as numbers.
func lockoutItem(t *testing.T, env *testenv.Env, keyID, ip string) map[string]int64 {
	t.Helper()
	out, err := env.DDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(env.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "LOCKOUT#" + keyID + "#" + ip},
			"sk": &types.AttributeValueMemberS{Value: "LOCKOUT"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for name, v := range out.Item {
		if n, ok := v.(*types.AttributeValueMemberN); ok {
			x, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			got[name] = x
		}
	}
	return got
}

func eventCount(t *testing.T, st *store.Dynamo, keyID string) int {
	t.Helper()
	page, err := st.ListEvents(context.Background(), keyID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Items)
}
