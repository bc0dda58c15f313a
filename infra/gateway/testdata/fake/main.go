// Command fake is a tiny Lambda function for the gateway's tests. As an authorizer
// (type REQUEST) it allows the identity "good" (its identity source, or with none the
// Authorization or X-API-Key header); as a route it echoes the event, its pid and its
// environment's FAKE_NAME, logs a JSON request line as package httpapi's Router does
// (key id k9, code c1), and fails when the body is "boom". It registers for SIGTERM
// as Keyward's functions do (lambda.WithEnableSIGTERM).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		identity := req.IdentitySource
		if len(identity) == 0 {
			identity = []string{req.Headers["authorization"] + req.Headers["x-api-key"]}
		}
		ok := len(identity) == 1 && identity[0] == "good"
		ctx := map[string]any{"key_id": "k1", "auth": "api_key"}
		if !ok {
			ctx = map[string]any{"error": "invalid_credential"}
		}
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: ok, Context: ctx}, nil
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if ev.Body == "boom" {
		return nil, errors.New("boom")
	}
	line, _ := json.Marshal(map[string]any{"level": "INFO", "msg": "request", "route": ev.RouteKey, "status": 201,
		"key_id": "k9", "code": "c1", "request_id": ev.RequestContext.RequestID})
	fmt.Println(string(line))
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
	// On SIGTERM, as Keyward's functions flush their usage counts, the fake writes
	// "flushed" to FAKE_SIGTERM_FILE (when set) and exits.
	lambda.StartHandlerFunc(handle, lambda.WithEnableSIGTERM(func() {
		if f := os.Getenv("FAKE_SIGTERM_FILE"); f != "" {
			_ = os.WriteFile(f, []byte("flushed"), 0o600)
		}
		os.Exit(0)
	}))
}
