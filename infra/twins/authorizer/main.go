// Command authorizer is the minimal twin of AuthorizerFunction (see package twin): an
// HTTP API payload 2.0 authorizer event in, one consistent GetItem of the key, a
// simple response out.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/keyward/keyward/infra/twins/twin"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
)

func main() {
	db, table := twin.Table(context.Background())
	key := twin.KeyFromEnv()
	twin.LoopIfAsked(func(ctx context.Context) error { _, err := twin.GetKey(ctx, db, table, key); return err })
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		item, err := twin.GetKey(ctx, db, table, key)
		if err != nil {
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, err
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: len(item) > 0 && e.RouteKey != "",
			Context: map[string]any{"key_id": key.PK}}, nil
	}, twin.FlushAtShutdown)
}
