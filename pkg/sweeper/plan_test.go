package sweeper_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/sweeper"
)

// TestDecide is the sweeper's decision per key, without I/O.
func TestDecide(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cfg := sweeper.Defaults() // offsets 14, 7, 1 days; stale after 90; retention 365
	at := func(d time.Duration) time.Time { return now.Add(d) }
	used := func(d time.Duration) *time.Time { u := at(d); return &u }
	key := func(f func(k *store.Key)) *store.Key {
		k := &store.Key{ID: "k1", Status: store.StatusActive, CreatedAt: at(-10 * day), UpdatedAt: at(-day),
			ExpiresAt: at(30 * day), LastUsedAt: used(-day), Secret: store.Secret{N: 2}, Version: 3}
		f(k)
		return k
	}
	previous := func(d time.Duration) *store.Secret { return &store.Secret{N: 1, ExpiresAt: at(d)} }
	due := func(d time.Duration) store.Schedule { return store.Schedule{DueAt: at(d)} }
	cases := []struct {
		name string
		k    *store.Key
		cfg  func(*sweeper.Config)
		want sweeper.Plan
	}{
		{"live key: next is its 14-day reminder", key(func(*store.Key) {}), nil,
			sweeper.Plan{Schedule: due(16 * day)}},
		{"revoked: purge after retention from the revoke", key(func(k *store.Key) { k.Status = store.StatusRevoked; k.ExpiresAt = at(-day) }), nil,
			sweeper.Plan{Schedule: store.Schedule{PurgeAt: at(-day + 365*day)}}},
		{"past expiry: expire, purge after retention from expiry", key(func(k *store.Key) { k.ExpiresAt = at(-2 * day) }), nil,
			sweeper.Plan{Expire: true, Schedule: store.Schedule{PurgeAt: at(-2*day + 365*day)}}},
		{"expiry is due at its instant", key(func(k *store.Key) { k.ExpiresAt = now; k.Previous = previous(time.Hour) }), nil,
			sweeper.Plan{Expire: true, Schedule: store.Schedule{PurgeAt: at(365 * day)}}},
		{"expired already: Expire finds nothing, the purge time stands", key(func(k *store.Key) { k.Status = store.StatusExpired; k.ExpiresAt = at(-day) }), nil,
			sweeper.Plan{Expire: true, Schedule: store.Schedule{PurgeAt: at(-day + 365*day)}}},
		{"two offsets passed: the smaller one", key(func(k *store.Key) { k.ExpiresAt = at(6*day + time.Hour) }), nil,
			sweeper.Plan{Expiry: &sweeper.ExpiryDue{OffsetDays: 7, DaysLeft: 6}, Schedule: due(5*day + time.Hour)}},
		{"last offset: next is expiry", key(func(k *store.Key) { k.ExpiresAt = at(2 * time.Hour) }), nil,
			sweeper.Plan{Expiry: &sweeper.ExpiryDue{OffsetDays: 1, DaysLeft: 0}, Schedule: due(2 * time.Hour)}},
		{"idle for the stale time: notice, next is a stale time from now", key(func(k *store.Key) {
			k.CreatedAt, k.LastUsedAt, k.ExpiresAt = at(-200*day), used(-91*day), at(300*day)
		}), nil,
			sweeper.Plan{Stale: &sweeper.StaleDue{IdleSince: at(-91 * day), IdleDays: 91, StaleAfterDays: 90}, Schedule: due(90 * day)}},
		{"never used: idle since created", key(func(k *store.Key) { k.CreatedAt, k.LastUsedAt, k.ExpiresAt = at(-90*day), nil, at(300*day) }), nil,
			sweeper.Plan{Stale: &sweeper.StaleDue{IdleSince: at(-90 * day), IdleDays: 90, StaleAfterDays: 90}, Schedule: due(90 * day)}},
		{"stale notices off", key(func(k *store.Key) { k.CreatedAt, k.LastUsedAt, k.ExpiresAt = at(-200*day), nil, at(300*day) }),
			func(c *sweeper.Config) { c.StaleAfter = 0 }, sweeper.Plan{Schedule: due(286 * day)}},
		{"grace over: finish, and the old grace is not the next instant", key(func(k *store.Key) {
			k.Status, k.Previous = store.StatusRotating, previous(-time.Minute)
		}), nil,
			sweeper.Plan{FinishRotation: true, Schedule: due(16 * day)}},
		{"grace running: next is its end", key(func(k *store.Key) { k.Status, k.Previous = store.StatusRotating, previous(time.Hour) }), nil,
			sweeper.Plan{Schedule: due(time.Hour)}},
		{"reminder and finish in one visit", key(func(k *store.Key) { k.ExpiresAt, k.Previous = at(10*day), previous(0) }), nil,
			sweeper.Plan{Expiry: &sweeper.ExpiryDue{OffsetDays: 14, DaysLeft: 10}, FinishRotation: true, Schedule: due(3 * day)}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				tt.cfg(&c)
			}
			before := *tt.k
			got := sweeper.Decide(tt.k, now, c)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide =\n %+v\nwant\n %+v", describe(got), describe(tt.want))
			}
			if !reflect.DeepEqual(*tt.k, before) {
				t.Errorf("Decide changed the key: %+v, was %+v", *tt.k, before)
			}
		})
	}
}

func describe(p sweeper.Plan) map[string]any {
	m := map[string]any{"expire": p.Expire, "finish": p.FinishRotation, "schedule": p.Schedule}
	if p.Expiry != nil {
		m["expiry"] = *p.Expiry
	}
	if p.Stale != nil {
		m["stale"] = *p.Stale
	}
	return m
}
