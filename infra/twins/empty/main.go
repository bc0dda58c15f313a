// Command empty is the runtime's share of every twin (see package twin): an
// aws-lambda-go bootstrap that decodes an authorizer event and answers with no I/O, so
// that its CPU per invocation is the Runtime API client's (next, response) and the
// event's decoding and encoding only.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
)

func main() {
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: e.RouteKey != ""}, nil
	})
}
