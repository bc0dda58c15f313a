package httpapi

import (
	"context"
	"encoding/base64"
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
	resp := Problem(context.Background(), log, errors.New("dial tcp 10.0.0.1: secret-ish detail"))
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "secret-ish") {
		t.Fatalf("500 body leaks the internal error: %s", resp.Body)
	}
	if !strings.Contains(logs.String(), "secret-ish") {
		t.Fatal("the internal error was not logged")
	}
	resp = Problem(context.Background(), log, Errorf(409, "key_revoked", "Key %s is revoked.", "k"))
	var p map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 409 || p["code"] != "key_revoked" || p["status"] != float64(409) || p["title"] != "Conflict" ||
		resp.Headers["Content-Type"] != "application/problem+json" {
		t.Fatalf("problem = %d %v %v", resp.StatusCode, p, resp.Headers)
	}
}

func TestDecodeJSON(t *testing.T) {
	type in struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	cases := []struct {
		name, body string
		b64        bool
		empty      bool
		status     int
		code       string
	}{
		{"ok", `{"name":"a","n":1}`, false, false, 0, ""},
		{"base64", base64.StdEncoding.EncodeToString([]byte(`{"name":"a"}`)), true, false, 0, ""},
		{"empty allowed", ``, false, true, 0, ""},
		{"empty refused", ` `, false, false, 400, "malformed_json"},
		{"trailing data", `{"name":"a"} {}`, false, false, 400, "malformed_json"},
		{"unknown field", `{"nom":"a"}`, false, false, 400, "unknown_field"},
		{"wrong type", `{"n":"1"}`, false, false, 400, "invalid_type"},
		{"array", `[]`, false, false, 400, "malformed_json"},
		{"too big", `{"name":"` + strings.Repeat("x", MaxBody) + `"}`, false, false, 413, "body_too_large"},
		{"bad base64", `!!!`, true, false, 400, "malformed_body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v in
			err := DecodeJSON(&events.APIGatewayV2HTTPRequest{Body: c.body, IsBase64Encoded: c.b64}, &v, c.empty)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code {
				t.Fatalf("err = %v, want %d %s", err, c.status, c.code)
			}
		})
	}
}

func TestRouterUnknownRoute(t *testing.T) {
	r := &Router{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	resp, err := r.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /nope"})
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown route = %d, %v", resp.StatusCode, err)
	}
}
