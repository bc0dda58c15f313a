// Command fake is a tiny Lambda function for the gateway's tests. As an authorizer
// (type REQUEST) it allows the identity "good"; as a route it echoes the event, its
// pid and its environment's FAKE_NAME, and fails when the body is "boom".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &probe)
	if probe.Type == "REQUEST" {
		var req events.APIGatewayV2CustomAuthorizerV2Request
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, err
		}
		ok := len(req.IdentitySource) == 1 && req.IdentitySource[0] == "good"
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{
			IsAuthorized: ok,
			Context:      map[string]any{"key_id": "k1", "auth": "api_key"},
		}, nil
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Body == "boom" {
		return nil, errors.New("boom")
	}
	body, _ := json.Marshal(map[string]any{"event": ev, "pid": os.Getpid(), "name": os.Getenv("FAKE_NAME")})
	return events.APIGatewayV2HTTPResponse{
		StatusCode:        201,
		Headers:           map[string]string{"Content-Type": "application/json", "X-Route": ev.RouteKey},
		MultiValueHeaders: map[string][]string{"X-Multi": {"a", "b"}},
		Cookies:           []string{"c=1"},
		Body:              string(body),
	}, nil
}

func main() {
	lambda.StartHandlerFunc(handle)
}
