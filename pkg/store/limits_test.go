package store_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// lossyTransport forwards every request, and then, for a fraction of UpdateItem
// calls, drops the answer as a reset connection would: the write is applied, the
// caller never hears of it, and the SDK retries it. That is the retry that must not
// count a use twice.
type lossyTransport struct {
	base http.RoundTripper
	p    float64
	// armed: answers are lost only once the test's setup is done (a setup write
	// whose three attempts all lost their answer would fail the test for nothing).
	armed atomic.Bool
	lost  atomic.Int64
}

func (l *lossyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err != nil || !l.armed.Load() || !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".UpdateItem") || rand.Float64() >= l.p {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	l.lost.Add(1)
	return nil, errors.New("read tcp 127.0.0.1: connection reset by peer (answer dropped by the test)")
}

// limitsClient is a DynamoDB client whose UpdateItem answers are lost with
// probability p (none when p is 0).
func limitsClient(ctx context.Context, p float64) (*dynamodb.Client, *lossyTransport, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	lt := &lossyTransport{base: http.DefaultTransport.(*http.Transport).Clone(), p: p}
	cfg.HTTPClient = &http.Client{Transport: lt}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true }), lt, nil
}

var limitsNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// newLimitedKey creates key id with the given limit attributes (as a management
// write would store them) and returns its secret's hash.
func newLimitedKey(t testing.TB, st *store.Dynamo, id string, set map[string]any) []byte {
	t.Helper()
	ctx := context.Background()
	hash := []byte("hash-of-" + id)
	k := &store.Key{
		ID: id, Name: "n", Owner: "alice@example.com", Scopes: []string{"orders:read"},
		Status: store.StatusActive, Start: "kw_test_" + id, CreatedAt: limitsNow, UpdatedAt: limitsNow, CreatedBy: "root",
		ExpiresAt: limitsNow.Add(1000 * 24 * time.Hour), Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1,
		Secret: store.Secret{N: 1, Hash: hash, Pepper: "p1"},
	}
	if err := st.CreateKey(ctx, k, &store.Event{Time: limitsNow, Type: store.EventKeyCreated, KeyID: id, Actor: "root"}); err != nil {
		t.Fatal(err)
	}
	setAttrs(t, st, id, set)
	return hash
}

// setAttrs sets raw attributes of key id's item (nil removes one).
func setAttrs(t testing.TB, st *store.Dynamo, id string, set map[string]any) {
	t.Helper()
	for name, v := range set {
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(st.Table()),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
			},
			ExpressionAttributeNames: map[string]string{"#a": name},
		}
		if v == nil {
			in.UpdateExpression = aws.String("REMOVE #a")
		} else {
			av, err := attributevalue.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			in.UpdateExpression = aws.String("SET #a = :v")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": av}
		}
		if _, err := st.DB().UpdateItem(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
}

func readState(t testing.TB, st *store.Dynamo, id string) *limits.State {
	t.Helper()
	out, err := st.DB().GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(st.Table()), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.LimitState(out.Item)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// useRun makes uses of one key from goroutines, each use retried with the same Use
// (same slot, id and time) after an error, as a caller that keeps its slot does.
type useRun struct {
	st      *store.Dynamo
	id      string
	hash    []byte
	slots   *limits.Slots
	now     func() time.Time
	retries atomic.Int64
	// obey: after RATE_LIMITED, wait until the window ends, as a client honouring
	// Retry-After does.
	obey bool
}

// use makes one use and answers its result (nil only if every attempt failed).
func (r *useRun) use(ctx context.Context, hint *limits.State) (*store.UseResult, error) {
	slot := r.slots.Acquire()
	defer r.slots.Release(slot)
	u := limits.Use{Cost: 1, Slot: slot, ID: limits.RandomID(), At: r.now()}
	var err error
	for range 20 {
		var res *store.UseResult
		res, err = r.st.UseKey(ctx, store.UseInput{ID: r.id, Use: u, Hint: hint, Hashes: [][]byte{r.hash}, Now: r.now()})
		if err == nil {
			return res, nil
		}
		r.retries.Add(1)
		hint = nil
	}
	return nil, err
}

// tally is what a run of uses came to.
type tally struct {
	Accepted, Refused int64
	ByWindow          map[int64]int64 // accepted uses by the window they counted in
	Lost, Retries     int64
}

// run makes uses uses from each of workers goroutines (or, with uses 0, uses until
// until), each goroutine waiting pace between its uses.
func (r *useRun) run(ctx context.Context, workers, uses int, pace time.Duration, until time.Time) (tally, error) {
	var mu sync.Mutex
	out := tally{ByWindow: map[int64]int64{}}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			var hint *limits.State
			for i := 0; uses == 0 || i < uses; i++ {
				if !until.IsZero() && !time.Now().Before(until) {
					return
				}
				time.Sleep(pace)
				res, err := r.use(ctx, hint)
				if err != nil {
					errs <- err
					return
				}
				hint = res.State
				mu.Lock()
				switch {
				case res.Counted:
					out.Accepted++
					out.ByWindow[res.State.WindowStart]++
				case res.Refused != "":
					out.Refused++
					if r.obey && res.Refused == limits.CodeRateLimited {
						mu.Unlock()
						time.Sleep(time.Until(res.RetryAfter))
						mu.Lock()
					}
				default:
					mu.Unlock()
					errs <- fmt.Errorf("use neither counted nor refused: %+v", res)
					return
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	out.Retries = r.retries.Load()
	return out, <-errs
}

// workerConfig is what a worker process (TestLimitsWorker) is told, in
// KEYWARD_LIMITS_WORKER.
type workerConfig struct {
	Table, Key    string
	Hash          []byte
	Workers, Uses int
	Loss          float64
	Pace          time.Duration
	// RetryAfter: callers wait for the window's end once refused.
	RetryAfter bool
}

const workerEnv = "KEYWARD_LIMITS_WORKER"

// TestLimitsWorker is one worker process of the multi-process tests and figures (it
// does nothing in a normal run): it makes the uses its config says, from the time
// it says, and prints its tally as one JSON line.
func TestLimitsWorker(t *testing.T) {
	raw := os.Getenv(workerEnv)
	if raw == "" {
		t.Skip("worker process of the multi-process limits tests")
	}
	var c workerConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ddb, lt, err := limitsClient(ctx, c.Loss)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(ddb, c.Table, time.Hour)
	r := &useRun{st: st, id: c.Key, hash: c.Hash, slots: limits.NewSlots(), now: time.Now, obey: c.RetryAfter}
	// Ready once connected: the parent then sends when to start, and until when to
	// run (unix nanoseconds; 0: no end), the same to every worker.
	if _, err := st.GetKey(ctx, c.Key); err != nil {
		t.Fatal(err)
	}
	fmt.Println("limits-ready")
	var start, until int64
	if _, err := fmt.Scan(&start, &until); err != nil {
		t.Fatal(err)
	}
	end := time.Time{}
	if until > 0 {
		end = time.Unix(0, until)
	}
	lt.armed.Store(true)
	time.Sleep(time.Until(time.Unix(0, start)))
	out, err := r.run(ctx, c.Workers, c.Uses, c.Pace, end)
	if err != nil {
		t.Fatal(err)
	}
	out.Lost = lt.lost.Load()
	b, _ := json.Marshal(out)
	fmt.Printf("limits-worker %s\n", b)
}

// runWorkers runs n worker processes (this test binary again) with config c, starts
// them together once all are ready (at the time schedule picks, which also says
// until when they run), and sums their tallies.
func runWorkers(t testing.TB, n int, c workerConfig, schedule func(ready time.Time) (start, until time.Time)) tally {
	t.Helper()
	raw, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	type worker struct {
		cmd    *exec.Cmd
		in     io.WriteCloser
		out    *bufio.Reader
		stderr strings.Builder
	}
	ws := make([]*worker, n)
	for i := range ws {
		w := &worker{cmd: exec.Command(os.Args[0], "-test.run=^TestLimitsWorker$", "-test.count=1")}
		w.cmd.Env = append(os.Environ(), workerEnv+"="+string(raw))
		w.cmd.Stderr = &w.stderr
		if w.in, err = w.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		pipe, err := w.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		w.out = bufio.NewReader(pipe)
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.cmd.Process.Kill(); _ = w.cmd.Wait() })
		ws[i] = w
	}
	for _, w := range ws {
		if line, err := w.out.ReadString('\n'); err != nil || line != "limits-ready\n" {
			t.Fatalf("worker not ready: %q, %v\n%s", line, err, w.stderr.String())
		}
	}
	start, until := schedule(time.Now())
	var u int64
	if !until.IsZero() {
		u = until.UnixNano()
	}
	for _, w := range ws {
		fmt.Fprintf(w.in, "%d %d\n", start.UnixNano(), u)
	}
	sum := tally{ByWindow: map[int64]int64{}}
	for _, w := range ws {
		rest, _ := io.ReadAll(w.out)
		if err := w.cmd.Wait(); err != nil {
			t.Fatalf("worker: %v\n%s\n%s", err, rest, w.stderr.String())
		}
		_, line, ok := strings.Cut(string(rest), "limits-worker ")
		if !ok {
			t.Fatalf("worker printed no tally:\n%s", rest)
		}
		line, _, _ = strings.Cut(line, "\n")
		var wt tally
		if err := json.Unmarshal([]byte(line), &wt); err != nil {
			t.Fatalf("worker tally %q: %v", line, err)
		}
		sum.Accepted += wt.Accepted
		sum.Refused += wt.Refused
		sum.Lost += wt.Lost
		sum.Retries += wt.Retries
		for k, v := range wt.ByWindow {
			sum.ByWindow[k] += v
		}
	}
	return sum
}

// now starts workers at once and runs them until they are done.
func now(ready time.Time) (time.Time, time.Time) { return ready, time.Time{} }

func newLimitsStore(t testing.TB, loss float64) (*testenv.Env, *store.Dynamo, *lossyTransport) {
	t.Helper()
	env := testenv.New(t)
	ddb, lt, err := limitsClient(context.Background(), loss)
	if err != nil {
		t.Fatal(err)
	}
	return env, store.New(ddb, env.Table, time.Hour), lt
}

func credits(n int64) map[string]any { return map[string]any{store.AttrRemaining: n} }

// TestUseKeyCreditsExact: 6 goroutines × 40 uses against remaining 150, while a fifth
// of the UpdateItem answers are lost after the write is applied (the SDK then
// retries the write). Exactly 150 uses are accepted and 90 refused, and remaining
// ends at 0: a retried write that had been applied finds its mark, never counts again.
func TestUseKeyCreditsExact(t *testing.T) {
	_, st, lt := newLimitsStore(t, 0.2)
	const R, workers, uses = 150, 6, 40
	hash := newLimitedKey(t, st, "credits", credits(R))
	lt.armed.Store(true)
	r := &useRun{st: st, id: "credits", hash: hash, slots: limits.NewSlots(), now: time.Now}
	got, err := r.run(context.Background(), workers, uses, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Accepted != R || got.Refused != workers*uses-R {
		t.Errorf("accepted %d, refused %d; want %d and %d", got.Accepted, got.Refused, R, workers*uses-R)
	}
	if s := readState(t, st, "credits"); s.Remaining == nil || *s.Remaining != 0 {
		t.Errorf("remaining ends at %v, want 0", s.Remaining)
	}
	if lt.lost.Load() == 0 {
		t.Error("no answer was lost: the test did not exercise a retried write")
	}
	t.Logf("%d answers lost, %d uses retried by the caller", lt.lost.Load(), got.Retries)
}

// TestUseKeyCreditsExactAcrossProcesses: the same, from 4 processes (they stand in
// for Lambda instances) of 2 goroutines each, answers lost as above.
func TestUseKeyCreditsExactAcrossProcesses(t *testing.T) {
	env, st, _ := newLimitsStore(t, 0)
	const R, procs, workers, uses = 150, 4, 2, 30
	hash := newLimitedKey(t, st, "credits-procs", credits(R))
	got := runWorkers(t, procs, workerConfig{
		Table: env.Table, Key: "credits-procs", Hash: hash, Workers: workers, Uses: uses, Loss: 0.2,
	}, now)
	if got.Accepted != R || got.Refused != procs*workers*uses-R {
		t.Errorf("accepted %d, refused %d; want %d and %d", got.Accepted, got.Refused, R, procs*workers*uses-R)
	}
	if s := readState(t, st, "credits-procs"); s.Remaining == nil || *s.Remaining != 0 {
		t.Errorf("remaining ends at %v, want 0", s.Remaining)
	}
	if got.Lost == 0 {
		t.Error("no answer was lost: the test did not exercise a retried write")
	}
}

// TestUseKeyRepeatCountsOnce: the same Use presented again, after it was counted,
// is answered as counted and changes nothing, with or without a hint.
func TestUseKeyRepeatCountsOnce(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "repeat", map[string]any{store.AttrRemaining: 5, store.AttrRateLimit: limits.RateLimit{Limit: 10, WindowSeconds: 60}})
	u := limits.Use{Cost: 2, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	in := store.UseInput{ID: "repeat", Use: u, Hashes: [][]byte{hash}, Now: limitsNow}
	first, err := st.UseKey(context.Background(), in)
	if err != nil || !first.Counted || *first.State.Remaining != 3 || first.State.WindowCount != 2 {
		t.Fatalf("first use: %+v, %v", first, err)
	}
	if first.Key.ID != "repeat" || first.Key.Owner != "alice@example.com" {
		t.Errorf("the use did not return the key: %+v", first.Key)
	}
	for _, hint := range []*limits.State{nil, first.State} {
		in.Hint = hint
		again, err := st.UseKey(context.Background(), in)
		if err != nil || !again.Counted {
			t.Fatalf("repeat (hint %v): %+v, %v", hint != nil, again, err)
		}
		if s := readState(t, st, "repeat"); *s.Remaining != 3 || s.WindowCount != 2 {
			t.Errorf("repeat (hint %v) counted again: remaining %d, window %d", hint != nil, *s.Remaining, s.WindowCount)
		}
	}
}

// TestUseKeyRefillIsLazy: a key whose credits ran out yesterday is refilled by its
// first use today, to the refill amount (not added to what is left), and refuses
// once that is spent, until the next period.
func TestUseKeyRefillIsLazy(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	today := limits.PeriodStart(limits.EveryDay, limitsNow)
	hash := newLimitedKey(t, st, "refill", map[string]any{
		store.AttrRemaining: 0, store.AttrRefill: limits.Refill{Amount: 3, Every: limits.EveryDay},
		store.AttrRefilledAt: today.AddDate(0, 0, -1).Unix(),
	})
	use := func(now time.Time) *store.UseResult {
		t.Helper()
		u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: now}
		res, err := st.UseKey(context.Background(), store.UseInput{ID: "refill", Use: u, Hashes: [][]byte{hash}, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for i, want := range []int64{2, 1, 0} {
		res := use(limitsNow.Add(time.Duration(i) * time.Minute))
		if !res.Counted || *res.State.Remaining != want || res.State.RefilledAt != today.Unix() {
			t.Fatalf("use %d: counted %v, remaining %d, refilled_at %d", i, res.Counted, *res.State.Remaining, res.State.RefilledAt)
		}
	}
	res := use(limitsNow.Add(time.Hour))
	if res.Refused != limits.CodeUsageExceeded || !res.RetryAfter.Equal(today.AddDate(0, 0, 1)) {
		t.Fatalf("spent: %+v", res)
	}
	tomorrow := limitsNow.AddDate(0, 0, 1)
	if res := use(tomorrow); !res.Counted || *res.State.Remaining != 2 {
		t.Fatalf("next day: %+v", res)
	}
}

// TestUseKeyRateLimitWindow: at one instant, 8 goroutines × 3 uses against a limit of
// 5 per minute: exactly 5 are counted, the others refused until the window's end,
// after which the next window counts afresh. Refused uses count in no window.
func TestUseKeyRateLimitWindow(t *testing.T) {
	_, st, lt := newLimitsStore(t, 0.2)
	hash := newLimitedKey(t, st, "window", map[string]any{store.AttrRateLimit: limits.RateLimit{Limit: 5, WindowSeconds: 60}})
	lt.armed.Store(true)
	now := limitsNow.Add(10 * time.Second)
	r := &useRun{st: st, id: "window", hash: hash, slots: limits.NewSlots(), now: func() time.Time { return now }}
	got, err := r.run(context.Background(), 8, 3, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	start := limits.WindowStart(60, now)
	if got.Accepted != 5 || got.ByWindow[start] != 5 || got.Refused != 19 {
		t.Fatalf("accepted %d (%v), refused %d; want 5 in window %d, 19 refused", got.Accepted, got.ByWindow, got.Refused, start)
	}
	u := limits.Use{Cost: 1, Slot: "s.x", ID: limits.RandomID(), At: now}
	res, err := st.UseKey(context.Background(), store.UseInput{ID: "window", Use: u, Hashes: [][]byte{hash}, Now: now})
	if err != nil || res.Refused != limits.CodeRateLimited || !res.RetryAfter.Equal(time.Unix(start+60, 0)) {
		t.Fatalf("over the limit: %+v, %v", res, err)
	}
	if w := limits.WindowAt(res.State, now); w.Remaining != 0 || !w.Reset.Equal(time.Unix(start+60, 0)) {
		t.Errorf("window shown as %+v", w)
	}
	next := now.Add(60 * time.Second)
	u = limits.Use{Cost: 1, Slot: "s.x", ID: limits.RandomID(), At: next}
	res, err = st.UseKey(context.Background(), store.UseInput{ID: "window", Use: u, Hint: res.State, Hashes: [][]byte{hash}, Now: next})
	if err != nil || !res.Counted || res.State.WindowStart != start+60 || res.State.WindowCount != 1 {
		t.Fatalf("next window: %+v, %v", res, err)
	}
}

// TestUseKeyUsageBeforeRateLimit: a key out of credits answers USAGE_EXCEEDED and
// its refused uses take no room in the window; a key with credits but a full window
// answers RATE_LIMITED and keeps its credits.
func TestUseKeyUsageBeforeRateLimit(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "both", map[string]any{store.AttrRemaining: 2, store.AttrRateLimit: limits.RateLimit{Limit: 3, WindowSeconds: 60}})
	var codes []string
	for i := range 4 {
		u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
		res, err := st.UseKey(context.Background(), store.UseInput{ID: "both", Use: u, Hashes: [][]byte{hash}, Now: limitsNow})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, fmt.Sprintf("%v/%s", res.Counted, res.Refused))
		if i == 3 && (res.State.WindowCount != 2 || *res.State.Remaining != 0) {
			t.Errorf("refused uses were counted: window %d, remaining %d", res.State.WindowCount, *res.State.Remaining)
		}
	}
	if want := "[true/ true/ false/USAGE_EXCEEDED false/USAGE_EXCEEDED]"; fmt.Sprint(codes) != want {
		t.Errorf("answers %v, want %v", codes, want)
	}
	setAttrs(t, st, "both", map[string]any{store.AttrRemaining: 10, store.AttrWindowCount: 3})
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	res, err := st.UseKey(context.Background(), store.UseInput{ID: "both", Use: u, Hashes: [][]byte{hash}, Now: limitsNow})
	if err != nil || res.Refused != limits.CodeRateLimited || *res.State.Remaining != 10 {
		t.Fatalf("full window: %+v, %v", res, err)
	}
}

// TestUseKeyWrongSecret: whoever knows a key id but not its secret spends nothing:
// a use with another secret's hash, or of a revoked key, counts nothing.
func TestUseKeyWrongSecret(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "guarded", map[string]any{store.AttrRemaining: 5, store.AttrRateLimit: limits.RateLimit{Limit: 5, WindowSeconds: 60}})
	hint := readState(t, st, "guarded")
	for _, h := range []*limits.State{nil, hint} {
		u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
		res, err := st.UseKey(context.Background(), store.UseInput{ID: "guarded", Use: u, Hint: h, Hashes: [][]byte{[]byte("guess")}, Now: limitsNow})
		if err != nil || !res.SecretMismatch || res.Counted {
			t.Fatalf("wrong secret: %+v, %v", res, err)
		}
	}
	setAttrs(t, st, "guarded", map[string]any{"status": store.StatusRevoked})
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	res, err := st.UseKey(context.Background(), store.UseInput{ID: "guarded", Use: u, Hint: hint, Hashes: [][]byte{hash}, Now: limitsNow})
	if err != nil || !res.SecretMismatch {
		t.Fatalf("revoked: %+v, %v", res, err)
	}
	if s := readState(t, st, "guarded"); *s.Remaining != 5 || s.WindowCount != 0 || len(s.Marks) != 0 {
		t.Errorf("a refused use changed the key: remaining %d, window %d, marks %v", *s.Remaining, s.WindowCount, s.Marks)
	}
	if _, err := st.UseKey(context.Background(), store.UseInput{ID: "nokey", Use: u, Now: limitsNow}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v, want ErrNotFound", err)
	}
}

// TestUseKeyNotLimited: a key with neither credits nor rate limit costs no write.
func TestUseKeyNotLimited(t *testing.T) {
	env, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "free", nil)
	db := &testenv.CountingDB{API: st.DB()}
	cst := store.New(db, env.Table, time.Hour)
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	res, err := cst.UseKey(context.Background(), store.UseInput{ID: "free", Use: u, Hashes: [][]byte{hash}, Now: limitsNow})
	if err != nil || !res.NotLimited || res.Key.ID != "free" {
		t.Fatalf("%+v, %v", res, err)
	}
	if db.Writes.Load() != 0 || db.Gets.Load() != 1 {
		t.Errorf("%d writes, %d reads; want 0 and 1", db.Writes.Load(), db.Gets.Load())
	}
}

// TestUseKeyOneRoundTrip: with the previous use's state as hint, a limited use is
// one UpdateItem and nothing else.
func TestUseKeyOneRoundTrip(t *testing.T) {
	env, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "hot", map[string]any{store.AttrRemaining: 100, store.AttrRateLimit: limits.RateLimit{Limit: 100, WindowSeconds: 60}})
	db := &testenv.CountingDB{API: st.DB()}
	cst := store.New(db, env.Table, time.Hour)
	var hint *limits.State
	for i := range 5 {
		u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
		res, err := cst.UseKey(context.Background(), store.UseInput{ID: "hot", Use: u, Hint: hint, Hashes: [][]byte{hash}, Now: limitsNow})
		if err != nil || !res.Counted {
			t.Fatalf("use %d: %+v, %v", i, res, err)
		}
		hint = res.State
	}
	// The first use, without a hint, reads first; each later one is one write.
	if db.Gets.Load() != 1 || db.Writes.Load() != 5 {
		t.Errorf("%d reads, %d writes for 5 uses; want 1 and 5", db.Gets.Load(), db.Writes.Load())
	}
}

// TestUseKeyMarksBounded: marks of callers gone for longer than MarkTTL are removed
// by later uses, a few per use, so the item holds only recent callers' marks.
func TestUseKeyMarksBounded(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "marks", credits(1000))
	use := func(slot string, now time.Time) {
		t.Helper()
		u := limits.Use{Cost: 1, Slot: slot, ID: limits.RandomID(), At: now}
		if res, err := st.UseKey(context.Background(), store.UseInput{ID: "marks", Use: u, Hashes: [][]byte{hash}, Now: now}); err != nil || !res.Counted {
			t.Fatalf("%+v, %v", res, err)
		}
	}
	for i := range 20 {
		use(fmt.Sprintf("old.%d", i), limitsNow)
	}
	if n := len(readState(t, st, "marks").Marks); n != 20 {
		t.Fatalf("%d marks, want 20", n)
	}
	later := limitsNow.Add(limits.MarkTTL + time.Second)
	for range 5 {
		use("new.1", later)
	}
	if m := readState(t, st, "marks").Marks; len(m) != 1 || m["new.1"] == "" {
		t.Errorf("marks after the old callers left: %v", m)
	}
}

func storeOn(env *testenv.Env, db store.API) *store.Dynamo {
	return store.New(db, env.Table, time.Hour)
}

// TestUseKeyEmptyMarks: an item whose marks map is empty (it decodes as no map)
// still counts a use, once.
func TestUseKeyEmptyMarks(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "empty-marks", map[string]any{store.AttrRemaining: 3, store.AttrUseMarks: map[string]string{}})
	u := limits.Use{Cost: 1, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	for range 2 {
		res, err := st.UseKey(context.Background(), store.UseInput{ID: "empty-marks", Use: u, Hashes: [][]byte{hash}, Now: limitsNow})
		if err != nil || !res.Counted || *res.State.Remaining != 2 {
			t.Fatalf("%+v, %v", res, err)
		}
	}
}

// TestPatchOfRateLimitKeepsCreditsSpentMeanwhile: uses made between a patch's read
// and its write are not given back: a patch of the rate limit alone does not write
// remaining (or refilled_at) as it read them.
func TestPatchOfRateLimitKeepsCreditsSpentMeanwhile(t *testing.T) {
	_, st, _ := newLimitsStore(t, 0)
	hash := newLimitedKey(t, st, "patch-race", map[string]any{store.AttrRemaining: 10})
	k, err := st.GetKey(context.Background(), "patch-race")
	if err != nil {
		t.Fatal(err)
	}
	u := limits.Use{Cost: 3, Slot: "s.1", ID: limits.RandomID(), At: limitsNow}
	if res, err := st.UseKey(context.Background(), store.UseInput{ID: "patch-race", Use: u, Hashes: [][]byte{hash}, Now: limitsNow}); err != nil || !res.Counted {
		t.Fatalf("use: %+v, %v", res, err)
	}
	rl := &limits.RateLimit{Limit: 5, WindowSeconds: 60}
	if _, err := k.ApplyPatch(store.Patch{RateLimit: &rl}); err != nil {
		t.Fatal(err)
	}
	k.Version++
	ev := &store.Event{Time: limitsNow, Type: store.EventKeyUpdated, KeyID: k.ID, Owner: k.Owner, Actor: "t"}
	if err := st.UpdateKey(context.Background(), k, ev); err != nil {
		t.Fatal(err)
	}
	s := readState(t, st, "patch-race")
	if s.Remaining == nil || *s.Remaining != 7 || s.RateLimit == nil || s.RateLimit.Limit != 5 {
		t.Fatalf("after the patch: remaining %v, ratelimit %+v; want 7 and limit 5", s.Remaining, s.RateLimit)
	}
}
