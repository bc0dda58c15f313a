package meter_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/keyward/keyward/pkg/eventbus"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/meter"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// puts records every PutItem made through it: its pk and sk, and the clock's time.
type puts struct {
	store.API
	clock func() time.Time
	mu    sync.Mutex
	items []put
}

type put struct {
	pk, sk string
	at     time.Time
}

func (p *puts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	s := func(a string) string { v, _ := in.Item[a].(*types.AttributeValueMemberS); return v.Value }
	p.mu.Lock()
	p.items = append(p.items, put{s("pk"), s("sk"), p.clock()})
	p.mu.Unlock()
	return p.API.PutItem(ctx, in, o...)
}

func (p *puts) with(prefix string) []put {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []put
	for _, it := range p.items {
		if strings.HasPrefix(it.sk, prefix) {
			out = append(out, it)
		}
	}
	return out
}

func newStore(t *testing.T, env *testenv.Env, clock func() time.Time) (*store.Dynamo, *puts) {
	t.Helper()
	db := &puts{API: env.DDB, clock: clock}
	return store.New(db, env.Table, time.Hour), db
}

func usage(t *testing.T, st *store.Dynamo, id, day string) limits.Tally {
	t.Helper()
	got, err := st.UsageByDay(context.Background(), id, day, day)
	if err != nil {
		t.Fatal(err)
	}
	return got[day]
}

// heldPuts holds every PutItem of a usage count until release is closed, telling
// entered when one arrives.
type heldPuts struct {
	store.API
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *heldPuts) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if sk, _ := in.Item["sk"].(*types.AttributeValueMemberS); sk != nil && strings.HasPrefix(sk.Value, "USAGE#") {
		h.once.Do(func() { close(h.entered) })
		<-h.release
	}
	return h.API.PutItem(ctx, in, o...)
}

// TestFirstUseWrittenBesideItsAnswer: the first use a meter sees (a cold start's first
// answer) does not wait for its usage write, which is made at once beside it; a use
// within the minute after is not written again until FlushAll.
func TestFirstUseWrittenBesideItsAnswer(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	if now := clock.Now(); now.Add(10*time.Second).Day() != now.Day() {
		clock.Advance(time.Minute) // both uses on one UTC day
	}
	db := &puts{API: env.DDB, clock: clock.Now}
	held := &heldPuts{API: db, entered: make(chan struct{}), release: make(chan struct{})}
	st := store.New(held, env.Table, time.Hour)
	m := meter.New(st, nil, quiet)
	m.Now, m.FirstAside = clock.Now, true
	ctx := context.Background()
	day := clock.Now().UTC().Format(time.DateOnly)
	answered := make(chan struct{})
	go func() {
		m.ObserveUse(ctx, "first1", "team-a", limits.CodeValid, clock.Now())
		close(answered)
	}()
	for phase, ch := range map[string]chan struct{}{"the first use's write starting": held.entered, "the first use's answer, its write held": answered} {
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatalf("waited a minute for %s", phase)
		}
	}
	close(held.release)
	for deadline := time.Now().Add(time.Minute); usage(t, st, "first1", day).Accepted != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the first use was not stored a minute after its write was released")
		}
		time.Sleep(20 * time.Millisecond)
	}
	clock.Advance(2 * time.Second)
	m.ObserveUse(ctx, "first1", "team-a", limits.CodeValid, clock.Now())
	if w := db.with("USAGE#"); len(w) != 1 {
		t.Fatalf("a use two seconds after the first: %d usage writes, want 1", len(w))
	}
	if err := m.FlushAll(ctx); err != nil || len(db.with("USAGE#")) != 2 || usage(t, st, "first1", day).Accepted != 2 {
		t.Errorf("FlushAll: %v, %d usage writes, %d stored, want 2 and 2", err, len(db.with("USAGE#")), usage(t, st, "first1", day).Accepted)
	}
}

// TestCountsOncePerKeyPerMinute: three keys used every second for five minutes
// (simulated clock, real table): each key's counts are written at most once per
// minute, the table lags what was used by less than a minute's worth, and FlushAll
// writes the rest, so the stored day holds exactly the uses made.
func TestCountsOncePerKeyPerMinute(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	st, db := newStore(t, env, clock.Now)
	m := meter.New(st, nil, quiet)
	m.Now = clock.Now
	ctx := context.Background()
	keys := []string{"count1", "count2", "count3"}
	for range 5 * 60 {
		for i, k := range keys {
			code := limits.CodeValid
			if i == 2 {
				code = limits.CodeRateLimited
			}
			m.ObserveUse(ctx, k, "team-a", code, clock.Now())
		}
		clock.Advance(time.Second)
	}
	// A turn writes one item per day with counts (two when it spans midnight UTC).
	last, turns := map[string]time.Time{}, 0
	for _, p := range db.with("USAGE#") {
		prev, ok := last[p.pk]
		if ok && p.at.Equal(prev) {
			continue
		}
		if ok && p.at.Sub(prev) < limits.FlushEvery {
			t.Errorf("%s written at %s and again at %s", p.pk, prev, p.at)
		}
		last[p.pk] = p.at
		turns++
	}
	if turns < 3*5 || turns > 3*6 {
		t.Errorf("%d turns of usage writes for 3 keys over 5 minutes, want 15 to 18", turns)
	}
	before := len(db.with("USAGE#"))
	// The first minute may straddle two UTC days: count both.
	day := func(k string) limits.Tally {
		var sum limits.Tally
		for d := range map[string]bool{clock.Now().Add(-5 * time.Minute).Format(time.DateOnly): true, clock.Now().Format(time.DateOnly): true} {
			sum.Add(usage(t, st, k, d))
		}
		return sum
	}
	if got := day("count1").Accepted; got < 300-60 || got >= 300 {
		t.Errorf("before the flush at shutdown count1 holds %d of 300: want within the last minute's worth", got)
	}
	if err := m.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b, c := day("count1"), day("count2"), day("count3"); a.Accepted != 300 || b.Accepted != 300 || c.Accepted != 0 || c.Refused[limits.CodeRateLimited] != 300 {
		t.Errorf("after FlushAll: %+v %+v %+v", a, b, c)
	}
	after := len(db.with("USAGE#"))
	if after == before {
		t.Error("FlushAll wrote nothing")
	}
	if err := m.FlushAll(ctx); err != nil || len(db.with("USAGE#")) != after {
		t.Errorf("a second FlushAll wrote again: %v, %d writes after %d", err, len(db.with("USAGE#")), after)
	}
}

// TestConcurrentUsesLoseNothing: 16 goroutines observing uses of 4 keys at once
// (real clock): after FlushAll every use is in the table, once, under its code.
func TestConcurrentUsesLoseNothing(t *testing.T) {
	env := testenv.New(t)
	st, _ := newStore(t, env, time.Now)
	m := meter.New(st, nil, quiet)
	ctx := context.Background()
	codes := []string{limits.CodeValid, limits.CodeValid, limits.CodeRateLimited, "INSUFFICIENT_SCOPE"}
	day := time.Now().UTC().Format(time.DateOnly)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 100 {
				m.ObserveUse(ctx, "conc"+string(rune('a'+(g+i)%4)), "team-a", codes[i%4], time.Now())
			}
		})
	}
	wg.Wait()
	if err := m.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Now().UTC().Format(time.DateOnly); d != day {
		t.Skip("the test ran across midnight UTC")
	}
	var total limits.Tally
	for k := range 4 {
		total.Add(usage(t, st, "conc"+string(rune('a'+k)), day))
	}
	if total.Accepted != 800 || total.Refused[limits.CodeRateLimited] != 400 || total.Refused["INSUFFICIENT_SCOPE"] != 400 || len(total.Refused) != 2 {
		t.Errorf("stored %+v, want 800 accepted, 400 RATE_LIMITED, 400 INSUFFICIENT_SCOPE", total)
	}
}

// bus is an EventBridge bus with a rule sending Keyward's limit events to a queue.
type bus struct {
	t     *testing.T
	bus   *eventbus.Bus
	sqs   *sqs.Client
	queue string
}

func newBus(t *testing.T, env *testenv.Env) *bus {
	t.Helper()
	ctx := context.Background()
	suffix := strings.TrimPrefix(env.Table, "keyward-test-")
	b := &bus{t: t, bus: eventbus.New(env.AWS, "keyward-test-limits-"+suffix), sqs: sqs.NewFromConfig(env.AWS)}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(b.bus.Ensure(ctx))
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("keyward-test-limits-" + suffix)})
	must(err)
	b.queue = aws.ToString(q.QueueUrl)
	a, err := b.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	must(err)
	eb := eventbridge.NewFromConfig(env.AWS)
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("limits"), EventBusName: &b.bus.Name,
		EventPattern: aws.String(`{"source":["keyward"],"detail-type":["key.rate_limited","key.usage_exceeded"]}`)})
	must(err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("limits"), EventBusName: &b.bus.Name,
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(a.Attributes["QueueArn"])}}})
	must(err)
	return b
}

type envelope struct {
	DetailType string `json:"detail-type"`
	Source     string `json:"source"`
	Detail     struct {
		ID     string         `json:"id"`
		Type   string         `json:"type"`
		KeyID  string         `json:"key_id"`
		Owner  string         `json:"owner"`
		Detail map[string]any `json:"detail"`
	} `json:"detail"`
}

// drain reads the queue until want messages have arrived and one receive came back
// empty, so that extras are seen too.
func (b *bus) drain(want int) []envelope {
	b.t.Helper()
	var out []envelope
	for _, body := range testenv.DrainQueue(b.t, b.sqs, b.queue, want) {
		var e envelope
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			b.t.Fatalf("message %q: %v", body, err)
		}
		out = append(out, e)
	}
	return out
}

// TestLimitEventsOncePerMinuteAcrossInstances: two meters (two instances) see the
// same key refused many times, concurrently, in one minute and then the next: the
// key's trail holds one key.rate_limited per minute and one key.usage_exceeded, the
// bus gets exactly those, and each instance tried each event once per minute.
func TestLimitEventsOncePerMinuteAcrossInstances(t *testing.T) {
	env := testenv.New(t)
	clock := testenv.NewClock()
	st, db := newStore(t, env, clock.Now)
	b := newBus(t, env)
	a, c := meter.New(st, b.bus, quiet), meter.New(st, b.bus, quiet)
	ctx := context.Background()
	refuse := func(code string) {
		var wg sync.WaitGroup
		for _, m := range []*meter.Meter{a, c} {
			for range 4 {
				wg.Go(func() {
					for range 10 {
						m.ObserveUse(ctx, "limited1", "team-a", code, clock.Now())
						m.ObserveUse(ctx, "other1", "team-b", limits.CodeValid, clock.Now())
					}
				})
			}
		}
		wg.Wait()
	}
	refuse(limits.CodeRateLimited)
	refuse(limits.CodeUsageExceeded)
	clock.Advance(time.Minute)
	refuse(limits.CodeRateLimited)

	page, err := st.ListEvents(ctx, "limited1", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	for _, e := range page.Items {
		types[e.Type]++
		if e.Owner != "team-a" || e.Detail["code"] == nil || e.Detail["minute"] == nil {
			t.Errorf("event %+v", e)
		}
	}
	if types[store.EventKeyRateLimited] != 2 || types[store.EventKeyUsageExceeded] != 1 || len(page.Items) != 3 {
		t.Errorf("trail %v, want 2 key.rate_limited and 1 key.usage_exceeded", types)
	}
	if other, _ := st.ListEvents(ctx, "other1", 10, ""); len(other.Items) != 0 {
		t.Errorf("accepted uses made events: %+v", other.Items)
	}
	if n := len(db.with("EV#")); n > 2*3 {
		t.Errorf("%d event writes, want at most one per instance per event", n)
	}
	got := map[string]int{}
	for _, e := range b.drain(3) {
		got[e.DetailType]++
		if e.Source != eventbus.Source || e.Detail.Type != e.DetailType || e.Detail.KeyID != "limited1" || e.Detail.Owner != "team-a" || e.Detail.ID == "" {
			t.Errorf("bus event %+v", e)
		}
	}
	if got[store.EventKeyRateLimited] != 2 || got[store.EventKeyUsageExceeded] != 1 || len(got) != 2 {
		t.Errorf("bus got %v, want 2 key.rate_limited and 1 key.usage_exceeded", got)
	}
}

// TestEventIDs: an event's id is the same on every instance, and differs between
// keys, types and minutes; it sorts with store.NewEventID's ids by time.
func TestEventIDs(t *testing.T) {
	m := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	id := meter.EventID("k1", store.EventKeyRateLimited, m)
	if id != meter.EventID("k1", store.EventKeyRateLimited, m) || len(id) != len(store.NewEventID()) {
		t.Fatalf("id %q", id)
	}
	for _, other := range []string{
		meter.EventID("k2", store.EventKeyRateLimited, m),
		meter.EventID("k1", store.EventKeyUsageExceeded, m),
		meter.EventID("k1", store.EventKeyRateLimited, m.Add(time.Minute)),
	} {
		if other == id {
			t.Errorf("%q names two events", id)
		}
	}
	if !(id < store.NewEventID()) {
		t.Error("an id of 2026 sorts after one of now")
	}
}
