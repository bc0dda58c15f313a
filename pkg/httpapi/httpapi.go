package httpapi

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// MaxBody is the largest request body accepted (the contract: 413 over 64 KiB).
const MaxBody = 64 << 10

// Error is an error the caller can act on: it carries the HTTP status, a stable
// code and a public detail. Errors are values: use the constructors, never mutate.
type Error struct {
	Status int
	Code   string
	Detail string
	// Field names the offending input, when there is one: a JSON path such as
	// metadata.a.b or scopes[2], or a query parameter. It is the problem's "field".
	Field string
	// Header is sent with the answer (WWW-Authenticate, Retry-After).
	Header map[string]string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Detail) }

// Errorf returns an *Error with status, code and a formatted public detail.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// problem is the RFC 9457 body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
}

// Problem is the management API's ErrorRenderer: err as an RFC 9457 problem+json
// answer, with its code. An error that is not an *Error is logged and answered with
// a generic 500.
func Problem(ctx context.Context, log *slog.Logger, err error) (Response, string) {
	var e *Error
	if !errors.As(err, &e) {
		log.ErrorContext(ctx, "internal error", "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal_error", Detail: "An internal error occurred; it has been logged."}
	}
	return Response{
		Status: e.Status,
		Type:   "application/problem+json",
		Header: e.Header,
		Body: problem{
			Type:   "https://keyward.dev/problems/" + strings.ReplaceAll(e.Code, "_", "-"),
			Title:  http.StatusText(e.Status),
			Status: e.Status,
			Detail: e.Detail,
			Code:   e.Code,
			Field:  e.Field,
		},
	}, e.Code
}

// ErrorRenderer answers a handler's error: the response, and the code the request's
// log line records. Problem is the management API's; package oauth has RFC 6749's.
type ErrorRenderer func(ctx context.Context, log *slog.Logger, err error) (Response, string)

// Response is a handler's answer, rendered once, by Router.Serve. A handler answers a
// failure with an error, never with a Response.
type Response struct {
	Status int
	// Body is sent as JSON; Raw, when set, is sent as it is instead. With neither
	// (204) there is no body and no Content-Type.
	Body any
	Raw  []byte
	// Type is the Content-Type, application/json when empty.
	Type string
	// Cache is the Cache-Control, no-store when empty.
	Cache string
	// Header holds further headers (Location, Pragma, WWW-Authenticate, Retry-After).
	// It is only read, so a shared map may be given.
	Header map[string]string
}

// JSON answers v as application/json with status.
func JSON(status int, v any) Response { return Response{Status: status, Body: v} }

// render encodes r, with the Request-Id header when id is set.
func (r Response) render(id string) (events.APIGatewayV2HTTPResponse, error) {
	body := r.Raw
	if body == nil && r.Body != nil {
		var err error
		if body, err = json.Marshal(r.Body); err != nil {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("httpapi: marshal response: %w", err)
		}
	}
	h := make(map[string]string, 3+len(r.Header))
	if body != nil {
		h["Content-Type"] = cmp.Or(r.Type, "application/json")
	}
	h["Cache-Control"] = cmp.Or(r.Cache, "no-store")
	for k, v := range r.Header {
		h[k] = v
	}
	if id != "" {
		h["Request-Id"] = id
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: r.Status, Headers: h, Body: string(body)}, nil
}

// Body returns the request body, decoded from base64 if API Gateway encoded it,
// or a 413 *Error when it is over MaxBody.
func Body(req *events.APIGatewayV2HTTPRequest) ([]byte, error) {
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+3 {
			return nil, tooLarge()
		}
		b, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return nil, Errorf(http.StatusBadRequest, "malformed_body", "The body is not valid base64.")
		}
		raw = b
	}
	if len(raw) > MaxBody {
		return nil, tooLarge()
	}
	return raw, nil
}

func tooLarge() *Error {
	return Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "The body is over %d KiB.", MaxBody>>10)
}

// Handler answers one routed request: a Response, or an error that the Router's
// ErrorRenderer answers.
type Handler func(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (Response, error)

// Router dispatches on API Gateway's routeKey ("POST /v1/keys/{id}/rotate"), so the
// routes are exactly the ones template.yaml declares.
type Router struct {
	Log *slog.Logger
	// Errors renders the handlers' errors; nil is Problem.
	Errors ErrorRenderer
	routes map[string]Handler
}

// Handle registers h for routeKey.
func (r *Router) Handle(routeKey string, h Handler) {
	if r.routes == nil {
		r.routes = map[string]Handler{}
	}
	r.routes[routeKey] = h
}

// Serve answers req: it never returns an error to Lambda, so every failure is an
// HTTP answer and never a Lambda retry or a gateway 502. Every answer carries
// Request-Id (API Gateway's request id), and each request is logged once, with that
// id, the key id the credential named (NoteKeyID) and the error code.
func (r *Router) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	note := &requestNote{}
	ctx = context.WithValue(ctx, noteKey{}, note)
	id := req.RequestContext.RequestID
	render := r.Errors
	if render == nil {
		render = Problem
	}
	var (
		resp Response
		err  error
	)
	if h, ok := r.routes[req.RouteKey]; ok {
		resp, err = h(ctx, &req)
	} else {
		// Not a handler's error: a problem, whatever the API.
		render, err = Problem, Errorf(http.StatusNotFound, "no_route", "No route %s.", req.RouteKey)
	}
	var out events.APIGatewayV2HTTPResponse
	if err == nil {
		out, err = resp.render(id)
	}
	code := ""
	if err != nil {
		out, code = r.fail(ctx, render, err, id)
	}
	r.Log.InfoContext(ctx, "request", "route", req.RouteKey, "status", out.StatusCode,
		"key_id", note.keyID(), "code", code, "request_id", id)
	return out, nil
}

// fail answers err as render says, and returns the code to log.
func (r *Router) fail(ctx context.Context, render ErrorRenderer, err error, id string) (events.APIGatewayV2HTTPResponse, string) {
	resp, code := render(ctx, r.Log, err)
	out, err := resp.render(id)
	if err != nil {
		// Error answers are the renderers' own types, which always marshal.
		r.Log.ErrorContext(ctx, "render error answer", "err", err)
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusInternalServerError, Headers: map[string]string{"Cache-Control": "no-store"}}, code
	}
	return out, code
}

type noteKey struct{}

// requestNote is what a request's handling tells its log line.
type requestNote struct {
	mu  sync.Mutex
	key string
}

func (n *requestNote) keyID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.key
}

// NoteKeyID records, for the request's log line, the id of the key its credential
// names; the first one noted stays. Outside Router.Serve it does nothing.
func NoteKeyID(ctx context.Context, id string) {
	n, ok := ctx.Value(noteKey{}).(*requestNote)
	if !ok || id == "" {
		return
	}
	n.mu.Lock()
	if n.key == "" {
		n.key = id
	}
	n.mu.Unlock()
}
