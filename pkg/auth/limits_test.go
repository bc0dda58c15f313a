package auth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// observed records the uses an instance reports, by code.
type observed struct {
	mu    sync.Mutex
	codes []string
}

func (o *observed) ObserveUse(_ context.Context, keyID, owner, code string, _ time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
}

func (o *observed) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.codes...)
}

func credits(n int64) func(*store.Key) {
	return func(k *store.Key) { k.Remaining = &n }
}

func rateLimit(limit, window int64) func(*store.Key) {
	return func(k *store.Key) { k.RateLimit = &limits.RateLimit{Limit: limit, WindowSeconds: window} }
}

// stored reads key id's limit state as the table holds it.
func stored(t *testing.T, st *store.Dynamo, id string) *limits.State {
	t.Helper()
	k, err := st.GetKey(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if k.UseState == nil {
		return &limits.State{}
	}
	return k.UseState
}

func (in *instance) verifyUse(t *testing.T, cred, ip string, u auth.Use) auth.Decision {
	t.Helper()
	d, err := in.v.VerifyUse(context.Background(), cred, ip, u)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// calls is what a step cost an instance: reads and writes.
func (in *instance) calls(step func()) (gets, writes int64) {
	g, w := in.db.Gets.Load(), in.db.Writes.Load()
	step()
	return in.db.Gets.Load() - g, in.db.Writes.Load() - w
}

// TestCreditsAndWindowRefuse: a key with 3 credits accepts 3 uses and refuses the
// fourth as usage_exceeded, each answer showing what is left; a key limited to 2 uses
// a minute refuses the third as rate_limited until the window ends, and takes uses
// again in the next window. Refusals spend nothing and are observed by code.
func TestCreditsAndWindowRefuse(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	in := newInstance(t, env, clock)
	obs := &observed{}
	in.v.Uses = obs
	const ip = "203.0.113.9"
	_, cred := testenv.SeedKey(t, in.st, in.v.Peppers, clock.Now(), []string{"orders:read"}, credits(3))
	for want := int64(2); want >= 0; want-- {
		d := in.verify(t, cred, ip)
		if !d.OK() || d.Limits == nil || d.Limits.Remaining == nil || *d.Limits.Remaining != want {
			t.Fatalf("use with %d left after: %+v", want, d)
		}
	}
	d := in.verify(t, cred, ip)
	if d.Reason != auth.UsageExceeded || d.RetryAfter != 0 || d.Limits == nil || *d.Limits.Remaining != 0 {
		t.Fatalf("fourth use: %+v, want usage_exceeded with no retry time", d)
	}
	// A bigger cost than what is left is refused too, and spends nothing.
	k2, cred2 := testenv.SeedKey(t, in.st, in.v.Peppers, clock.Now(), nil, credits(5))
	if d := in.verifyUse(t, cred2, ip, auth.Use{Cost: 6}); d.Reason != auth.UsageExceeded {
		t.Fatalf("cost 6 of 5 credits: %q", d.Reason)
	}
	if d := in.verifyUse(t, cred2, ip, auth.Use{Cost: 5}); !d.OK() || *stored(t, in.st, k2.ID).Remaining != 0 {
		t.Fatalf("cost 5 of 5 credits: %q", d.Reason)
	}

	// Align the clock to a window's start, so the window's end is known.
	clock.Advance(time.Duration(60-clock.Now().Unix()%60) * time.Second)
	_, rl := testenv.SeedKey(t, in.st, in.v.Peppers, clock.Now(), nil, rateLimit(2, 60))
	for i := range 2 {
		if d := in.verify(t, rl, ip); !d.OK() || d.Limits.RateLimit == nil || d.Limits.RateLimit.Remaining != int64(1-i) {
			t.Fatalf("rate-limited key, use %d: %+v", i+1, d)
		}
	}
	clock.Advance(20 * time.Second)
	d = in.verify(t, rl, ip)
	if d.Reason != auth.RateLimited || d.RetryAfter != 40*time.Second || d.RetryAfterSeconds() != 40 {
		t.Fatalf("third use in the window: %q, retry after %v, want 40s", d.Reason, d.RetryAfter)
	}
	if d.Principal.KeyID == "" || d.Limits.RateLimit.Remaining != 0 {
		t.Fatalf("refusal lacks the key or its window: %+v", d)
	}
	clock.Advance(40 * time.Second)
	if d := in.verify(t, rl, ip); !d.OK() {
		t.Fatalf("next window: %q", d.Reason)
	}
	want := []string{"VALID", "VALID", "VALID", "USAGE_EXCEEDED", "USAGE_EXCEEDED", "VALID", "VALID", "VALID", "RATE_LIMITED", "VALID"}
	if got := obs.all(); len(got) != len(want) {
		t.Fatalf("observed %v, want %v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("observed %v, want %v", got, want)
			}
		}
	}
}

// TestRoundTrips: a key without limits costs exactly one GetItem and no write per use
// (once the instance knows its owner has no limit); a key with limits, once this
// instance has seen it, exactly one UpdateItem and no read; its first use in an
// instance one read and one write.
func TestRoundTrips(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	in := newInstance(t, env, clock)
	const ip = "203.0.113.10"
	_, free := testenv.SeedKey(t, in.st, in.v.Peppers, clock.Now(), nil, nil)
	_, limited := testenv.SeedKey(t, in.st, in.v.Peppers, clock.Now(), nil, func(k *store.Key) {
		credits(1000)(k)
		rateLimit(1000, 60)(k)
	})
	in.verify(t, free, ip) // learns that the owner has no limit
	for i := range 5 {
		if g, w := in.calls(func() {
			if d := in.verify(t, free, ip); !d.OK() {
				t.Fatalf("unlimited key: %q", d.Reason)
			}
		}); g != 1 || w != 0 {
			t.Fatalf("unlimited key, use %d: %d reads, %d writes; want 1 GetItem", i, g, w)
		}
	}
	if g, w := in.calls(func() { in.verify(t, limited, ip) }); g != 1 || w != 1 {
		t.Fatalf("limited key, first use in the instance: %d reads, %d writes; want 1 and 1", g, w)
	}
	for i := range 5 {
		if g, w := in.calls(func() {
			if d := in.verify(t, limited, ip); !d.OK() {
				t.Fatalf("limited key: %q", d.Reason)
			}
		}); g != 0 || w != 1 {
			t.Fatalf("limited key, warm use %d: %d reads, %d writes; want the one UpdateItem", i, g, w)
		}
	}
	if s := stored(t, in.st, apikeyID(t, limited)); *s.Remaining != 994 || s.WindowCount != 6 {
		t.Fatalf("after 6 uses: remaining %d, window count %d", *s.Remaining, s.WindowCount)
	}
}

func apikeyID(t *testing.T, cred string) string {
	t.Helper()
	k, err := apikey.Parse(cred, testenv.KeyPrefix)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// TestWrongSecretSpendsNothing is the attack of one who knows a key id but not its
// secret and tries to drain its credits and window: on an instance that has the key
// warm and on a fresh one, wrong secrets are refused as an unknown key would be, and
// the key's credits, window and marks are untouched; the holder still gets in.
func TestWrongSecretSpendsNothing(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	warm, fresh := newInstance(t, env, clock), newInstance(t, env, clock)
	k, good := testenv.SeedKey(t, warm.st, warm.v.Peppers, clock.Now(), nil, func(k *store.Key) {
		credits(3)(k)
		rateLimit(2, 3600)(k)
	})
	if d := warm.verify(t, good, "203.0.113.11"); !d.OK() {
		t.Fatal(d.Reason)
	}
	before := stored(t, warm.st, k.ID)
	bad := apikey.NewWithID(testenv.KeyPrefix, k.ID).String()
	for i := range 4 {
		for name, in := range map[string]*instance{"warm": warm, "fresh": fresh} {
			// A new address each time, so lockout does not end the attack first.
			ip := "198.51.100." + string(rune('1'+i))
			if d := in.verify(t, bad, ip); d.Reason != auth.Unknown {
				t.Fatalf("%s instance, wrong secret: %q, want unknown", name, d.Reason)
			}
		}
	}
	after := stored(t, warm.st, k.ID)
	if *after.Remaining != *before.Remaining || after.WindowCount != before.WindowCount || len(after.Marks) != len(before.Marks) {
		t.Fatalf("wrong secrets spent: %+v → %+v", before, after)
	}
	if d := warm.verify(t, good, "203.0.113.11"); !d.OK() || *d.Limits.Remaining != 1 {
		t.Fatalf("the holder after the attack: %+v", d)
	}
}

// TestRefusedKeySpendsNothing: a revoked or expired key with limits is refused and
// spends nothing, whether the instance saw it before it was revoked (its cached view
// says active) or not; so is a use that lacks the required scope, or comes from
// outside the key's networks.
func TestRefusedKeySpendsNothing(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	warm, fresh := newInstance(t, env, clock), newInstance(t, env, clock)
	ctx := context.Background()
	const ip = "203.0.113.12"
	seed := func(edit func(*store.Key)) (*store.Key, string) {
		return testenv.SeedKey(t, warm.st, warm.v.Peppers, clock.Now(), []string{"orders:read"}, func(k *store.Key) {
			credits(10)(k)
			rateLimit(10, 3600)(k)
			if edit != nil {
				edit(k)
			}
		})
	}
	spentNothing := func(name, id string, before *limits.State) {
		t.Helper()
		after := stored(t, warm.st, id)
		if *after.Remaining != *before.Remaining || after.WindowCount != before.WindowCount {
			t.Fatalf("%s: spent %d credits, %d window", name, *before.Remaining-*after.Remaining, after.WindowCount-before.WindowCount)
		}
	}

	rk, revoked := seed(nil)
	warm.verify(t, revoked, ip)
	if _, err := warm.st.Apply(ctx, rk.ID, func(k *store.Key) (*store.Event, error) {
		k.Status = store.StatusRevoked
		return &store.Event{Time: clock.Now(), Type: "key.revoked", KeyID: k.ID, Actor: "root"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	before := stored(t, warm.st, rk.ID)
	for name, in := range map[string]*instance{"warm": warm, "fresh": fresh} {
		if d := in.verify(t, revoked, ip); d.Reason != auth.Revoked {
			t.Fatalf("%s instance, revoked key: %q", name, d.Reason)
		}
	}
	spentNothing("revoked", rk.ID, before)

	ek, expiring := seed(func(k *store.Key) { k.ExpiresAt = clock.Now().Add(time.Minute) })
	warm.verify(t, expiring, ip)
	clock.Advance(2 * time.Minute)
	before = stored(t, warm.st, ek.ID)
	for name, in := range map[string]*instance{"warm": warm, "fresh": fresh} {
		if g, w := in.calls(func() {
			if d := in.verify(t, expiring, ip); d.Reason != auth.Expired {
				t.Fatalf("%s instance, expired key: %q", name, d.Reason)
			}
		}); w != 0 || g != 1 {
			t.Fatalf("%s instance, expired key: %d reads, %d writes", name, g, w)
		}
	}
	spentNothing("expired", ek.ID, before)

	sk, scoped := seed(func(k *store.Key) { k.AllowedCIDRs = []string{"203.0.113.0/24"} })
	warm.verify(t, scoped, ip)
	before = stored(t, warm.st, sk.ID)
	if d := warm.verifyUse(t, scoped, ip, auth.Use{Scope: "orders:write"}); d.Reason != auth.InsufficientScope || d.Principal.KeyID != sk.ID {
		t.Fatalf("missing scope: %+v", d)
	}
	if d := warm.verifyUse(t, scoped, "198.51.100.20", auth.Use{Scope: "orders:read"}); d.Reason != auth.IPNotAllowed {
		t.Fatalf("outside the networks: %q", d.Reason)
	}
	// A free verification checks everything and counts nothing, on the key or its
	// owner's window.
	if err := warm.st.PutOwnerLimits(ctx, "alice@example.com", limits.OwnerLimits{RateLimit: &limits.RateLimit{Limit: 100, WindowSeconds: 3600}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(auth.OwnerLimitTTL) // the instance no longer trusts "no owner limit"
	for range 3 {
		if d := warm.verifyUse(t, scoped, ip, auth.Use{Free: true}); !d.OK() {
			t.Fatalf("free verification: %q", d.Reason)
		}
	}
	if s, err := warm.st.OwnerLimits(ctx, "alice@example.com"); err != nil || s.WindowCount != 0 {
		t.Fatalf("free verifications counted on the owner: %+v, %v", s, err)
	}
	spentNothing("scope and network", sk.ID, before)
	if d := warm.verifyUse(t, scoped, ip, auth.Use{Scope: "orders:read"}); !d.OK() {
		t.Fatalf("with the scope: %q", d.Reason)
	}
}

// TestOwnerLimitShared: an owner's rate limit holds across all its keys and
// instances: two keys without limits of their own, used from two instances, get 3
// uses a window between them, then rate_limited with the window's end; an owner
// without a limit costs nothing once known. A limit set is enforced within
// OwnerLimitTTL on an instance that knew the owner without one.
func TestOwnerLimitShared(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	clock.Advance(time.Duration(60-clock.Now().Unix()%60) * time.Second)
	a, b := newInstance(t, env, clock), newInstance(t, env, clock)
	ctx := context.Background()
	const ip = "203.0.113.13"
	_, k1 := testenv.SeedKey(t, a.st, a.v.Peppers, clock.Now(), nil, nil)
	_, k2 := testenv.SeedKey(t, a.st, a.v.Peppers, clock.Now(), nil, nil)
	a.verify(t, k1, ip) // a knows the owner has no limit
	if err := a.st.PutOwnerLimits(ctx, "alice@example.com", limits.OwnerLimits{RateLimit: &limits.RateLimit{Limit: 3, WindowSeconds: 60}}); err != nil {
		t.Fatal(err)
	}
	if d := a.verify(t, k2, ip); !d.OK() {
		t.Fatal(d.Reason) // within the TTL: not yet enforced on a, and not counted
	}
	clock.Advance(auth.OwnerLimitTTL)
	accepted := 0
	for i := range 8 {
		in, cred := a, k1
		if i%2 == 1 {
			in, cred = b, k2
		}
		switch d := in.verify(t, cred, ip); d.Reason {
		case auth.Accepted:
			accepted++
		case auth.RateLimited:
			if want := 60*time.Second - auth.OwnerLimitTTL; d.RetryAfter != want {
				t.Fatalf("owner refusal: retry after %v, want %v", d.RetryAfter, want)
			}
		default:
			t.Fatalf("use %d: %q", i, d.Reason)
		}
	}
	if accepted != 3 {
		t.Fatalf("owner limit 3 a window: %d accepted", accepted)
	}
	clock.Advance(60 * time.Second)
	if d := b.verify(t, k1, ip); !d.OK() {
		t.Fatalf("next window: %q", d.Reason)
	}
}

// TestConcurrentUsesNeverOverdraw: 4 instances × 8 callers race for 20 credits: exactly
// 20 uses are accepted, the rest refused as usage_exceeded, and remaining ends at 0.
func TestConcurrentUsesNeverOverdraw(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	var ins []*instance
	for range 4 {
		ins = append(ins, newInstance(t, env, clock))
	}
	k, cred := testenv.SeedKey(t, ins[0].st, ins[0].v.Peppers, clock.Now(), nil, credits(20))
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for _, in := range ins {
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 2 {
					d, err := in.v.Verify(context.Background(), cred, "203.0.113.14")
					switch {
					case err != nil:
						t.Error(err)
					case d.OK():
						ok.Add(1)
					case d.Reason == auth.UsageExceeded:
						refused.Add(1)
					default:
						t.Errorf("refused as %q", d.Reason)
					}
				}
			}()
		}
	}
	wg.Wait()
	if ok.Load() != 20 || refused.Load() != 44 || *stored(t, ins[0].st, k.ID).Remaining != 0 {
		t.Fatalf("accepted %d, refused %d, remaining %d", ok.Load(), refused.Load(), *stored(t, ins[0].st, k.ID).Remaining)
	}
}
