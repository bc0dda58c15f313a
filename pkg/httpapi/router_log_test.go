package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestRouterRequestIDAndLogLine checks that every answer carries Request-Id (API
// Gateway's request id) and that the request's one JSON log line has the same id, the
// key id a handler noted and the error code, for an error, an internal error, a
// success and an unknown route.
func TestRouterRequestIDAndLogLine(t *testing.T) {
	var buf bytes.Buffer
	r := &Router{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	r.Handle("GET /fail", func(ctx context.Context, _ *events.APIGatewayV2HTTPRequest) (Response, error) {
		NoteKeyID(ctx, "key1")
		NoteKeyID(ctx, "key2") // the first noted stays
		return Response{}, Errorf(http.StatusUnauthorized, "invalid_credential", "no")
	})
	r.Handle("GET /internal", func(ctx context.Context, _ *events.APIGatewayV2HTTPRequest) (Response, error) {
		return Response{}, errors.New("dial tcp: refused")
	})
	r.Handle("GET /ok", func(ctx context.Context, _ *events.APIGatewayV2HTTPRequest) (Response, error) {
		NoteKeyID(ctx, "key3")
		return JSON(http.StatusOK, map[string]string{}), nil
	})
	NoteKeyID(context.Background(), "nowhere") // outside Serve: nothing to note, no panic

	for _, tt := range []struct{ route, id, keyID, code string }{
		{"GET /fail", "req-1", "key1", "invalid_credential"},
		{"GET /internal", "req-2", "", "internal_error"},
		{"GET /ok", "req-3", "key3", ""},
		{"GET /nope", "req-4", "", "no_route"},
	} {
		buf.Reset()
		req := events.APIGatewayV2HTTPRequest{RouteKey: tt.route}
		req.RequestContext.RequestID = tt.id
		resp, err := r.Serve(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Headers["Request-Id"] != tt.id {
			t.Errorf("%s: Request-Id %q, want %q", tt.route, resp.Headers["Request-Id"], tt.id)
		}
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: log line %q: %v", tt.route, l, err)
			}
			if m["msg"] == "request" {
				lines = append(lines, m)
			}
		}
		if len(lines) != 1 {
			t.Fatalf("%s: %d request lines, want 1:\n%s", tt.route, len(lines), buf.String())
		}
		l := lines[0]
		if l["request_id"] != tt.id || l["key_id"] != tt.keyID || l["code"] != tt.code || l["route"] != tt.route {
			t.Errorf("%s: log line %v, want request_id %q key_id %q code %q", tt.route, l, tt.id, tt.keyID, tt.code)
		}
	}
}
