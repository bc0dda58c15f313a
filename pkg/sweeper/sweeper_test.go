package sweeper_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/sweeper"
	"github.com/keyward/keyward/pkg/testenv"
)

// item returns key id's raw item, for the due and ttl attributes.
func (w *world) item(id string) map[string]types.AttributeValue {
	w.t.Helper()
	out, err := w.env.DDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(w.env.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)}, "sk": &types.AttributeValueMemberS{Value: "KEY"}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Item
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}

func TestTransitionsAndReminders(t *testing.T) {
	w := newWorld(t)
	now := w.now
	expired := w.key("expired", func(k *store.Key) { k.ExpiresAt = now.Add(-time.Hour) })
	rotating := w.key("rotating", func(k *store.Key) {
		k.Status = store.StatusRotating
		k.Previous = &store.Secret{N: 1, Hash: []byte("old"), Pepper: "p", ExpiresAt: now.Add(-time.Minute)}
		k.Secret.N = 2
	})
	expiring := w.key("expiring", func(k *store.Key) { k.ExpiresAt = now.Add(5*day + time.Hour) })
	stale := w.key("stale", func(k *store.Key) {
		k.CreatedAt = now.Add(-120 * day)
		used := now.Add(-91 * day)
		k.LastUsedAt = &used
		k.ExpiresAt = now.Add(200 * day)
	})
	used := w.key("used", func(k *store.Key) { u := now.Add(-time.Hour); k.LastUsedAt = &u; k.CreatedAt = now.Add(-200 * day) })
	revoked := w.key("revoked", nil)
	w.change(revoked.ID, func(k *store.Key) { k.Status = store.StatusRevoked; k.UpdatedAt = now })
	fresh := w.key("fresh", nil)

	res := w.sweep(0)
	if res.Expired != 1 || res.RotationsFinished != 1 || res.ExpiryReminders != 1 || res.StaleReminders != 1 || res.Delivered != 2 {
		t.Fatalf("first run: %+v", res)
	}
	// Items read: the seven keys, each due once (new keys are due at once).
	if res.ItemsRead != 7 {
		t.Errorf("items read = %d, want 7", res.ItemsRead)
	}

	t.Run("expired", func(t *testing.T) {
		k := w.get(expired.ID)
		if k.Status != store.StatusExpired || w.events(expired.ID)[store.EventKeyExpired] != 1 {
			t.Fatalf("status %s, events %v", k.Status, w.events(expired.ID))
		}
		it := w.item(expired.ID)
		if it["due_at"] != nil || num(it["ttl"]) == "" {
			t.Fatalf("expired key: due_at %v ttl %v, want no due_at and a ttl", it["due_at"], it["ttl"])
		}
	})
	t.Run("rotation finished", func(t *testing.T) {
		k := w.get(rotating.ID)
		if k.Previous != nil || k.Status != store.StatusActive || w.events(rotating.ID)[store.EventKeyRotationFinished] != 1 {
			t.Fatalf("%+v %v", k, w.events(rotating.ID))
		}
	})
	t.Run("revoked purge", func(t *testing.T) {
		it := w.item(revoked.ID)
		if it["due_at"] != nil || num(it["ttl"]) == "" {
			t.Fatalf("revoked key: due_at %v ttl %v", it["due_at"], it["ttl"])
		}
	})
	t.Run("rescheduled", func(t *testing.T) {
		want := fresh.ExpiresAt.Add(-14 * day).Unix()
		if got := num(w.item(fresh.ID)["due_at"]); got != itoa(want) {
			t.Fatalf("fresh key due_at = %s, want %d (14 days before expiry)", got, want)
		}
		if w.events(used.ID)[store.EventStaleReminder] != 0 {
			t.Fatal("a used key got a stale notice")
		}
	})
	t.Run("log", func(t *testing.T) {
		if n := w.events(expiring.ID)[store.EventExpiryReminder]; n != 1 {
			t.Fatalf("expiry reminders in log = %d", n)
		}
		if n := w.events(stale.ID)[store.EventStaleReminder]; n != 1 {
			t.Fatalf("stale reminders in log = %d", n)
		}
	})
	t.Run("read back", func(t *testing.T) {
		for name, url := range map[string]string{"eventbridge": w.ebQueue, "sns": w.snsQueue} {
			ms := w.drain(url, 2)
			if len(ms) != 2 {
				t.Fatalf("%s: %d messages, want 2: %+v", name, len(ms), ms)
			}
			for _, m := range ms {
				d := m.Detail
				switch d["key_id"] {
				case expiring.ID:
					if name == "eventbridge" && m.DetailType != sweeper.DetailTypeExpiring {
						t.Errorf("detail-type %q", m.DetailType)
					}
					if d["kind"] != "expiry" || d["offset_days"] != float64(7) || d["days_left"] != float64(5) || d["owner"] != "alice@example.com" {
						t.Errorf("%s expiry detail: %v", name, d)
					}
				case stale.ID:
					if name == "eventbridge" && m.DetailType != sweeper.DetailTypeStale {
						t.Errorf("detail-type %q", m.DetailType)
					}
					if d["kind"] != "stale" || d["idle_days"] != float64(91) || d["stale_after_days"] != float64(90) || d["last_used_at"] == nil {
						t.Errorf("%s stale detail: %v", name, d)
					}
				default:
					t.Errorf("%s: unexpected reminder %v", name, d)
				}
			}
		}
	})

	// Nothing new at the same instant; a week later the expiring key has expired and
	// the 1-day reminder never fires on an expired key.
	if res := w.sweep(0); res.ItemsRead != 0 || res.Delivered != 0 {
		t.Fatalf("second run at the same instant: %+v", res)
	}
	if res := w.sweep(4*day + 2*time.Hour); res.ExpiryReminders != 1 || res.Delivered != 1 {
		t.Fatalf("1-day reminder: %+v", res)
	}
	if res := w.sweep(7 * day); res.Expired != 1 || res.ExpiryReminders != 0 {
		t.Fatalf("a week later: %+v", res)
	}
	if got := len(w.drain(w.ebQueue, 1)); got != 1 {
		t.Fatalf("later runs delivered %d events, want 1 (the 1-day reminder)", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestExactlyOnceConcurrentRunsAndDuplicateEvent(t *testing.T) {
	w := newWorld(t)
	const n = 30
	var ids []string
	for i := range n {
		k := w.key("k", func(k *store.Key) {
			k.ExpiresAt = w.now.Add(time.Duration(3+i%3) * day)
			k.CreatedAt = w.now.Add(-100 * day) // stale too
		})
		ids = append(ids, k.ID)
	}
	ev := scheduledEvent(t)
	var wg sync.WaitGroup
	results := make([]sweeper.Result, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Four overlapping runs, two of them the same scheduled event delivered twice.
			res, err := w.sweeper(0, nil).Handle(context.Background(), ev)
			if err != nil {
				t.Errorf("run %d: %v", i, err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	// And the event delivered once more, after the others.
	if _, err := w.sweeper(0, nil).Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var recorded int64
	for _, r := range results {
		recorded += r.ExpiryReminders + r.StaleReminders
	}
	if recorded != 2*n {
		t.Errorf("reminders recorded across runs = %d, want %d", recorded, 2*n)
	}
	for name, url := range map[string]string{"eventbridge": w.ebQueue, "sns": w.snsQueue} {
		ms := w.drain(url, 2*n)
		per := byReminder(ms)
		if len(ms) != 2*n || len(per) != 2*n {
			t.Errorf("%s: %d messages for %d reminders, want %d each", name, len(ms), len(per), 2*n)
		}
	}
	for _, id := range ids {
		ev := w.events(id)
		if ev[store.EventExpiryReminder] != 1 || ev[store.EventStaleReminder] != 1 {
			t.Errorf("key %s events %v", id, ev)
		}
	}
}

func TestDeadlineStopAndResume(t *testing.T) {
	w := newWorld(t)
	const n = 40
	var ids []string
	for range n {
		ids = append(ids, w.key("e", func(k *store.Key) { k.ExpiresAt = w.now.Add(-time.Minute) }).ID)
	}
	w.cfg.Concurrency = 2
	s := w.sweeper(0, nil)
	// The deadline comes by progress, not by the wall clock: after ten items the
	// sweeper's clock reads past it, however slow the machine is.
	deadline := time.Now().Add(time.Hour)
	var handled atomic.Int64
	sweeper.SetBeforeItem(s, func() { handled.Add(1) })
	s.Clock = func() time.Time {
		if handled.Load() >= 10 {
			return deadline
		}
		return time.Now()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	first, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Stopped || first.Expired == 0 || first.Expired >= n {
		t.Fatalf("first run should stop part way: %+v", first)
	}
	if first.ItemsRead > first.Expired+int64(2*w.cfg.Concurrency)+100 {
		t.Errorf("a stopped run read %d items for %d handled", first.ItemsRead, first.Expired)
	}
	second := w.sweep(time.Minute)
	if second.Stopped || first.Expired+second.Expired != n {
		t.Fatalf("second run: %+v (first expired %d)", second, first.Expired)
	}
	for _, id := range ids {
		if got := w.events(id)[store.EventKeyExpired]; got != 1 {
			t.Errorf("key %s: %d key.expired events", id, got)
		}
	}
}

func TestPendingReminderCompletedByNextRun(t *testing.T) {
	w := newWorld(t)
	a := w.key("a", func(k *store.Key) { k.ExpiresAt = w.now.Add(2 * day) })
	b := w.key("b", func(k *store.Key) { k.ExpiresAt = w.now.Add(2 * day) })
	// First run: one reminder cannot reach EventBridge at all, the other reaches
	// EventBridge but not SNS. Both are recorded (marker + event) and stay pending.
	pub := &flaky{Publisher: w.pub, failEB: 1, failSNS: 1}
	res, err := w.sweeper(0, pub).Run(context.Background())
	if err == nil || res.ExpiryReminders != 2 || res.Delivered != 0 {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	// Within the lease nobody touches them; after it the next run completes them.
	if res := w.sweep(time.Minute); res.Resumed != 0 || res.ExpiryReminders != 0 {
		t.Fatalf("run within the lease: %+v", res)
	}
	if res := w.sweep(w.cfg.Lease + time.Minute); res.Resumed != 2 || res.Delivered != 2 || res.ExpiryReminders != 0 {
		t.Fatalf("run after the lease: %+v", res)
	}
	if res := w.sweep(w.cfg.Lease + 2*time.Minute); res.ItemsRead != 0 {
		t.Fatalf("run after completion: %+v", res)
	}
	for name, url := range map[string]string{"eventbridge": w.ebQueue, "sns": w.snsQueue} {
		per := byReminder(w.drain(url, 2))
		if len(per) != 2 {
			t.Errorf("%s: %v", name, per)
		}
		for id, c := range per {
			if c != 1 {
				t.Errorf("%s: %s delivered %d times", name, id, c)
			}
		}
	}
	for _, id := range []string{a.ID, b.ID} {
		if got := w.events(id)[store.EventExpiryReminder]; got != 1 {
			t.Errorf("key %s: %d reminder events", id, got)
		}
	}
}

func TestRearmAfterExtensionAndRotation(t *testing.T) {
	w := newWorld(t)
	k := w.key("k", func(k *store.Key) { k.ExpiresAt = w.now.Add(5 * day) })
	if res := w.sweep(0); res.ExpiryReminders != 1 {
		t.Fatalf("%+v", res)
	}
	// Extending: a new expires_at is a new series (here the 14-day reminder is due).
	w.change(k.ID, func(k *store.Key) { k.ExpiresAt = w.now.Add(10 * day) })
	if res := w.sweep(time.Minute); res.ExpiryReminders != 1 {
		t.Fatalf("after extension: %+v", res)
	}
	// Rotating: the new secret's holder is told as well.
	w.change(k.ID, func(k *store.Key) {
		k.Previous = &store.Secret{N: k.Secret.N, Hash: k.Secret.Hash, Pepper: "p", ExpiresAt: w.now.Add(time.Hour)}
		k.Secret.N++
		k.Status = store.StatusRotating
	})
	if res := w.sweep(2 * time.Minute); res.ExpiryReminders != 1 {
		t.Fatalf("after rotation: %+v", res)
	}
	// The grace ends an hour later: rotation finished, no reminder repeated.
	if res := w.sweep(2 * time.Hour); res.RotationsFinished != 1 || res.ExpiryReminders != 0 {
		t.Fatalf("after grace: %+v", res)
	}
	ms := w.drain(w.ebQueue, 3)
	if len(ms) != 3 {
		t.Fatalf("%d reminders, want 3: %+v", len(ms), ms)
	}
	want := []float64{7, 14, 14}
	for i, m := range ms {
		if m.Detail["offset_days"] != want[i] {
			t.Errorf("reminder %d: offset %v, want %v", i, m.Detail["offset_days"], want[i])
		}
	}
}

func TestNowOnlyLocally(t *testing.T) {
	t.Setenv("REMINDER_BUS_NAME", "b")
	t.Setenv("REMINDER_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:t")
	t.Setenv("NOW", "2030-01-01T00:00:00Z")
	if _, err := sweeper.FromEnv(false); err == nil {
		t.Fatal("NOW was accepted without a local endpoint")
	}
	cfg, err := sweeper.FromEnv(true)
	if err != nil || !cfg.Now.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v %v", cfg, err)
	}
	t.Setenv("REMINDER_OFFSETS_DAYS", "1, 30,7,7")
	if cfg, err := sweeper.FromEnv(true); err != nil || len(cfg.Offsets) != 3 || cfg.Offsets[0] != 30 {
		t.Fatalf("%v %v", cfg.Offsets, err)
	}
	t.Setenv("REMINDER_OFFSETS_DAYS", "x")
	if _, err := sweeper.FromEnv(true); err == nil {
		t.Fatal("bad offsets accepted")
	}
}

// TestReminderSamples checks that events/sweeper-reminder-*.json, the documented
// consumer view, decode strictly into Reminder and round-trip unchanged.
func TestReminderSamples(t *testing.T) {
	for _, tc := range []struct{ file, detailType, kind string }{
		{"sweeper-reminder-expiring.json", sweeper.DetailTypeExpiring, sweeper.KindExpiry},
		{"sweeper-reminder-stale.json", sweeper.DetailTypeStale, sweeper.KindStale},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var ev events.EventBridgeEvent
			testenv.Fixture(t, strings.TrimSuffix(tc.file, ".json"), &ev)
			dec := json.NewDecoder(bytes.NewReader(ev.Detail))
			dec.DisallowUnknownFields()
			var r sweeper.Reminder
			if err := dec.Decode(&r); err != nil {
				t.Fatal(err)
			}
			if ev.DetailType != tc.detailType || ev.Source != "keyward" || r.Kind != tc.kind || r.ReminderID == "" {
				t.Fatalf("%s %s %+v", ev.DetailType, ev.Source, r)
			}
			again, _ := json.Marshal(r)
			var a, b map[string]any
			_ = json.Unmarshal(again, &a)
			_ = json.Unmarshal(ev.Detail, &b)
			if len(a) != len(b) {
				t.Fatalf("round trip: %v\nvs %v", a, b)
			}
		})
	}
}
