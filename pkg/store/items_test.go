package store_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// recordingDB records the primary key of every item written through it.
type recordingDB struct {
	store.API
	mu   sync.Mutex
	keys [][2]string // pk, sk
}

func (r *recordingDB) note(key map[string]types.AttributeValue) {
	s := func(a string) string {
		if v, ok := key[a].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return "<not a string>"
	}
	r.mu.Lock()
	r.keys = append(r.keys, [2]string{s("pk"), s("sk")})
	r.mu.Unlock()
}

func (r *recordingDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.note(in.Item)
	return r.API.PutItem(ctx, in, o...)
}

func (r *recordingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.note(in.Key)
	return r.API.UpdateItem(ctx, in, o...)
}

func (r *recordingDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	r.note(in.Key)
	return r.API.DeleteItem(ctx, in, o...)
}

func (r *recordingDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			r.note(it.Put.Item)
		case it.Update != nil:
			r.note(it.Update.Key)
		case it.Delete != nil:
			r.note(it.Delete.Key)
		case it.ConditionCheck != nil:
			r.note(it.ConditionCheck.Key)
		}
	}
	return r.API.TransactWriteItems(ctx, in, o...)
}

func (r *recordingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, w := range reqs {
			if w.PutRequest != nil {
				r.note(w.PutRequest.Item)
			}
			if w.DeleteRequest != nil {
				r.note(w.DeleteRequest.Key)
			}
		}
	}
	return r.API.BatchWriteItem(ctx, in, o...)
}

// TestEveryWriteIsAListedKind runs a write of every kind the store makes, through a
// client that records each item written, and requires every one (and every item in
// the table afterwards) to be of a kind in store.ItemKinds, and every kind to be
// written. A writer of a new kind fails it until the list, and doc.go, name the kind.
func TestEveryWriteIsAListedKind(t *testing.T) {
	env := testenv.New(t)
	db := &recordingDB{API: env.DDB}
	st := store.New(db, env.Table, time.Hour)
	writeEveryKind(t, st)

	written := map[string]bool{}
	for _, key := range db.keys {
		k, ok := store.KindOf(key[0], key[1])
		if !ok {
			t.Errorf("wrote pk=%s sk=%s, of no kind in store.ItemKinds", key[0], key[1])
		}
		written[k.Name] = true
	}
	for _, k := range store.ItemKinds {
		if !written[k.Name] {
			t.Errorf("kind %q (pk=%s sk=%s) was never written: the list names a kind the store does not write, or this test misses a writer", k.Name, k.PK, k.SK)
		}
	}
	for _, item := range env.Items(t) {
		pk, _ := item["pk"].(*types.AttributeValueMemberS)
		sk, _ := item["sk"].(*types.AttributeValueMemberS)
		if pk == nil || sk == nil {
			t.Errorf("item without string keys: %v", item)
		} else if _, ok := store.KindOf(pk.Value, sk.Value); !ok {
			t.Errorf("the table holds pk=%s sk=%s, of no kind in store.ItemKinds", pk.Value, sk.Value)
		}
	}
}

// writeEveryKind makes at least one write of each item kind, through every writer.
func writeEveryKind(t *testing.T, st *store.Dynamo) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	ev := func(typ string) *store.Event {
		return &store.Event{Time: now, Type: typ, KeyID: "kinds1", Actor: "test", Owner: "team-a"}
	}
	k := &store.Key{
		ID: "kinds1", Name: "n", Owner: "team-a", Scopes: []string{"orders:read"}, Status: store.StatusActive,
		Start: "kw_test_kind", CreatedAt: now, UpdatedAt: now, CreatedBy: "root", ExpiresAt: now.Add(10 * 24 * time.Hour),
		Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1,
		Secret:   store.Secret{N: 2, Hash: make([]byte, 32), Pepper: "p1"},
		Previous: &store.Secret{N: 1, Hash: make([]byte, 32), Pepper: "p1", ExpiresAt: now.Add(time.Hour)},
	}
	must("create key", st.CreateKey(ctx, k, ev(store.EventKeyCreated)))
	k.Bump(now)
	must("update key", st.UpdateKey(ctx, k, ev(store.EventKeyUpdated)))
	must("set schedule", st.SetSchedule(ctx, k.ID, k.Version, store.Schedule{DueAt: now.Add(time.Hour)}))
	must("put event", st.PutEvent(ctx, ev(store.EventAuthFailed)))
	must("record lock", st.RecordLock(ctx, k.ID, "192.0.2.1", now.Add(time.Minute), now))
	next := store.RevokedTokens{JTIs: map[string]int64{"jti1": now.Unix() + 60}, MaxIAT: now.Unix()}
	_, err := st.ReviseRevokedTokens(ctx, k.ID, store.RevokedTokens{JTIs: map[string]int64{}}, next, "jti1", ev(store.EventTokenRevoked))
	must("revise revoked tokens", err)

	k, err = st.GetKey(ctx, k.ID)
	must("get key", err)
	for _, m := range []struct {
		name    string
		sameUse bool
	}{{store.ExpiryReminderName(k.ExpiresAt, k.Secret.N, 14), false}, {store.StaleReminderName(k.CreatedAt), true}} {
		marker := &store.ReminderMarker{KeyID: k.ID, Name: m.name, Kind: "expiry", State: store.ReminderPending,
			Detail: "{}", Run: "run1", CreatedAt: now, LeaseUntil: now.Add(time.Minute).Unix(), TTL: now.Add(time.Hour).Unix()}
		ok, err := st.RecordReminder(ctx, k, marker, m.sameUse, ev(store.EventExpiryReminder))
		if err != nil || !ok {
			t.Fatalf("record reminder %s = %v, %v", m.name, ok, err)
		}
		must("claim reminder", st.ClaimReminder(ctx, k.ID, m.name, "run2", marker.LeaseUntil, now.Add(2*time.Minute)))
		must("half sent", st.MarkReminderHalfSent(ctx, k.ID, m.name, "run2"))
		must("sent", st.MarkReminderSent(ctx, k.ID, m.name, "run2", now))
	}
	won, err := st.TouchLastUsed(ctx, k.ID, "192.0.2.2", now, time.Minute)
	if err != nil || !won {
		t.Fatalf("touch last used = %v, %v", won, err)
	}
	k, err = st.GetKey(ctx, k.ID)
	must("get key", err)
	if _, ok := k.FinishRotation(now); !ok {
		t.Fatal("no rotation to finish")
	}
	k.Bump(now)
	must("update key scheduled", st.UpdateKeyScheduled(ctx, k, store.Schedule{}, ev(store.EventKeyRotationFinished)))

	writeFamily(t, st, now)
	n, _, err := st.CountFailure(ctx, k.ID, "192.0.2.3", now, time.Minute, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("count failure = %d, %v", n, err)
	}
	won, err = st.LockPair(ctx, k.ID, "192.0.2.3", now, now.Add(time.Minute), time.Minute)
	if err != nil || !won {
		t.Fatalf("lock pair = %v, %v", won, err)
	}
	must("put routes", st.PutRoutes(ctx, map[string]string{"GET /a": "a:read"}))
	must("put usage count", st.PutUsageCount(ctx, limits.CountWrite{KeyID: k.ID, Day: "2026-12-01", Instance: "i1", Seq: 1,
		Tally: limits.Tally{Accepted: 3, Refused: map[string]int64{"RATE_LIMITED": 1}}}))
	must("put owner limits", st.PutOwnerLimits(ctx, "team-a", limits.OwnerLimits{RateLimit: &limits.RateLimit{Limit: 10, WindowSeconds: 60}}))
	must("set owner limits", st.SetOwnerLimits(ctx, "team-a", limits.OwnerLimits{RateLimit: &limits.RateLimit{Limit: 20, WindowSeconds: 60}},
		&store.Event{Time: now, Type: store.EventOwnerLimitsUpdated, Actor: "root"}))
	limited := ev(store.EventKeyRateLimited)
	limited.ID = "0001796126400000000000000000rl"
	if won, err := st.PutEventOnce(ctx, limited); !won || err != nil {
		t.Fatalf("put event once = %v, %v", won, err)
	}
	must("delete key", st.DeleteKey(ctx, k.ID, k.Version, ev(store.EventKeyDeleted)))
}

// writeFamily creates, rotates, trims and revokes a refresh family.
func writeFamily(t *testing.T, st *store.Dynamo, now time.Time) {
	t.Helper()
	ctx := context.Background()
	f := &store.RefreshFamily{ID: "fam1", KeyID: "kinds1", Hash: "h1", SecretN: 2, Scope: "orders:read",
		Status: store.FamilyActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	e := &store.Event{Time: now, Type: store.EventTokenIssued, KeyID: "kinds1", Actor: "kinds1"}
	if err := st.CreateFamily(ctx, f, e); err != nil {
		t.Fatal(err)
	}
	rotated, err := st.RotateFamily(ctx, f.ID, store.FamilyRotation{KeyID: "kinds1", Old: "h1", New: "h2",
		SecretNs: []int64{2}, Now: now, Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	st.TrimFamilyUsed(ctx, rotated, 0)
	if len(rotated.Used) != 0 {
		t.Fatalf("trim left %v", rotated.Used)
	}
	// The spent token h1 is gone from the family: it is refused as invalid, not reused.
	if _, err := st.RotateFamily(ctx, f.ID, store.FamilyRotation{KeyID: "kinds1", Old: "h1", New: "h3",
		SecretNs: []int64{1, 2}, Now: now, Expires: now.Add(time.Hour)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("rotate with a spent hash: %v", err)
	}
	ok, err := st.RevokeFamily(ctx, f.ID, "kinds1", "h2", &store.Event{Time: now, Type: store.EventTokenRevoked, KeyID: "kinds1", Actor: "kinds1"})
	if err != nil || !ok {
		t.Fatalf("revoke family = %v, %v", ok, err)
	}
}

// TestKindOfRefusesOtherShapes: the matcher is exact, so a new kind written under a
// near-miss key is not taken for a listed one.
func TestKindOfRefusesOtherShapes(t *testing.T) {
	for _, tt := range []struct {
		pk, sk string
		kind   string
	}{
		{"KEY#k1", "KEY", "key"},
		{"KEY#k1", "EV#0001", "event"},
		{"KEY#k1", "REMINDER#EXPIRY#2026-12-01T00:00:00Z#v2#7d", "expiry reminder"},
		{"KEY#k1", "REMINDER#STALE#2026-12-01T00:00:00Z", "stale reminder"},
		{"RT#f1", "RT", "refresh family"},
		{"LOCKOUT#k1#192.0.2.1", "LOCKOUT", "lockout counter"},
		{"CONFIG", "ROUTES", "route table"},
		{"KEY#", "KEY", ""},
		{"KEY#k1", "KEYS", ""},
		{"KEY#k1", "REMINDER#OTHER#x", ""},
		{"USAGE#k1", "DAY#2026-12-01", ""},
		{"CONFIG", "LIMITS", ""},
		{"OWNER#team-a", "EV#0001", "owner event"},
		{"OWNER#team-a", "LIMITS", "owner limits"},
		{"LOCKOUT#k1", "LOCKOUT", ""},
	} {
		k, ok := store.KindOf(tt.pk, tt.sk)
		if ok != (tt.kind != "") || k.Name != tt.kind {
			t.Errorf("KindOf(%q, %q) = %q, %v; want %q", tt.pk, tt.sk, k.Name, ok, tt.kind)
		}
	}
}

// TestDocListsEveryKind: doc.go's item list and template.yaml's table comment name
// exactly the kinds of store.ItemKinds, with their key shapes.
func TestDocListsEveryKind(t *testing.T) {
	doc := readFile(t, "doc.go")
	tmpl := readFile(t, "../../template.yaml")
	if !strings.Contains(tmpl, "pkg/store/doc.go") {
		t.Error("template.yaml's table comment does not refer to pkg/store/doc.go")
	}
	for _, k := range store.ItemKinds {
		line := `(?m)^//\t` + regexp.QuoteMeta(k.Name) + `\s+pk=` + regexp.QuoteMeta(k.PK) + `\s+sk=` + regexp.QuoteMeta(k.SK) + `$`
		if !regexp.MustCompile(line).MatchString(doc) {
			t.Errorf("doc.go does not list %q as pk=%s sk=%s", k.Name, k.PK, k.SK)
		}
		row := `(?m)^\s*#\s+` + regexp.QuoteMeta(k.Name) + `\s+pk=` + regexp.QuoteMeta(k.PK) + `\s+sk=` + regexp.QuoteMeta(k.SK) + `(\s|$)`
		if !regexp.MustCompile(row).MatchString(tmpl) {
			t.Errorf("template.yaml does not list %q as pk=%s sk=%s", k.Name, k.PK, k.SK)
		}
	}
	// And nothing else: every pk= the doc lists at the start of a line is a kind.
	for _, m := range regexp.MustCompile(`(?m)^//\t(\S.*?)\s+pk=(\S+)\s+sk=(\S+)$`).FindAllStringSubmatch(doc, -1) {
		if k, ok := store.KindOf(m[2], m[3]); !ok || k.Name != m[1] {
			t.Errorf("doc.go lists %q pk=%s sk=%s, which is not in store.ItemKinds", m[1], m[2], m[3])
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
