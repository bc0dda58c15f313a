// Command sweeper is the minimal twin of SweeperFunction (see package twin) when
// nothing is due: a scheduled event in, one Query of the due index per shard, in
// parallel as the sweeper queries them, the count out.
package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/infra/twins/twin"
)

type result struct {
	ItemsRead int64 `json:"items_read"`
}

func main() {
	db, table := twin.Table(context.Background())
	shards := strings.Split(os.Getenv(twin.EnvDueShards), ",")
	index, pkAttr, atAttr := os.Getenv(twin.EnvDueIndex), os.Getenv(twin.EnvDuePK), os.Getenv(twin.EnvDueAt)
	lambda.StartHandlerFunc(func(ctx context.Context, _ events.EventBridgeEvent) (result, error) {
		now := strconv.FormatInt(time.Now().Unix(), 10)
		var read atomic.Int64
		errs := make([]error, len(shards))
		var wg sync.WaitGroup
		for i, pk := range shards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := db.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(table), IndexName: aws.String(index),
					KeyConditionExpression:   aws.String("#pk = :pk AND #at <= :now"),
					ExpressionAttributeNames: map[string]string{"#pk": pkAttr, "#at": atAttr},
					ExpressionAttributeValues: map[string]types.AttributeValue{
						":pk": &types.AttributeValueMemberS{Value: pk}, ":now": &types.AttributeValueMemberN{Value: now}},
					Limit: aws.Int32(100)})
				if err == nil {
					read.Add(int64(len(out.Items)))
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return result{}, err
			}
		}
		return result{ItemsRead: read.Load()}, nil
	})
}
