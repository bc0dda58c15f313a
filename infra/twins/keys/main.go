// Command keys is the minimal twin of KeysFunction (see package twin) on GET
// /v1/whoami without an authorizer: an HTTP API payload 2.0 event in, one consistent
// GetItem of the key, a small JSON answer out.
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
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		if _, err := twin.GetKey(ctx, db, table, key); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"},
			Body: `{"path":"` + e.RawPath + `"}`}, nil
	}, twin.FlushAtShutdown)
}
