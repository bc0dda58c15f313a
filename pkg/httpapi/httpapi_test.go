package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
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

// TestResponseRendering pins the bytes Router.Serve renders for each kind of
// Response and error: headers by default and by choice, a raw body, no body.
func TestResponseRendering(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	shared := map[string]string{"Pragma": "no-cache"}
	oauthish := func(_ context.Context, _ *slog.Logger, err error) (Response, string) {
		return Response{Status: 400, Body: map[string]string{"error": err.Error()}, Type: "text/x-err", Header: shared}, err.Error()
	}
	cases := []struct {
		name   string
		errors ErrorRenderer
		resp   Response
		err    error
		status int
		header map[string]string
		body   string
	}{
		{"json", nil, JSON(200, map[string]int{"a": 1}), nil, 200,
			map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Request-Id": "r"}, `{"a":1}`},
		{"no content", nil, Response{Status: 204}, nil, 204,
			map[string]string{"Cache-Control": "no-store", "Request-Id": "r"}, ""},
		{"raw, cacheable, extra header", nil, Response{Status: 200, Raw: []byte(`{"x":true}`), Cache: "public, max-age=300", Header: map[string]string{"Location": "/l"}}, nil, 200,
			map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300", "Location": "/l", "Request-Id": "r"}, `{"x":true}`},
		{"problem with its headers", nil, Response{}, &Error{Status: 401, Code: "c", Detail: "d", Header: map[string]string{"WWW-Authenticate": "Bearer"}}, 401,
			map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "WWW-Authenticate": "Bearer", "Request-Id": "r"},
			`{"type":"https://keyward.dev/problems/c","title":"Unauthorized","status":401,"detail":"d","code":"c"}`},
		{"unmarshalable body is an internal error", nil, JSON(200, func() {}), nil, 500,
			map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store", "Request-Id": "r"},
			`{"type":"https://keyward.dev/problems/internal-error","title":"Internal Server Error","status":500,"detail":"An internal error occurred; it has been logged.","code":"internal_error"}`},
		{"the router's own renderer", oauthish, Response{}, errors.New("bad"), 400,
			map[string]string{"Content-Type": "text/x-err", "Cache-Control": "no-store", "Pragma": "no-cache", "Request-Id": "r"}, `{"error":"bad"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Router{Log: log, Errors: c.errors}
			r.Handle("GET /x", func(context.Context, *events.APIGatewayV2HTTPRequest) (Response, error) { return c.resp, c.err })
			req := events.APIGatewayV2HTTPRequest{RouteKey: "GET /x"}
			req.RequestContext.RequestID = "r"
			out, err := r.Serve(context.Background(), req)
			if err != nil || out.StatusCode != c.status || out.Body != c.body || !maps.Equal(out.Headers, c.header) {
				t.Fatalf("Serve = %d %v %s, %v; want %d %v %s", out.StatusCode, out.Headers, out.Body, err, c.status, c.header, c.body)
			}
		})
	}
	if len(shared) != 1 {
		t.Fatal("rendering wrote to a Response's Header map")
	}
	// An unknown route is a problem whatever renderer the handlers' errors have.
	r := &Router{Log: log, Errors: oauthish}
	out, _ := r.Serve(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /nope"})
	if out.StatusCode != 404 || out.Headers["Content-Type"] != "application/problem+json" {
		t.Fatalf("unknown route = %d %v", out.StatusCode, out.Headers)
	}
}
