package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/testenv"
)

// windowRun is a rate-limit run: procs worker processes of one goroutine each, each
// waiting pace between its uses, against a key limited to limit per window of
// windowSeconds, over windows whole windows (the first window, while the processes
// start, is not measured).
type windowRun struct {
	procs, windows       int
	limit, windowSeconds int64
	pace                 time.Duration
}

// measure runs r and returns the accepted uses of each measured window, in order.
func (r windowRun) measure(t testing.TB, env *testenv.Env, st *store.Dynamo, id string) []int64 {
	t.Helper()
	hash := newLimitedKey(t, st, id, map[string]any{"ratelimit": limits.RateLimit{Limit: r.limit, WindowSeconds: r.windowSeconds}})
	ws := time.Duration(r.windowSeconds) * time.Second
	var first time.Time
	got := runWorkers(t, r.procs, workerConfig{Table: env.Table, Key: id, Hash: hash, Workers: 1, Pace: r.pace, RetryAfter: true},
		func(ready time.Time) (time.Time, time.Time) {
			// Start now; measure from the first whole window after one has passed.
			first = time.Unix(limits.WindowStart(r.windowSeconds, ready)+2*r.windowSeconds, 0)
			return ready, first.Add(time.Duration(r.windows) * ws)
		})
	var per []int64
	for w := range r.windows {
		per = append(per, got.ByWindow[first.Unix()+int64(w)*r.windowSeconds])
	}
	return per
}

// TestUseKeyRateLimitAcrossProcesses: 4 processes use a key limited to 40 per 2 s
// as fast as they can for 4 windows: no window admits more than its limit (the
// window is one counter on the key item, raised by conditional updates), and the
// windows did fill (a window the callers could not fill, on a stalled machine,
// proves nothing, so one full window is required, not all).
func TestUseKeyRateLimitAcrossProcesses(t *testing.T) {
	env, st, _ := newLimitsStore(t, 0)
	r := windowRun{procs: 4, windows: 4, limit: 40, windowSeconds: 2, pace: 5 * time.Millisecond}
	per := r.measure(t, env, st, "window-procs")
	for i, n := range per {
		if n > r.limit {
			t.Errorf("window %d admitted %d, limit %d (all windows: %v)", i, n, r.limit, per)
		}
	}
	if slices.Max(per) != r.limit {
		t.Errorf("no window filled: %v, limit %d", per, r.limit)
	}
}

// BenchmarkLimitsFigures is make bench's figures for usage limits, against DynamoDB
// Local, with worker processes standing in for Lambda instances:
//   - credits_exact: 16 processes × 500 uses against remaining 5000, with 5% of the
//     UpdateItem answers lost after the write (the SDK retries them): exactly 5000
//     accepted, 3000 refused, remaining 0.
//   - ratelimit_over_admission: 16 processes over 20 windows at a limit of 1,000 per
//     window, time scaled (KEYWARD_BENCH_WINDOW_SECONDS, default 8, stands for a
//     minute), callers honouring Retry-After: the worst window's (allowed − limit) /
//     limit, and how full the windows were (a window that does not fill proves
//     nothing; on a machine too slow to fill 1,000 uses in 8 s, raise the window).
//   - usage_count_writes_per_key_minute: a 65 s sustained loop of uses of 3 keys,
//     counted by one instance's Counter and flushed after every use: the most table
//     writes of one key within any 60 s.
func BenchmarkLimitsFigures(b *testing.B) {
	env, st, _ := newLimitsStore(b, 0)
	const R, procs, uses = 5000, 16, 500
	hash := newLimitedKey(b, st, "bench-credits", credits(R))
	c := runWorkers(b, procs, workerConfig{
		Table: env.Table, Key: "bench-credits", Hash: hash, Workers: 1, Uses: uses, Loss: 0.05,
	}, now)
	left := readState(b, st, "bench-credits").Remaining
	exact := c.Accepted == R && c.Refused == procs*uses-R && left != nil && *left == 0
	lines := []string{fmt.Sprintf("figure credits_exact = %v (goal true) [%d accepted, %d refused, remaining %d; %d processes x %d uses against %d; %d answers lost and retried]",
		exact, c.Accepted, c.Refused, *left, procs, uses, R, c.Lost)}

	wsec := int64(8)
	if v, err := strconv.ParseInt(os.Getenv("KEYWARD_BENCH_WINDOW_SECONDS"), 10, 64); err == nil && v > 0 {
		wsec = v
	}
	r := windowRun{procs: 16, windows: 20, limit: 1000, windowSeconds: wsec}
	per := r.measure(b, env, st, "bench-window")
	worst, fill, full := 0.0, 100.0, 0
	for _, n := range per {
		worst = max(worst, float64(n-r.limit)/float64(r.limit)*100)
		fill = min(fill, float64(n)/float64(r.limit)*100)
		if n >= r.limit {
			full++
		}
	}
	lines = append(lines,
		fmt.Sprintf("figure ratelimit_over_admission = %.2f %% (goal <= 2) [worst of %d windows of %d s at limit %d, %d processes; allowed per window min %d, max %d]",
			worst, r.windows, wsec, r.limit, r.procs, slices.Min(per), slices.Max(per)),
		fmt.Sprintf("figure ratelimit_window_fill = %.1f %% [the least full window, of its limit; %d of %d windows reached the limit]", fill, full, r.windows))
	lines = append(lines, usageWritesFigure(b, st))
	out := strings.Join(lines, "\n") + "\n"
	fmt.Print(out)
	// make bench prints every .local/bench/*.txt last.
	if dir := filepath.Join("..", "..", ".local", "bench"); isDir(dir) {
		if err := os.WriteFile(filepath.Join(dir, "limits.txt"), []byte(out), 0o644); err != nil {
			b.Error(err)
		}
	}
	for b.Loop() {
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// countingCounts counts PutUsageCount calls per key, with their times.
type countingCounts struct {
	limits.CountStore
	mu    sync.Mutex
	times map[string][]time.Time
}

func (c *countingCounts) PutUsageCount(ctx context.Context, w limits.CountWrite) error {
	c.mu.Lock()
	c.times[w.KeyID] = append(c.times[w.KeyID], time.Now())
	c.mu.Unlock()
	return c.CountStore.PutUsageCount(ctx, w)
}

func usageWritesFigure(b *testing.B, st *store.Dynamo) string {
	ctx := context.Background()
	cs := &countingCounts{CountStore: st, times: map[string][]time.Time{}}
	c := limits.NewCounter(limits.RandomID())
	start := time.Now()
	uses := 0
	for time.Since(start) < 65*time.Second {
		now := time.Now()
		c.Record(fmt.Sprint("usage-key-", uses%3), now, limits.CodeValid)
		uses++
		if err := limits.Flush(ctx, c, cs, now, false); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	worst := 0
	for _, ts := range cs.times {
		for i := range ts {
			n := 0
			for j := i; j < len(ts) && ts[j].Sub(ts[i]) < time.Minute; j++ {
				n++
			}
			worst = max(worst, n)
		}
	}
	return fmt.Sprintf("figure usage_count_writes_per_key_minute = %d (goal <= 1) [%d uses of 3 keys over 65 s, one instance, flushed after every use]", worst, uses)
}
