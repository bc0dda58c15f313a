// Command sweeper is the minimal twin of SweeperFunction (see package twin) when
// nothing is due: a scheduled event in, twin.QueryDue (one Query of the due index per
// shard, in parallel, as the sweeper queries them), the count out.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keyward/keyward/infra/twins/twin"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
)

type result struct {
	ItemsRead int `json:"items_read"`
}

func main() {
	db, table := twin.Table(context.Background())
	due := twin.DueFromEnv()
	twin.LoopIfAsked(func(ctx context.Context) error { _, err := twin.QueryDue(ctx, db, table, due); return err })
	lambda.StartHandlerFunc(func(ctx context.Context, _ events.EventBridgeEvent) (result, error) {
		n, err := twin.QueryDue(ctx, db, table, due)
		return result{ItemsRead: n}, err
	})
}
