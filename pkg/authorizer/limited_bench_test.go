package authorizer_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// BenchmarkLimitedFigures prints the limited-key figures (make bench): the
// authorizer's path for a key with a rate limit and credits, whose every use is one
// conditional UpdateItem returning the key, against the bare round trip of that use
// on DynamoDB Local, interleaved in the same run so drift hits both. The bare call
// is the conditional UpdateItem (ReturnValues ALL_NEW) of the same item that the
// authorizer sends, captured from it and replayed raw under a slot and mark of its
// own (so neither call's condition fails because of the other): what is left is
// Keyward's own cost, as the unlimited figure compares with a bare GetItem. For
// scale it also prints, not as a figure, the ratio to a minimal update of the item.
func BenchmarkLimitedFigures(b *testing.B) {
	for range b.N {
		limitedFigures(b)
	}
}

func limitedFigures(b *testing.B) {
	ctx := context.Background()
	h := benchHarness(b)
	id, key := h.newKey([]string{"orders:read"}, func(k *store.Key, _ func(int64) (string, store.Secret)) {
		credits := int64(limits.MaxCredits)
		k.Remaining = &credits
		k.RateLimit = &limits.RateLimit{Limit: limits.MaxLimit, WindowSeconds: limits.MaxWindowSeconds}
	})
	raw := fixture(h.t, "authorizer-http", key)
	rec := &recordingDB{API: h.db}
	h.a.Verifier.Limits = store.New(rec, h.env.Table, 400*24*time.Hour)
	minimal := &dynamodb.UpdateItemInput{
		TableName: aws.String(h.env.Table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)},
			"sk": &types.AttributeValueMemberS{Value: "KEY"},
		},
		UpdateExpression:          aws.String("SET #n = if_not_exists(#n, :zero) + :one"),
		ConditionExpression:       aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames:  map[string]string{"#n": "bench_n"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":zero": &types.AttributeValueMemberN{Value: "0"}, ":one": &types.AttributeValueMemberN{Value: "1"}},
		ReturnValues:              types.ReturnValueAllNew,
	}
	handler := func() {
		out, err := h.a.Invoke(ctx, raw)
		if err != nil {
			b.Fatal(err)
		}
		if !containsAllow(out) {
			b.Fatalf("limited key refused: %s", out)
		}
	}
	for range 300 { // warm up: connections, secrets, this instance's view of the key
		handler()
	}
	captured := rec.last()
	marks := 0
	bare := func() {
		marks++
		if _, err := h.deps.DDB.UpdateItem(ctx, replay(b, captured, h.clock.Now().Unix(), marks)); err != nil {
			b.Fatal(err)
		}
	}
	simple := func() {
		if _, err := h.deps.DDB.UpdateItem(ctx, minimal); err != nil {
			b.Fatal(err)
		}
	}
	for range 300 {
		bare()
		simple()
	}
	gets, writes := h.db.Gets.Load(), h.db.Writes.Load()
	const n = 4000
	hs, us, ms := make([]time.Duration, 0, n), make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	measure := func(f func(), into *[]time.Duration) {
		s := time.Now()
		f()
		*into = append(*into, time.Since(s))
	}
	for i := range n {
		if i%2 == 0 {
			measure(handler, &hs)
			measure(bare, &us)
		} else {
			measure(bare, &us)
			measure(handler, &hs)
		}
		measure(simple, &ms)
	}
	// The bare updates go around the counting client: what it counts is the handler's.
	perUse := float64(h.db.Gets.Load()-gets+h.db.Writes.Load()-writes) / n
	p50 := float64(pct(hs, 0.50)) / float64(pct(us, 0.50))
	p99 := float64(pct(hs, 0.99)) / float64(pct(us, 0.99))
	fmt.Printf("authorizer limited key: handler p50 %v p99 %v, its bare conditional UpdateItem ALL_NEW p50 %v p99 %v (%d interleaved pairs, %.2f round trips per use)\n",
		pct(hs, 0.5), pct(hs, 0.99), pct(us, 0.5), pct(us, 0.99), n, perUse)
	fmt.Printf("authorizer limited key: for scale, a minimal conditional UpdateItem ALL_NEW of the item p50 %v p99 %v: handler/minimal p50 %.2f x, p99 %.2f x\n",
		pct(ms, 0.5), pct(ms, 0.99), float64(pct(hs, 0.5))/float64(pct(ms, 0.5)), float64(pct(hs, 0.99))/float64(pct(ms, 0.99)))
	lines := fmt.Sprintf("figure authorizer_limited_p50_ratio = %.2f x (goal <= 1.10)\n", p50) +
		fmt.Sprintf("figure authorizer_limited_p99_ratio = %.2f x (goal <= 1.25)\n", p99) +
		fmt.Sprintf("figure authorizer_limited_round_trips = %.2f per use (goal = 1)\n", perUse)
	fmt.Print(lines)
	if dir := filepath.Join("..", "..", ".local", "bench"); isDir(dir) {
		if err := os.WriteFile(filepath.Join(dir, "authorizer_limited.txt"), []byte(lines), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func containsAllow(out []byte) bool {
	return bytes.Contains(out, []byte(`"isAuthorized":true`)) || bytes.Contains(out, []byte(`"Effect":"Allow"`))
}

// recordingDB keeps the last UpdateItem sent through it.
type recordingDB struct {
	store.API
	mu sync.Mutex
	in *dynamodb.UpdateItemInput
}

func (r *recordingDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	r.mu.Lock()
	r.in = in
	r.mu.Unlock()
	return r.API.UpdateItem(ctx, in, o...)
}

func (r *recordingDB) last() *dynamodb.UpdateItemInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.in
}

var (
	slotName  = regexp.MustCompile(`^[A-Z2-7]{16}\.[0-9]+$`)
	markValue = regexp.MustCompile(`^[0-9]+:[A-Z2-7]{16}$`)
)

// replay is the captured use's UpdateItem under the slot "bench" with the i-th mark
// of its own, made at epoch second at (fresh, so no use of the key prunes it): the
// same expression and item, a mark that was never there.
func replay(b *testing.B, in *dynamodb.UpdateItemInput, at int64, i int) *dynamodb.UpdateItemInput {
	out := *in
	out.ExpressionAttributeNames = maps.Clone(in.ExpressionAttributeNames)
	out.ExpressionAttributeValues = maps.Clone(in.ExpressionAttributeValues)
	slots, marked := 0, 0
	for k, v := range out.ExpressionAttributeNames {
		if slotName.MatchString(v) {
			out.ExpressionAttributeNames[k] = "bench"
			slots++
		}
	}
	for k, v := range out.ExpressionAttributeValues {
		if s, ok := v.(*types.AttributeValueMemberS); ok && markValue.MatchString(s.Value) {
			out.ExpressionAttributeValues[k] = &types.AttributeValueMemberS{Value: strconv.FormatInt(at, 10) + ":bench" + strconv.Itoa(i)}
			marked++
		}
	}
	if slots != 1 || marked == 0 || out.ReturnValues != types.ReturnValueAllNew || out.ConditionExpression == nil {
		b.Fatalf("captured update is not a warm use of the key: %d slots, %d marks", slots, marked)
	}
	return &out
}
