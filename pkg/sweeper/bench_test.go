package sweeper_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/sweeper"
	"github.com/keyward/keyward/pkg/testenv"
)

type nopPublisher struct{}

func (nopPublisher) PublishEvent(context.Context, *sweeper.Reminder) error  { return nil }
func (nopPublisher) PublishNotice(context.Context, *sweeper.Reminder) error { return nil }

// BenchmarkSweepScaling measures one sweep over a table of 10,000 and one of 100,000
// keys, 1,000 of them due (past expiry) in each, and prints the figures. It
// runs under `make bench` (KEYWARD_BENCH_SWEEP=1); it seeds 110,000 items, so it is
// skipped by the generic benchmark run.
func BenchmarkSweepScaling(b *testing.B) {
	if os.Getenv("KEYWARD_BENCH_SWEEP") != "1" {
		b.Skip("set KEYWARD_BENCH_SWEEP=1 (make bench)")
	}
	const due = 1000
	for b.Loop() {
		// A first sweep warms DynamoDB Local's JIT and the SDK's connections: without
		// it, whichever table goes first looks several times slower.
		sweepOnce(b, 2*due, due)
		small := sweepOnce(b, 10_000, due)
		large := sweepOnce(b, 100_000, due)
		readRatio := float64(large.res.ItemsRead) / due
		timeRatio := large.elapsed.Seconds() / small.elapsed.Seconds()
		b.ReportMetric(readRatio, "read/due")
		b.ReportMetric(timeRatio, "t100k/t10k")
		fmt.Printf("sweep 10k keys: %v, read %d, expired %d; 100k keys: %v, read %d, expired %d (seeded in %v + %v)\n",
			small.elapsed.Round(time.Millisecond), small.res.ItemsRead, small.res.Expired,
			large.elapsed.Round(time.Millisecond), large.res.ItemsRead, large.res.Expired, small.seed.Round(time.Second), large.seed.Round(time.Second))
		figures := fmt.Sprintf("figure sweeper_items_read_ratio = %.2f x due (goal <= 1.1)\n", readRatio) +
			fmt.Sprintf("figure sweeper_runtime_100k_vs_10k = %.2f x (goal <= 1.2)\n", timeRatio)
		fmt.Print(figures)
		// make bench prints every .local/bench/*.txt last.
		dir := filepath.Join("..", "..", ".local", "bench")
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, "sweeper.txt"), []byte(figures), 0o644)
		}
		if large.res.Expired != due || small.res.Expired != due {
			b.Fatalf("expired %d and %d, want %d", small.res.Expired, large.res.Expired, due)
		}
	}
}

type measured struct {
	res     sweeper.Result
	elapsed time.Duration
	seed    time.Duration
}

func sweepOnce(b *testing.B, total, due int) measured {
	env := testenv.New(b)
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	seed(b, env, total, due, now)
	seeded := time.Since(start)
	deps := service.Build(service.Config{Table: env.Table, Prefix: testenv.KeyPrefix, EventRetention: 400 * day, Local: true}, env.AWS)
	cfg := sweeper.Defaults()
	cfg.Now = now
	s := sweeper.New(deps.Store, nopPublisher{}, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	start = time.Now()
	res, err := s.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return measured{res: res, elapsed: time.Since(start), seed: seeded}
}

// seed writes total keys straight into the table with parallel BatchWriteItem: due of
// them past expiry, the rest scheduled as a sweep leaves them (next due in 30+ days).
func seed(b *testing.B, env *testenv.Env, total, due int, now time.Time) {
	items := make(chan map[string]types.AttributeValue, 1024)
	var wg sync.WaitGroup
	var once sync.Once
	var seedErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]types.WriteRequest, 0, 25)
			flush := func() {
				for len(batch) > 0 {
					out, err := env.DDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
						RequestItems: map[string][]types.WriteRequest{env.Table: batch}})
					if err != nil {
						once.Do(func() { seedErr = err })
						return
					}
					batch = append(batch[:0], out.UnprocessedItems[env.Table]...)
				}
			}
			for it := range items {
				batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
				if len(batch) == 25 {
					flush()
				}
			}
			flush()
		}()
	}
	for i := range total {
		id := fmt.Sprintf("bench%07d", i)
		k := store.Key{
			ID: id, Name: id, Owner: "bench@example.com", Scopes: []string{"orders:read"}, Status: store.StatusActive,
			Start: "kw_test_AbC", CreatedAt: now.Add(-day), UpdatedAt: now.Add(-day), ExpiresAt: now.Add(time.Duration(60+i%300) * day),
			Metadata: map[string]any{}, AllowedCIDRs: []string{}, Version: 1, Secret: store.Secret{N: 1, Hash: []byte("0123456789abcdef0123456789abcdef"), Pepper: "p"},
		}
		dueAt := k.ExpiresAt.Add(-14 * day)
		if i%(total/due) == 0 {
			k.ExpiresAt = now.Add(-time.Duration(1+i%50) * time.Minute)
			dueAt = k.ExpiresAt
		}
		item, err := attributevalue.MarshalMap(k)
		if err != nil {
			b.Fatal(err)
		}
		item["pk"] = &types.AttributeValueMemberS{Value: store.KeyPK(id)}
		item["sk"] = &types.AttributeValueMemberS{Value: "KEY"}
		item["gsi1pk"] = &types.AttributeValueMemberS{Value: "OWNER#" + k.Owner}
		item["gsi2pk"] = &types.AttributeValueMemberS{Value: "KEYS"}
		item["lsk"] = &types.AttributeValueMemberS{Value: "1#" + id}
		item[store.AttrDuePK] = &types.AttributeValueMemberS{Value: store.DuePK(id)}
		item[store.AttrDueAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(dueAt.Unix(), 10)}
		items <- item
	}
	close(items)
	wg.Wait()
	if seedErr != nil {
		b.Fatalf("seed: %v", seedErr)
	}
}
