package twin

import (
	"github.com/aws/aws-lambda-go/lambda"

	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/pkg/awsclient"
	"github.com/keyward/keyward/pkg/env"
)

// The variables the bench sets for a twin, beside the function's own environment.
const (
	// EnvPK and EnvSK name the key item an authorizer, keys or token twin reads.
	EnvPK = "KEYWARD_TWIN_PK"
	EnvSK = "KEYWARD_TWIN_SK"
	// EnvSigningKey is the token twin's RSA-2048 key, PKCS #1 DER, base64.
	EnvSigningKey = "KEYWARD_TWIN_SIGNING_KEY"
	// EnvDueIndex, EnvDuePK, EnvDueAt and EnvDueShards describe the sweeper's index:
	// its name, its key attributes, and the partition values, comma-separated.
	EnvDueIndex  = "KEYWARD_TWIN_DUE_INDEX"
	EnvDuePK     = "KEYWARD_TWIN_DUE_PK"
	EnvDueAt     = "KEYWARD_TWIN_DUE_AT"
	EnvDueShards = "KEYWARD_TWIN_DUE_SHARDS"
)

// Table is the function's table (TABLE_NAME) and a DynamoDB client configured as the
// functions' is.
func Table(ctx context.Context) (*dynamodb.Client, string) {
	cfg, err := awsclient.Config(ctx)
	if err != nil {
		Fail(err)
	}
	return awsclient.DynamoDB(cfg, env.Local()), os.Getenv("TABLE_NAME")
}

// Key is the primary key of the item a twin reads.
type Key struct{ PK, SK string }

// KeyFromEnv is the key item the bench named (EnvPK, EnvSK).
func KeyFromEnv() Key { return Key{PK: os.Getenv(EnvPK), SK: os.Getenv(EnvSK)} }

// GetKey reads item k, consistently, as the functions read an API key's record.
func GetKey(ctx context.Context, db *dynamodb.Client, table string, k Key) (map[string]types.AttributeValue, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: k.PK}, "sk": &types.AttributeValueMemberS{Value: k.SK},
	}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("twin: no item %s/%s", k.PK, k.SK)
	}
	return out.Item, nil
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// Issue is a client_credentials grant's unavoidable work: the key read (GetKey), one
// RS256 signature of an access token's claims, one BatchWriteItem of the two new items
// (the refresh family and the token event). It returns the signed token.
func Issue(ctx context.Context, db *dynamodb.Client, table string, k Key, signer jose.Signer) (string, error) {
	if _, err := GetKey(ctx, db, table, k); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	id := Random(10)
	jws, err := signer.Sign([]byte(`{"iss":"http://127.0.0.1:3000","sub":"` + id + `","aud":"keyward","scope":"orders:read","exp":` +
		strconv.FormatInt(now+900, 10) + `,"iat":` + strconv.FormatInt(now, 10) + `,"jti":"` + id + `"}`))
	if err != nil {
		return "", err
	}
	access, err := jws.CompactSerialize()
	if err != nil {
		return "", err
	}
	n := &types.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)}
	_, err = db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: {
		{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("RT#" + id), "sk": s("FAMILY"),
			"key_id": s(id), "hash": s(Random(32)), "scope": s("orders:read"), "expires_at": n, "ttl": n}}},
		{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("KEY#" + id), "sk": s("EVENT#" + id),
			"type": s("token.issued"), "time": n, "key_id": s(id), "actor": s(id),
			"detail": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"jti": s(id), "scope": s("orders:read")}}}}},
	}}})
	return access, err
}

// Due describes the sweeper's due index.
type Due struct {
	Index, PKAttr, AtAttr string
	Shards                []string
}

// DueFromEnv is the index the bench described (EnvDue*).
func DueFromEnv() Due {
	return Due{Index: os.Getenv(EnvDueIndex), PKAttr: os.Getenv(EnvDuePK), AtAttr: os.Getenv(EnvDueAt),
		Shards: strings.Split(os.Getenv(EnvDueShards), ",")}
}

// QueryDue is a sweep that finds nothing to do: one Query of each shard's due items,
// in parallel, as the sweeper queries them. It returns how many items it read.
func QueryDue(ctx context.Context, db *dynamodb.Client, table string, d Due) (int, error) {
	now := strconv.FormatInt(time.Now().Unix(), 10)
	counts := make([]int, len(d.Shards))
	errs := make([]error, len(d.Shards))
	var wg sync.WaitGroup
	for i, pk := range d.Shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String(d.Index),
				KeyConditionExpression:   aws.String("#pk = :pk AND #at <= :now"),
				ExpressionAttributeNames: map[string]string{"#pk": d.PKAttr, "#at": d.AtAttr},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pk": &types.AttributeValueMemberS{Value: pk}, ":now": &types.AttributeValueMemberN{Value: now}},
				Limit: aws.Int32(100)})
			if err == nil {
				counts[i] = len(out.Items)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			return 0, err
		}
		total += counts[i]
	}
	return total, nil
}

// Random is n random bytes, hex-encoded.
func Random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Fail ends a twin whose init failed.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "twin:", err)
	os.Exit(1)
}

// EnvLoop, when set, makes a twin run its unavoidable work in a plain Go loop instead
// of serving the Runtime API: the bench's "same SDK calls, measured the same way" (a
// process of the same binary and environment, its CPU read from /proc).
const EnvLoop = "KEYWARD_TWIN_LOOP"

// LoopIfAsked, when EnvLoop is set, runs work in blocks and exits: each line of stdin
// is a count n; it runs work n times in a row, then answers "ok" on stdout (or the
// error, and exits 1). It returns at once when EnvLoop is unset.
func LoopIfAsked(work func(context.Context) error) {
	if os.Getenv(EnvLoop) == "" {
		return
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, err := strconv.Atoi(in.Text())
		for i := 0; err == nil && i < n; i++ {
			err = workWithDeadline(work)
		}
		if err != nil {
			Fail(err)
		}
		fmt.Println("ok")
	}
	os.Exit(0)
}

// loopDeadline is the deadline of each loop-mode unit: a handler's context carries
// one (the function's timeout), which the SDK and net/http watch during each call.
const loopDeadline = 10 * time.Second

func workWithDeadline(work func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), loopDeadline)
	defer cancel()
	return work(ctx)
}

// FlushAtShutdown is the start option of the twins of functions that flush what they
// hold at shutdown (authorizer, keys, token): like those functions, they register for
// SIGTERM, which on Lambda takes an Extensions API registration at init, so their
// cold starts carry the same round trip.
var FlushAtShutdown = lambda.WithEnableSIGTERM(func() {})
