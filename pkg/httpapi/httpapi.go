package httpapi

import (
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

// Problem turns err into a problem+json response. An error that is not an *Error
// is logged and answered with a generic 500.
func Problem(ctx context.Context, log *slog.Logger, err error) events.APIGatewayV2HTTPResponse {
	var e *Error
	if !errors.As(err, &e) {
		log.ErrorContext(ctx, "internal error", "err", err)
		e = &Error{Status: http.StatusInternalServerError, Code: "internal_error", Detail: "An internal error occurred; it has been logged."}
	}
	body, _ := json.Marshal(problem{
		Type:   "https://keyward.dev/problems/" + strings.ReplaceAll(e.Code, "_", "-"),
		Title:  http.StatusText(e.Status),
		Status: e.Status,
		Detail: e.Detail,
		Code:   e.Code,
		Field:  e.Field,
	})
	resp := events.APIGatewayV2HTTPResponse{
		StatusCode: e.Status,
		Headers:    map[string]string{"Content-Type": "application/problem+json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
	for k, v := range e.Header {
		resp.Headers[k] = v
	}
	return resp
}

// JSON answers v as application/json with status.
func JSON(status int, v any) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		panic(fmt.Sprintf("httpapi: marshal response: %v", err))
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
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

// Handler answers one routed request.
type Handler func(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Router dispatches on API Gateway's routeKey ("POST /v1/keys/{id}/rotate"), so the
// routes are exactly the ones template.yaml declares.
type Router struct {
	Log    *slog.Logger
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
	var resp events.APIGatewayV2HTTPResponse
	code := ""
	if h, ok := r.routes[req.RouteKey]; !ok {
		resp, code = Problem(ctx, r.Log, Errorf(http.StatusNotFound, "no_route", "No route %s.", req.RouteKey)), "no_route"
	} else {
		var err error
		resp, err = h(ctx, &req)
		if err != nil {
			resp, code = Problem(ctx, r.Log, err), errorCode(err)
		} else if resp.StatusCode >= 400 {
			code = bodyCode(resp.Body)
		}
	}
	id := req.RequestContext.RequestID
	if id != "" {
		if resp.Headers == nil {
			resp.Headers = map[string]string{}
		}
		resp.Headers["Request-Id"] = id
	}
	r.Log.InfoContext(ctx, "request", "route", req.RouteKey, "status", resp.StatusCode,
		"key_id", note.keyID(), "code", code, "request_id", id)
	return resp, nil
}

// errorCode is the code Problem answers for err.
func errorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal_error"
}

// bodyCode is the code of a problem (or OAuth error) body a handler answered itself.
func bodyCode(body string) string {
	var b struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(body), &b) != nil {
		return ""
	}
	if b.Code != "" {
		return b.Code
	}
	return b.Error
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
