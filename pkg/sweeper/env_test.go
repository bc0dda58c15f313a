package sweeper_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/keyward/keyward/pkg/eventbus"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/sweeper"
	"github.com/keyward/keyward/pkg/testenv"
)

const day = 24 * time.Hour

// world is one test's table, bus, topic and the two queues reminders land in.
type world struct {
	t        *testing.T
	env      *testenv.Env
	deps     *service.Deps
	cfg      sweeper.Config
	pub      *sweeper.AWSPublisher
	sqs      *sqs.Client
	ebQueue  string // fed by an EventBridge rule on the bus
	snsQueue string // subscribed to the topic
	now      time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	ctx := context.Background()
	suffix := strings.TrimPrefix(env.Table, "keyward-test-")
	w := &world{t: t, env: env, sqs: sqs.NewFromConfig(env.AWS), now: time.Now().UTC().Truncate(time.Second)}
	w.deps = service.Build(service.Config{Table: env.Table, Prefix: testenv.KeyPrefix, EventRetention: 400 * day, Local: true}, env.AWS)
	w.deps.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))

	eb := eventbridge.NewFromConfig(env.AWS)
	sn := sns.NewFromConfig(env.AWS)
	bus := "keyward-test-reminders-" + suffix
	// Ensure takes a bus that exists for made: the name is this test's own, so such a
	// bus is the one an earlier attempt made when the SDK retried a call whose answer
	// was lost.
	must(t, func() error { return (&eventbus.Bus{EB: eb, Name: bus}).Ensure(ctx) })
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keyward-test-reminders-" + suffix)})
	must(t, func() error { return err })
	var ebArn, snsArn string
	w.ebQueue, ebArn = w.queue("keyward-test-eb-" + suffix)
	w.snsQueue, snsArn = w.queue("keyward-test-sns-" + suffix)
	must(t, func() error {
		_, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{
			Name: aws.String("reminders"), EventBusName: &bus,
			EventPattern: aws.String(`{"source":["keyward"],"detail-type":["Keyward Key Expiring","Keyward Key Stale"]}`),
		})
		return err
	})
	must(t, func() error {
		_, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("reminders"), EventBusName: &bus,
			Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: &ebArn}}})
		return err
	})
	must(t, func() error {
		_, err := sn.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: &snsArn,
			Attributes: map[string]string{"RawMessageDelivery": "true"}})
		return err
	})

	w.cfg = sweeper.Defaults()
	w.cfg.BusName, w.cfg.TopicARN, w.cfg.Margin = bus, aws.ToString(topic.TopicArn), time.Second
	w.pub = &sweeper.AWSPublisher{EB: eb, SNS: sn, Bus: bus, TopicARN: w.cfg.TopicARN, Source: w.cfg.Source}
	return w
}

func must(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func (w *world) queue(name string) (url, arn string) {
	ctx := context.Background()
	q, err := w.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: &name})
	if err != nil {
		w.t.Fatal(err)
	}
	a, err := w.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		w.t.Fatal(err)
	}
	return aws.ToString(q.QueueUrl), a.Attributes["QueueArn"]
}

// sweeper returns a sweeper sweeping as if at the world's now (+ later), with pub.
func (w *world) sweeper(later time.Duration, pub sweeper.Publisher) *sweeper.Sweeper {
	cfg := w.cfg
	cfg.Now = w.now.Add(later)
	if pub == nil {
		pub = w.pub
	}
	return sweeper.New(w.deps.Store, pub, cfg, w.deps.Log)
}

func (w *world) sweep(later time.Duration) sweeper.Result {
	w.t.Helper()
	res, err := w.sweeper(later, nil).Run(context.Background())
	if err != nil {
		w.t.Fatalf("sweep: %v (%+v)", err, res)
	}
	return res
}

// key creates a key through the store (as the API would), edited by f.
func (w *world) key(name string, f func(k *store.Key)) *store.Key {
	w.t.Helper()
	k := &store.Key{
		ID: name + "-" + testenv.RandomString(w.t, 6), Name: name, Owner: "alice@example.com", Scopes: []string{"orders:read"},
		Status: store.StatusActive, Start: "kw_test_AbC", CreatedAt: w.now.Add(-day), UpdatedAt: w.now.Add(-day),
		ExpiresAt: w.now.Add(60 * day), Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1,
		Secret: store.Secret{N: 1, Hash: []byte("h"), Pepper: "p"},
	}
	if f != nil {
		f(k)
	}
	ev := &store.Event{Time: k.CreatedAt, Type: store.EventKeyCreated, KeyID: k.ID, Actor: "test"}
	if err := w.deps.Store.CreateKey(context.Background(), k, ev); err != nil {
		w.t.Fatal(err)
	}
	return k
}

// change applies f to the stored key through UpdateKey, as the management API does.
func (w *world) change(id string, f func(k *store.Key)) {
	w.t.Helper()
	k := w.get(id)
	f(k)
	k.Version++
	if err := w.deps.Store.UpdateKey(context.Background(), k, &store.Event{Time: w.now, Type: store.EventKeyUpdated, KeyID: id, Actor: "test"}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) get(id string) *store.Key {
	w.t.Helper()
	k, err := w.deps.Store.GetKey(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	return k
}

// events returns the types of key id's events, counted.
func (w *world) events(id string) map[string]int {
	w.t.Helper()
	out := map[string]int{}
	var cur string
	for {
		p, err := w.deps.Store.ListEvents(context.Background(), id, 100, cur)
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range p.Items {
			out[e.Type]++
		}
		if p.Next == "" {
			return out
		}
		cur = p.Next
	}
}

// message is a reminder as read back from a queue.
type message struct {
	DetailType string
	Detail     map[string]any
}

// drain reads the messages in queue url (EventBridge envelopes or raw SNS bodies),
// waiting until at least want have arrived and then for one empty receive, so a test
// sees extras too. A receive whose answer was lost on a busy machine is not a loss:
// the messages come back after a short visibility timeout and are counted once by id.
func (w *world) drain(url string, want int) []message {
	w.t.Helper()
	var out []message
	for _, body := range testenv.DrainQueue(w.t, w.sqs, url, want) {
		var env struct {
			DetailType string         `json:"detail-type"`
			Detail     map[string]any `json:"detail"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			w.t.Fatalf("message body %q: %v", body, err)
		}
		if env.Detail == nil { // a raw SNS body is the detail itself
			_ = json.Unmarshal([]byte(body), &env.Detail)
		}
		out = append(out, message{env.DetailType, env.Detail})
	}
	return out
}

// byReminder counts messages per reminder_id.
func byReminder(ms []message) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		out[fmt.Sprint(m.Detail["reminder_id"])]++
	}
	return out
}

// scheduledEvent loads events/scheduled.json, the sample `make sweep` sends.
func scheduledEvent(t *testing.T) events.EventBridgeEvent {
	t.Helper()
	var ev events.EventBridgeEvent
	testenv.Fixture(t, "scheduled", &ev)
	return ev
}

// flaky fails its first n calls of each kind, then delegates.
type flaky struct {
	sweeper.Publisher
	mu              sync.Mutex
	failEB, failSNS int
}

func (f *flaky) PublishEvent(ctx context.Context, r *sweeper.Reminder) error {
	f.mu.Lock()
	fail := f.failEB > 0
	f.failEB--
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("injected EventBridge failure")
	}
	return f.Publisher.PublishEvent(ctx, r)
}

func (f *flaky) PublishNotice(ctx context.Context, r *sweeper.Reminder) error {
	f.mu.Lock()
	fail := f.failSNS > 0
	f.failSNS--
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("injected SNS failure")
	}
	return f.Publisher.PublishNotice(ctx, r)
}
