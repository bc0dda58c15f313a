package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	kroute "github.com/keyward/keyward/pkg/route"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/infra/stack"
)

// maxBody is API Gateway's payload limit for a Lambda integration.
const maxBody = 6 << 20

// Invoker runs a function once; *Function implements it.
type Invoker interface {
	// Invoke runs the function with payload and returns its response, or the
	// function's error (*FunctionError) or an infrastructure error.
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

var _ Invoker = (*Function)(nil)

// Gateway serves HttpApi routes by invoking functions, like API Gateway's HTTP API.
type Gateway struct {
	routes      []route
	authorizers map[string]stack.Authorizer
	functions   map[string]Invoker
	log         *slog.Logger

	mu      sync.Mutex
	waiting map[string]chan requestLine // request id -> its function's request line
}

type route struct {
	stack.Route
}

// New returns a Gateway for routes, invoking functions by logical id, with
// authorizers by name. A route whose function is missing answers 502.
func New(routes []stack.Route, authorizers map[string]stack.Authorizer, functions map[string]Invoker, log *slog.Logger) *Gateway {
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{authorizers: authorizers, functions: functions, log: log}
	for _, r := range routes {
		g.routes = append(g.routes, route{Route: r})
	}
	// API Gateway prefers the most specific route; the authorizer's route table
	// orders its rules by the same rule (package route).
	kroute.Sort(g.routes, routePattern)
	return g
}

func routePattern(r route) kroute.Pattern { return kroute.New(r.Method, r.Path) }

// match finds the route for method and path and its path parameters.
func (g *Gateway) match(method, path string) (*route, map[string]string) {
	i, params := kroute.Best(g.routes, routePattern, method, path)
	if i < 0 {
		return nil, nil
	}
	return &g.routes[i], params
}

// ServeHTTP answers one request through the route's authorizer and function. Every
// answer carries Request-Id, the request id API Gateway would give it (the event's
// requestContext.requestId), and the request is logged once, when the function has
// logged its own line: method, path, status, duration, key id, error code, request id.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newID()
	w.Header().Set("Request-Id", id)
	rec := &statusRecorder{ResponseWriter: w}
	lines := g.expect(id)
	o := g.serve(rec, r, id)
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	took := time.Since(start)
	method, path := r.Method, r.URL.Path
	go func() {
		// The function logs its line before it answers, so it is (nearly) always there.
		if o.invoked {
			select {
			case l := <-lines:
				o.keyID = first(l.KeyID, o.keyID)
				o.code = first(l.Code, o.code)
			case <-time.After(2 * time.Second):
			}
		}
		g.forget(id)
		g.log.Info("request", "method", method, "path", path, "status", status,
			"duration_ms", took.Milliseconds(), "key_id", o.keyID, "code", o.code, "request_id", id)
	}()
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// statusClientClosed is the status logged for a request whose client went away before
// the answer (nginx's 499); no client ever receives it.
const statusClientClosed = 499

// outcome is what serve learnt for the request's log line.
type outcome struct {
	invoked     bool // the route's function ran and logs its own line
	keyID, code string
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, id string) outcome {
	rt, params := g.match(r.Method, r.URL.EscapedPath())
	if rt == nil {
		// HTTP APIs answer 404 both for an unknown path and an unknown method.
		writeMessage(w, http.StatusNotFound, "Not Found")
		return outcome{}
	}
	key := rt.Key()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return outcome{}
	}
	ev := newEvent(r, key, params, body)
	ev.RequestContext.RequestID = id

	var o outcome
	if rt.Authorizer != "" {
		ok, status, authCtx := g.authorize(r.Context(), rt, &ev)
		o.keyID, _ = authCtx["key_id"].(string)
		o.code, _ = authCtx["error"].(string)
		if !ok {
			writeMessage(w, status, http.StatusText(status))
			return o
		}
	}

	fn, ok := g.functions[rt.Function]
	if !ok {
		g.log.Error("function not available", "function", rt.Function, "route", key)
		writeMessage(w, http.StatusBadGateway, "Bad Gateway")
		return o
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return o
	}
	out, err := fn.Invoke(r.Context(), payload)
	if err != nil && r.Context().Err() != nil {
		// The client went away first (a CLI stopped mid-poll): nothing failed, and
		// no one is left to answer.
		g.log.Info("request abandoned by the client", "function", rt.Function, "route", key)
		writeMessage(w, statusClientClosed, "Client Closed Request")
		return o
	}
	if err != nil {
		g.log.Error("invocation failed", "function", rt.Function, "route", key, "err", err)
		status := http.StatusInternalServerError
		var fe *FunctionError
		if errors.As(err, &fe) && fe.Type == "Sandbox.Timedout" {
			status = http.StatusServiceUnavailable
		}
		writeMessage(w, status, http.StatusText(status))
		return o
	}
	writeResponse(w, out)
	o.invoked = true
	return o
}

// newEvent builds the payload 2.0 event API Gateway sends for r.
func newEvent(r *http.Request, routeKey string, params map[string]string, body []byte) events.APIGatewayV2HTTPRequest {
	now := time.Now().UTC()
	headers, cookies := eventHeaders(r)
	if len(params) == 0 {
		params = nil
	}
	sourceIP := r.RemoteAddr
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              routeKey,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: eventQuery(r),
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    "000000000000",
			Stage:        "$default",
			RequestID:    newID(),
			APIID:        "local",
			DomainName:   r.Host,
			DomainPrefix: strings.Split(r.Host, ".")[0],
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	ev.Body, ev.IsBase64Encoded = eventBody(body)
	return ev
}

// eventHeaders are r's headers as payload 2.0 carries them: lower-case names, values
// joined by commas, host from r.Host, and the Cookie header split into cookies.
func eventHeaders(r *http.Request) (map[string]string, []string) {
	headers := map[string]string{}
	var cookies []string
	for name, values := range r.Header {
		lname := strings.ToLower(name)
		if lname != "cookie" {
			headers[lname] = strings.Join(values, ",")
			continue
		}
		for _, v := range values {
			for _, c := range strings.Split(v, ";") {
				if c = strings.TrimSpace(c); c != "" {
					cookies = append(cookies, c)
				}
			}
		}
	}
	headers["host"] = r.Host
	return headers, cookies
}

// eventQuery is r's query, repeated values joined by commas; nil when it has none.
func eventQuery(r *http.Request) map[string]string {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	query := make(map[string]string, len(q))
	for k, v := range q {
		query[k] = strings.Join(v, ",")
	}
	return query
}

// eventBody is the event's body: as is when it is UTF-8, else base64 (and true).
func eventBody(body []byte) (string, bool) {
	switch {
	case len(body) == 0:
		return "", false
	case utf8.Valid(body):
		return string(body), false
	default:
		return base64.StdEncoding.EncodeToString(body), true
	}
}

// writeResponse writes a function's payload 2.0 response. Output that is not an
// object with a statusCode is, as in API Gateway, a 200 JSON body.
func writeResponse(w http.ResponseWriter, out []byte) {
	// One decode: the shallower Status takes statusCode, and tells whether it is there.
	var r struct {
		events.APIGatewayV2HTTPResponse
		Status *int `json:"statusCode"`
	}
	if json.Unmarshal(out, &r) != nil || r.Status == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(out)
		return
	}
	resp := r.APIGatewayV2HTTPResponse
	resp.StatusCode = *r.Status
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeMessage(w, http.StatusBadGateway, "Bad Gateway")
			return
		}
		body = b
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// writeMessage writes API Gateway's own {"message": "..."} answer.
func writeMessage(w http.ResponseWriter, status int, message string) {
	if w == nil {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "{\"message\":%q}", message)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
