package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestProblemHidesInternalErrors(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	resp := problemOf(t, log, errors.New("dial tcp 10.0.0.1: secret-ish detail"))
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "secret-ish") {
		t.Fatalf("500 body leaks the internal error: %s", resp.Body)
	}
	if !strings.Contains(logs.String(), "secret-ish") {
		t.Fatal("the internal error was not logged")
	}
	resp = problemOf(t, log, Errorf(409, "key_revoked", "Key %s is revoked.", "k"))
	var p map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 409 || p["code"] != "key_revoked" || p["status"] != float64(409) || p["title"] != "Conflict" ||
		resp.Headers["Content-Type"] != "application/problem+json" {
		t.Fatalf("problem = %d %v %v", resp.StatusCode, p, resp.Headers)
	}
}

// problemOf is err answered as Problem answers it, rendered.
func problemOf(t *testing.T, log *slog.Logger, err error) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, _ := Problem(context.Background(), log, err)
	out, rerr := resp.render("")
	if rerr != nil {
		t.Fatal(rerr)
	}
	return out
}

func TestRouterUnknownRoute(t *testing.T) {
	r := &Router{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, err := r.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /nope"})
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown route = %d, %v", resp.StatusCode, err)
	}
}
