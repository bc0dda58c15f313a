package oauth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/store"
)

// BenchmarkTokenFigures measures issuance and refresh through the handler against
// DynamoDB Local, sequentially and with 8 concurrent clients, each beside its floor
// measured in the same run and interleaved with it (so drift hits both):
//   - issue floor: one consistent GetItem (the key) + one conditional PutItem + one
//     RS256 signature, in sequence;
//   - refresh floor: one consistent GetItem (the key) + one conditional UpdateItem
//     (consume the token) + one PutItem (the token.refreshed event the key's log must
//     hold) + one RS256 signature, in sequence. Unlike issuance, the event cannot
//     share the write's round trip: a conditional update batches with nothing but a
//     transaction, which costs more than the two writes.
//
// make bench runs it once; the figure lines go to .local/bench/token.txt.
func BenchmarkTokenFigures(b *testing.B) {
	for range b.N {
		tokenFigures(b)
	}
}

type series struct {
	lat  []time.Duration
	mu   sync.Mutex
	busy time.Duration // wall time of all batches
}

func (s *series) add(d time.Duration) { s.mu.Lock(); s.lat = append(s.lat, d); s.mu.Unlock() }

func pct(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

func tokenFigures(b *testing.B) {
	h := newHarness(b)
	ctx := context.Background()
	id, secret := h.createKey([]string{"orders:read"}, nil)
	db := h.deps.DDB
	table := h.env.Table
	set, err := h.deps.SigningKeys.Set(ctx)
	if err != nil {
		b.Fatal(err)
	}
	k := set.Current()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"iss":"http://127.0.0.1:3000","sub":"` + id + `","aud":"keyward","scope":"orders:read","exp":1,"iat":1,"nbf":1,"jti":"x","client_id":"` + id + `"}`)
	keyKey := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: store.KeyPK(id)}, "sk": &types.AttributeValueMemberS{Value: "KEY"},
	}
	sign := func() {
		jws, err := signer.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
	getKey := func() {
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: keyKey, ConsistentRead: aws.Bool(true)}); err != nil {
			b.Fatal(err)
		}
	}
	issueFloor := func() {
		getKey()
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &table, Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "RT#" + apikey.NewID()}, "sk": &types.AttributeValueMemberS{Value: "RT"},
			"hash": &types.AttributeValueMemberS{Value: strings.Repeat("0", 64)}, "key_id": &types.AttributeValueMemberS{Value: id},
		}, ConditionExpression: aws.String("attribute_not_exists(pk)")})
		if err != nil {
			b.Fatal(err)
		}
		sign()
	}
	// The refresh floor consumes one row per worker, flipping a counter conditionally.
	var floorRow sync.Map
	refreshFloor := func(worker int) {
		getKey()
		v, _ := floorRow.LoadOrStore(worker, new(int))
		gen := v.(*int)
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &table,
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("RT#floor%d", worker)}, "sk": &types.AttributeValueMemberS{Value: "RT"},
			},
			UpdateExpression:    aws.String("SET gen = :next"),
			ConditionExpression: aws.String("attribute_not_exists(gen) OR gen = :gen"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":gen": &types.AttributeValueMemberN{Value: fmt.Sprint(*gen)}, ":next": &types.AttributeValueMemberN{Value: fmt.Sprint(*gen + 1)},
			}})
		if err != nil {
			b.Fatal(err)
		}
		*gen++
		if err := h.deps.Store.PutEvent(ctx, &store.Event{Time: time.Now(), Type: store.EventTokenRefreshed, KeyID: id, Actor: id,
			Detail: map[string]any{"grant_type": "refresh_token", "jti": "floor", "family": "floor", "scope": "orders:read"}}); err != nil {
			b.Fatal(err)
		}
		sign()
	}
	serveForm := func(form string) events.APIGatewayV2HTTPResponse {
		req := fixture(b, "token-client-credentials")
		req.Body = form
		resp, err := h.oauth.Serve(ctx, req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
		return resp
	}
	ccForm := "grant_type=client_credentials&client_id=" + id + "&client_secret=" + secret
	issue := func() { serveForm(ccForm) }
	rts := make([]string, 8)
	for i := range rts {
		r := h.clientCredentials(id, secret).must(b, 200)
		rts[i] = r.str("refresh_token")
	}
	refresh := func(worker int) {
		resp := serveForm("grant_type=refresh_token&client_id=" + id + "&client_secret=" + secret + "&refresh_token=" + rts[worker])
		i := strings.Index(resp.Body, `"refresh_token":"`) + len(`"refresh_token":"`)
		rts[worker] = resp.Body[i : i+strings.Index(resp.Body[i:], `"`)]
	}

	// run measures op and its floor interleaved: rounds of a batch of each.
	run := func(workers, perWorker int, op, floor func(worker int)) (opS, floorS *series) {
		opS, floorS = &series{}, &series{}
		measure := func(s *series, f func(int)) {
			var wg sync.WaitGroup
			t0 := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 25; i++ {
						start := time.Now()
						f(w)
						s.add(time.Since(start))
					}
				}()
			}
			wg.Wait()
			s.busy += time.Since(t0)
		}
		for round := 0; round < perWorker/25; round++ {
			measure(floorS, floor)
			measure(opS, op)
		}
		return opS, floorS
	}
	// Warm up both paths (connections, JIT in DynamoDB Local, caches).
	for i := 0; i < 50; i++ {
		issue()
		issueFloor()
		refresh(0)
		refreshFloor(0)
	}

	var lines []string
	report := func(name string, workers int, op, floor *series) float64 {
		p50, p99 := pct(op.lat, 0.5), pct(op.lat, 0.99)
		f50 := pct(floor.lat, 0.5)
		tput := float64(len(op.lat)) / op.busy.Seconds()
		ratio := float64(p50) / float64(f50)
		lines = append(lines,
			fmt.Sprintf("figure %s_c%d_p50 = %.2f ms", name, workers, ms(p50)),
			fmt.Sprintf("figure %s_c%d_p99 = %.2f ms", name, workers, ms(p99)),
			fmt.Sprintf("figure %s_c%d_throughput = %.0f /s", name, workers, tput),
			fmt.Sprintf("figure %s_c%d_floor_p50 = %.2f ms", name, workers, ms(f50)),
			fmt.Sprintf("figure %s_c%d_p50_ratio = %.2f x (goal <= 1.3)", name, workers, ratio))
		return ratio
	}
	seqIssue, seqIssueFloor := run(1, 400, func(int) { issue() }, func(int) { issueFloor() })
	issueRatio := report("token_issue", 1, seqIssue, seqIssueFloor)
	conIssue, conIssueFloor := run(8, 100, func(int) { issue() }, func(int) { issueFloor() })
	report("token_issue", 8, conIssue, conIssueFloor)
	seqRefresh, seqRefreshFloor := run(1, 400, refresh, refreshFloor)
	refreshRatio := report("token_refresh", 1, seqRefresh, seqRefreshFloor)
	conRefresh, conRefreshFloor := run(8, 100, refresh, refreshFloor)
	report("token_refresh", 8, conRefresh, conRefreshFloor)
	lines = append(lines,
		fmt.Sprintf("figure token_issue_p50_ratio = %.2f x (goal <= 1.3)", issueRatio),
		fmt.Sprintf("figure token_refresh_p50_ratio = %.2f x (goal <= 1.3)", refreshRatio))
	out := strings.Join(lines, "\n") + "\n"
	fmt.Print(out)
	// make bench prints every .local/bench/*.txt last.
	if dir := filepath.Join("..", "..", ".local", "bench"); isDir(dir) {
		if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte(out), 0o644); err != nil {
			b.Error(err)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func isDir(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() }
