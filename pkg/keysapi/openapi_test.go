package keysapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestOpenAPIRoute(t *testing.T) {
	api := &API{log: slog.New(slog.DiscardHandler)}
	resp, err := api.Router().Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/openapi.json"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "public, max-age=300" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Headers)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths["/v1/openapi.json"] == nil {
		t.Errorf("openapi %q, paths %d", doc.OpenAPI, len(doc.Paths))
	}
}
