package store_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/keyward/keyward/pkg/store"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func secret(n int64) store.Secret {
	return store.Secret{N: n, Hash: []byte{byte(n)}, Pepper: "p1"}
}

// key is an active key of secret version 1 that expires in 30 days.
func key(edit ...func(*store.Key)) *store.Key {
	k := &store.Key{
		ID: "abcdefghijklmnop", Name: "n", Owner: "alice", Scopes: []string{"orders:read"},
		Status: store.StatusActive, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0.Add(-time.Hour),
		ExpiresAt: t0.Add(30 * 24 * time.Hour), Metadata: map[string]any{"a": "b"}, AllowedCIDRs: []string{},
		Version: 3, Secret: secret(1),
	}
	for _, e := range edit {
		e(k)
	}
	return k
}

func rotating(k *store.Key) {
	p := secret(1)
	p.ExpiresAt = t0.Add(time.Hour)
	k.Status, k.Previous, k.Secret = store.StatusRotating, &p, secret(2)
}
func revoked(k *store.Key) { k.Status = store.StatusRevoked }
func expired(k *store.Key) { k.Status = store.StatusExpired; k.ExpiresAt = t0.Add(-time.Hour) }

// lapsed: expires_at has passed, but no one has stored expired yet.
func lapsed(k *store.Key) { k.ExpiresAt = t0.Add(-time.Hour) }

func TestBump(t *testing.T) {
	k := key()
	k.Bump(t0)
	if k.Version != 4 || !k.UpdatedAt.Equal(t0) {
		t.Fatalf("Bump: version %d, updated %v", k.Version, k.UpdatedAt)
	}
}

func TestCreate(t *testing.T) {
	k := &store.Key{ID: "abcdefghijklmnop", Name: "n", Scopes: []string{"a:b"}, ExpiresAt: t0.Add(time.Hour), Secret: secret(1),
		Status: store.StatusRevoked, Version: 9, Previous: &store.Secret{N: 7}}
	detail := k.Create(t0)
	if k.Status != store.StatusActive || k.Version != 1 || k.Previous != nil || !k.CreatedAt.Equal(t0) || !k.UpdatedAt.Equal(t0) ||
		k.Metadata == nil || len(k.Metadata) != 0 {
		t.Fatalf("created key %+v", k)
	}
	want := map[string]any{"version": 1, "name": "n", "scopes": []string{"a:b"}, "expires_at": t0.Add(time.Hour)}
	if !reflect.DeepEqual(detail, want) {
		t.Fatalf("detail %v, want %v", detail, want)
	}
	m := map[string]any{"x": "y"}
	k = &store.Key{Metadata: m}
	k.Create(t0)
	if !reflect.DeepEqual(k.Metadata, m) {
		t.Fatalf("given metadata replaced: %v", k.Metadata)
	}
}

func ptr[T any](v T) *T { return &v }

func TestApplyPatch(t *testing.T) {
	later := t0.Add(60 * 24 * time.Hour)
	cases := []struct {
		name    string
		key     *store.Key
		patch   store.Patch
		changed []string
		err     error
		check   func(*store.Key) bool
	}{
		{"nothing", key(), store.Patch{}, nil, nil, nil},
		{"same values", key(), store.Patch{Name: ptr("n"), Owner: ptr("alice"), Scopes: &[]string{"orders:read"}}, nil, nil, nil},
		{"fields, reported sorted", key(), store.Patch{Owner: ptr("bob"), Name: ptr("m"), Description: ptr("d"), AllowedCIDRs: &[]string{"10.0.0.0/8"}},
			[]string{"allowed_cidrs", "description", "name", "owner"}, nil,
			func(k *store.Key) bool {
				return k.Name == "m" && k.Owner == "bob" && k.Description == "d" && k.AllowedCIDRs[0] == "10.0.0.0/8"
			}},
		{"scopes", key(), store.Patch{Scopes: &[]string{"orders:write"}}, []string{"scopes"}, nil,
			func(k *store.Key) bool { return k.Scopes[0] == "orders:write" }},
		{"expiry extends an expired key", key(expired), store.Patch{ExpiresAt: &later}, []string{"expires_at"}, nil,
			func(k *store.Key) bool { return k.Status == store.StatusActive && k.ExpiresAt.Equal(later) }},
		{"expiry set to the same date still revives a stored expired", key(func(k *store.Key) { k.Status = store.StatusExpired; k.ExpiresAt = later }),
			store.Patch{ExpiresAt: &later}, nil, nil, func(k *store.Key) bool { return k.Status == store.StatusActive }},
		{"expiry keeps rotating", key(rotating), store.Patch{ExpiresAt: &later}, []string{"expires_at"}, nil,
			func(k *store.Key) bool { return k.Status == store.StatusRotating && k.Previous != nil }},
		{"metadata merged", key(), store.Patch{Metadata: &map[string]any{"c": "d", "a": nil}}, []string{"metadata"}, nil,
			func(k *store.Key) bool { return reflect.DeepEqual(k.Metadata, map[string]any{"c": "d"}) }},
		{"metadata merge of nothing", key(), store.Patch{Metadata: &map[string]any{}}, nil, nil,
			func(k *store.Key) bool { return reflect.DeepEqual(k.Metadata, map[string]any{"a": "b"}) }},
		{"metadata cleared", key(), store.Patch{Metadata: new(map[string]any)}, []string{"metadata"}, nil,
			func(k *store.Key) bool { return k.Metadata != nil && len(k.Metadata) == 0 }},
		{"revoked refused", key(revoked), store.Patch{Name: ptr("m")}, nil, store.ErrRevoked,
			func(k *store.Key) bool { return k.Name == "n" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			version := c.key.Version
			changed, err := c.key.ApplyPatch(c.patch)
			if !errors.Is(err, c.err) || !reflect.DeepEqual(changed, c.changed) {
				t.Fatalf("ApplyPatch = %v, %v; want %v, %v", changed, err, c.changed, c.err)
			}
			if c.check != nil && !c.check(c.key) {
				t.Fatalf("key after patch: %+v", c.key)
			}
			if c.key.Version != version {
				t.Fatal("ApplyPatch changed the version: only Bump does")
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	target := map[string]any{"a": "b", "c": map[string]any{"d": "e", "f": "g"}, "x": 1}
	patch := map[string]any{"a": "z", "c": map[string]any{"f": nil, "h": "i"}, "x": nil, "n": map[string]any{"k": nil, "m": 2}}
	got := fmt.Sprint(store.MergePatch(target, patch))
	if want := "map[a:z c:map[d:e h:i] n:map[m:2]]"; got != want {
		t.Fatalf("MergePatch = %s, want %s", got, want)
	}
	if fmt.Sprint(target) != "map[a:b c:map[d:e f:g] x:1]" {
		t.Fatal("MergePatch changed its input")
	}
}

func TestRotate(t *testing.T) {
	cases := []struct {
		name   string
		key    *store.Key
		next   store.Secret
		grace  time.Duration
		err    error
		status string
		prev   int64 // the previous secret's version after, 0 for none
		detail map[string]any
	}{
		{"with grace", key(), secret(2), time.Hour, nil, store.StatusRotating, 1,
			map[string]any{"secret_version": int64(2), "grace_seconds": int64(3600), "previous_expires_at": t0.Add(time.Hour)}},
		{"without grace", key(), secret(2), 0, nil, store.StatusActive, 0,
			map[string]any{"secret_version": int64(2), "grace_seconds": int64(0)}},
		{"during a grace drops the oldest", key(rotating), secret(3), time.Minute, nil, store.StatusRotating, 2,
			map[string]any{"secret_version": int64(3), "grace_seconds": int64(60), "previous_expires_at": t0.Add(time.Minute)}},
		{"during a grace, without one", key(rotating), secret(3), 0, nil, store.StatusActive, 0,
			map[string]any{"secret_version": int64(3), "grace_seconds": int64(0)}},
		{"revoked", key(revoked), secret(2), time.Hour, store.ErrRevoked, store.StatusRevoked, 0, nil},
		{"stored expired", key(expired), secret(2), time.Hour, store.ErrExpired, store.StatusExpired, 0, nil},
		{"lapsed, not yet stored", key(lapsed), secret(2), time.Hour, store.ErrExpired, store.StatusActive, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.key.Rotatable(t0); !errors.Is(err, c.err) {
				t.Fatalf("Rotatable = %v, want %v", err, c.err)
			}
			before := *c.key
			detail, err := c.key.Rotate(c.next, "kw_test_abcd", c.grace, t0)
			if !errors.Is(err, c.err) || !reflect.DeepEqual(detail, c.detail) {
				t.Fatalf("Rotate = %v, %v; want %v, %v", detail, err, c.detail, c.err)
			}
			k := c.key
			if err != nil {
				if !reflect.DeepEqual(*k, before) {
					t.Fatal("a refused rotation changed the key")
				}
				return
			}
			prev := int64(0)
			if k.Previous != nil {
				prev = k.Previous.N
			}
			if k.Status != c.status || prev != c.prev || k.Secret.N != c.next.N || k.Start != "kw_test_abcd" || k.Version != before.Version {
				t.Fatalf("after Rotate: status %s, previous %d, secret %d, start %q, version %d", k.Status, prev, k.Secret.N, k.Start, k.Version)
			}
		})
	}
	if _, err := key().Rotate(secret(3), "s", time.Hour, t0); err == nil {
		t.Fatal("Rotate accepted a secret version that is not the next one")
	}
}

func TestFinishRotation(t *testing.T) {
	cases := []struct {
		name   string
		key    *store.Key
		ok     bool
		status string
	}{
		{"rotating", key(rotating), true, store.StatusActive},
		{"grace over, status not yet written", key(rotating, func(k *store.Key) { k.Previous.ExpiresAt = t0.Add(-time.Minute) }), true, store.StatusActive},
		{"expired with a previous keeps expired", key(rotating, func(k *store.Key) { k.Status = store.StatusExpired }), true, store.StatusExpired},
		{"no previous", key(), false, store.StatusActive},
		{"revoked", key(revoked), false, store.StatusRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := *c.key
			detail, ok := c.key.FinishRotation(t0)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				if detail != nil || !reflect.DeepEqual(*c.key, before) {
					t.Fatalf("nothing to finish, yet detail %v, key %+v", detail, c.key)
				}
				return
			}
			if c.key.Previous != nil || c.key.Status != c.status || !reflect.DeepEqual(detail, map[string]any{"dropped_secret_version": int64(1)}) {
				t.Fatalf("after finish: previous %v, status %s, detail %v", c.key.Previous, c.key.Status, detail)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	for _, k := range []*store.Key{key(), key(rotating), key(expired)} {
		detail, ok := k.Revoke(t0)
		if !ok || detail == nil || len(detail) != 0 || k.Status != store.StatusRevoked || k.Previous != nil {
			t.Fatalf("Revoke = %v, %v; key %+v", detail, ok, k)
		}
		if detail, ok := k.Revoke(t0); ok || detail != nil {
			t.Fatal("revoking twice changed something")
		}
	}
}

func TestExpire(t *testing.T) {
	cases := []struct {
		name   string
		key    *store.Key
		ok     bool
		detail map[string]any
	}{
		{"lapsed", key(lapsed), true, map[string]any{"expires_at": t0.Add(-time.Hour)}},
		{"lapsed while rotating drops the previous", key(rotating, lapsed), true,
			map[string]any{"expires_at": t0.Add(-time.Hour), "dropped_secret_version": int64(1)}},
		{"stored expired with a previous", key(rotating, expired), true,
			map[string]any{"expires_at": t0.Add(-time.Hour), "dropped_secret_version": int64(1)}},
		{"stored expired already", key(expired), false, nil},
		{"revoked stands", key(revoked, lapsed), false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := *c.key
			detail, ok := c.key.Expire(t0)
			if ok != c.ok || !reflect.DeepEqual(detail, c.detail) {
				t.Fatalf("Expire = %v, %v; want %v, %v", detail, ok, c.detail, c.ok)
			}
			if !ok {
				if !reflect.DeepEqual(*c.key, before) {
					t.Fatal("nothing to expire, yet the key changed")
				}
				return
			}
			if c.key.Status != store.StatusExpired || c.key.Previous != nil || c.key.Version != before.Version {
				t.Fatalf("after Expire: %+v", c.key)
			}
		})
	}
}

func TestPurgeableAt(t *testing.T) {
	const retention = 24 * time.Hour
	cases := []struct {
		name string
		key  *store.Key
		at   time.Time
		ok   bool
	}{
		{"active", key(), time.Time{}, false},
		{"rotating", key(rotating), time.Time{}, false},
		{"lapsed, not yet stored", key(lapsed), time.Time{}, false},
		{"expired", key(expired), t0.Add(-time.Hour + retention), true},
		{"expired with a previous still to drop", key(rotating, expired), time.Time{}, false},
		{"revoked: after its last write", key(revoked), t0.Add(-time.Hour + retention), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at, ok := c.key.PurgeableAt(retention)
			if ok != c.ok || !at.Equal(c.at) {
				t.Fatalf("PurgeableAt = %v, %v; want %v, %v", at, ok, c.at, c.ok)
			}
		})
	}
}

// TestLifecycleProperties drives a key through random sequences of every transition
// at random times, as the API and the sweeper apply them (Bump after each change),
// and checks the lifecycle's rules after every step:
//   - at most two secrets are valid at any instant: the current one and at most one
//     previous, which is older than the current;
//   - revoked is terminal: once revoked, no transition changes the key;
//   - the version moves by exactly one per applied change, and never otherwise;
//   - a refused or idle transition leaves the key exactly as it was.
func TestLifecycleProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := key()
		now := t0
		revokedAs := (*store.Key)(nil)
		for i := range rapid.IntRange(1, 30).Draw(t, "steps") {
			now = now.Add(time.Duration(rapid.IntRange(0, 48*3600).Draw(t, fmt.Sprintf("wait%d", i))) * time.Second)
			before := *k
			op := rapid.SampledFrom([]string{"rotate", "finish", "revoke", "expire", "patch_expiry", "patch_name"}).Draw(t, fmt.Sprintf("op%d", i))
			changed, err := step(t, k, op, now, i)
			switch {
			case err != nil || !changed:
				if !reflect.DeepEqual(*k, before) {
					t.Fatalf("%s refused or idle (%v), yet the key changed", op, err)
				}
			default:
				k.Bump(now)
				if k.Version != before.Version+1 {
					t.Fatalf("%s: version %d after %d", op, k.Version, before.Version)
				}
			}
			if revokedAs != nil && !reflect.DeepEqual(*k, *revokedAs) {
				t.Fatalf("%s changed a revoked key", op)
			}
			if k.Status == store.StatusRevoked && revokedAs == nil {
				c := *k
				revokedAs = &c
			}
			if k.Previous != nil && k.Previous.N >= k.Secret.N {
				t.Fatalf("previous secret %d not older than the current %d", k.Previous.N, k.Secret.N)
			}
			if k.Status == store.StatusRevoked && k.Previous != nil {
				t.Fatal("a revoked key keeps a previous secret")
			}
			live := 0
			for n := int64(1); n <= k.Secret.N; n++ {
				if k.SecretLive(n, now) {
					live++
				}
			}
			if live > 2 {
				t.Fatalf("%d secrets valid at once", live)
			}
		}
	})
}

// step applies one transition named op to k, as its caller would, and reports
// whether it changed the key.
func step(t *rapid.T, k *store.Key, op string, now time.Time, i int) (bool, error) {
	switch op {
	case "rotate":
		grace := time.Duration(rapid.IntRange(0, 72*3600).Draw(t, fmt.Sprintf("grace%d", i))) * time.Second
		_, err := k.Rotate(secret(k.Secret.N+1), "kw_test_x", grace, now)
		return err == nil, err
	case "finish":
		_, ok := k.FinishRotation(now)
		return ok, nil
	case "revoke":
		_, ok := k.Revoke(now)
		return ok, nil
	case "expire":
		_, ok := k.Expire(now)
		return ok, nil
	case "patch_expiry":
		at := now.Add(time.Duration(rapid.IntRange(1, 90*24).Draw(t, fmt.Sprintf("expiry%d", i))) * time.Hour)
		_, err := k.ApplyPatch(store.Patch{ExpiresAt: &at})
		return err == nil, err
	default:
		name := rapid.SampledFrom([]string{"n", "m"}).Draw(t, fmt.Sprintf("name%d", i))
		changed, err := k.ApplyPatch(store.Patch{Name: &name})
		return len(changed) > 0, err
	}
}
