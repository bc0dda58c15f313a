package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/infra/stack"
)

var fakeBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-test")
	if err != nil {
		panic(err)
	}
	fakeBinary = filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", fakeBinary, "./testdata/fake")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build fake bootstrap: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func newFunction(t *testing.T, name string) *Function {
	t.Helper()
	f := &Function{
		Name:    name,
		Binary:  fakeBinary,
		Env:     []string{"FAKE_NAME=" + name, "PATH=" + os.Getenv("PATH")},
		Timeout: 5 * time.Second,
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Stderr:  io.Discard,
	}
	t.Cleanup(f.Close)
	return f
}

func newTestGateway(t *testing.T) (*httptest.Server, *Function, *Function) {
	t.Helper()
	app, auth := newFunction(t, "AppFunction"), newFunction(t, "AuthorizerFunction")
	routes := []stack.Route{
		{Function: "AppFunction", Method: "GET", Path: "/v1/keys/{id}"},
		{Function: "AppFunction", Method: "POST", Path: "/v1/keys/batch-delete"},
		{Function: "AppFunction", Method: "POST", Path: "/v1/keys/{id}/rotate"},
		{Function: "AppFunction", Method: "GET", Path: "/v1/whoami", Authorizer: "KeywardAuth"},
		{Function: "AppFunction", Method: "GET", Path: "/v1/header-only", Authorizer: "HeaderAuth"},
		{Function: "MissingFunction", Method: "GET", Path: "/missing"},
	}
	// KeywardAuth declares no identity source, as template.yaml's; HeaderAuth lists
	// Authorization, so API Gateway refuses a request without it before the function.
	auths := map[string]stack.Authorizer{
		"KeywardAuth": {Name: "KeywardAuth", Function: "AuthorizerFunction", SimpleResponses: true, PayloadFormatVersion: "2.0"},
		"HeaderAuth": {Name: "HeaderAuth", Function: "AuthorizerFunction", SimpleResponses: true, PayloadFormatVersion: "2.0",
			IdentitySource: []string{"$request.header.Authorization"}},
	}
	g := New(routes, auths, map[string]Invoker{"AppFunction": app, "AuthorizerFunction": auth},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, app, auth
}

type echo struct {
	Event events.APIGatewayV2HTTPRequest `json:"event"`
	PID   int                            `json:"pid"`
	Name  string                         `json:"name"`
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestGatewayRoutes(t *testing.T) {
	srv, _, _ := newTestGateway(t)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     map[string]string
		wantStatus int
		wantRoute  string
		wantBody   string
	}{
		{"path parameter", "POST", "/v1/keys/abc/rotate?x=1&x=2", `{"grace_seconds":0}`, map[string]string{"X-Api-Key": "k"}, 201, "POST /v1/keys/{id}/rotate", ""},
		{"literal beats parameter", "POST", "/v1/keys/batch-delete", "{}", nil, 201, "POST /v1/keys/batch-delete", ""},
		{"unknown path", "GET", "/nope", "", nil, 404, "", `{"message":"Not Found"}`},
		{"unknown method", "DELETE", "/v1/keys/batch-delete", "", nil, 404, "", `{"message":"Not Found"}`},
		{"function error", "GET", "/v1/keys/x", "boom", nil, 500, "", `{"message":"Internal Server Error"}`},
		{"missing function", "GET", "/missing", "", nil, 502, "", `{"message":"Bad Gateway"}`},
		// No identity source: the authorizer decides every request, with or without a credential.
		{"authorizer: no credential", "GET", "/v1/whoami", "", nil, 403, "", `{"message":"Forbidden"}`},
		{"authorizer: refused", "GET", "/v1/whoami", "", map[string]string{"Authorization": "bad"}, 403, "", `{"message":"Forbidden"}`},
		{"authorizer: allowed", "GET", "/v1/whoami", "", map[string]string{"Authorization": "good"}, 201, "GET /v1/whoami", ""},
		{"authorizer: x-api-key", "GET", "/v1/whoami", "", map[string]string{"X-API-Key": "good"}, 201, "GET /v1/whoami", ""},
		// A declared identity source: missing, it is API Gateway's own 401.
		{"identity source missing", "GET", "/v1/header-only", "", map[string]string{"X-API-Key": "good"}, 401, "", `{"message":"Unauthorized"}`},
		{"identity source present", "GET", "/v1/header-only", "", map[string]string{"Authorization": "good"}, 201, "GET /v1/header-only", ""},
		// The raw query string reaches the function untouched, even where it does not decode.
		{"undecodable query", "GET", "/v1/keys/abc?cursor=%%%garbage&a=1", "", nil, 201, "GET /v1/keys/{id}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, tt.method, srv.URL+tt.path, tt.body, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if len(resp.Header.Get("Request-Id")) != 32 {
				t.Errorf("Request-Id = %q, want the request's id on every answer", resp.Header.Get("Request-Id"))
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body = %s, want %s", body, tt.wantBody)
			}
			if tt.wantRoute == "" {
				return
			}
			if got := resp.Header.Get("X-Route"); got != tt.wantRoute {
				t.Errorf("X-Route = %q, want %q", got, tt.wantRoute)
			}
			if got := resp.Header.Values("X-Multi"); len(got) != 2 || resp.Header.Get("Set-Cookie") != "c=1" {
				t.Errorf("multi-value headers/cookies lost: %v %v", got, resp.Header.Values("Set-Cookie"))
			}
			var e echo
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatal(err)
			}
			ev := e.Event
			if ev.Version != "2.0" || ev.RouteKey != tt.wantRoute || ev.RequestContext.HTTP.Method != tt.method ||
				ev.RequestContext.RequestID == "" || ev.RequestContext.HTTP.SourceIP != "127.0.0.1" || ev.Body != tt.body {
				t.Errorf("event = %+v", ev)
			}
			if ev.RequestContext.RequestID != resp.Header.Get("Request-Id") {
				t.Errorf("Request-Id %q, event's requestId %q: want the same", resp.Header.Get("Request-Id"), ev.RequestContext.RequestID)
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header %q not lower case", k)
				}
			}
			switch tt.name {
			case "path parameter":
				if ev.PathParameters["id"] != "abc" || ev.QueryStringParameters["x"] != "1,2" || ev.RawQueryString != "x=1&x=2" || ev.Headers["x-api-key"] != "k" {
					t.Errorf("params/query/headers = %v %v %q %v", ev.PathParameters, ev.QueryStringParameters, ev.RawQueryString, ev.Headers)
				}
			case "undecodable query":
				if ev.RawQueryString != "cursor=%%%garbage&a=1" {
					t.Errorf("rawQueryString = %q, want it untouched", ev.RawQueryString)
				}
			case "authorizer: allowed", "authorizer: x-api-key":
				if a := ev.RequestContext.Authorizer; a == nil || a.Lambda["key_id"] != "k1" {
					t.Errorf("authorizer context = %+v", a)
				}
			}
		})
	}
}

func TestWarmProcessesAreReused(t *testing.T) {
	srv, app, _ := newTestGateway(t)
	pids := map[int]bool{}
	for range 5 {
		_, body := do(t, "GET", srv.URL+"/v1/keys/a", "", nil)
		var e echo
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatal(err)
		}
		pids[e.PID] = true
	}
	if len(pids) != 1 {
		t.Errorf("sequential requests used %d processes, want 1 warm one", len(pids))
	}

	var wg sync.WaitGroup
	for range 3 * MaxProcesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, body := do(t, "GET", srv.URL+"/v1/keys/a", "", nil); resp.StatusCode != 201 {
				t.Errorf("concurrent: %d %s", resp.StatusCode, body)
			}
		}()
	}
	wg.Wait()
	if n := len(app.Processes()); n < 1 || n > MaxProcesses {
		t.Errorf("processes = %d, want 1..%d", n, MaxProcesses)
	}

	live := app.Processes()
	app.Close()
	for _, pid := range live {
		if processAlive(pid) {
			t.Errorf("pid %d still running after Close", pid)
		}
	}
}

func TestInvokeTimeoutKillsProcess(t *testing.T) {
	f := newFunction(t, "Slow")
	f.Binary = writeScript(t, "#!/bin/sh\nsleep 30\n")
	f.Timeout = 300 * time.Millisecond
	_, err := f.Invoke(context.Background(), []byte(`{}`))
	fe, ok := err.(*FunctionError)
	if !ok || fe.Type != "Sandbox.Timedout" {
		t.Fatalf("err = %v, want Sandbox.Timedout", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(f.Processes()); n != 0 {
		t.Errorf("processes after timeout = %d, want 0", n)
	}
}

func writeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bootstrap")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscallZero) == nil
}

// syncBuffer is a bytes.Buffer safe for the gateway's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOneLinePerRequest checks the gateway's log: one line per request, carrying the
// key id and error code from the function's own JSON request line (which is not
// printed a second time) and the Request-Id the client got; the function's other
// output passes through; and stopping the processes logs no error.
func TestOneLinePerRequest(t *testing.T) {
	var logs, out syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	app := &Function{Name: "AppFunction", Binary: fakeBinary, Env: []string{"PATH=" + os.Getenv("PATH")},
		Timeout: 5 * time.Second, Log: log}
	g := New([]stack.Route{{Function: "AppFunction", Method: "GET", Path: "/v1/keys/{id}"}}, nil,
		map[string]Invoker{"AppFunction": app}, log)
	app.Stderr = g.FunctionOutput(&out)
	srv := httptest.NewServer(g)
	defer srv.Close()

	resp, _ := do(t, "GET", srv.URL+"/v1/keys/abc", "", nil)
	id := resp.Header.Get("Request-Id")
	resp404, _ := do(t, "GET", srv.URL+"/nope", "", nil)
	// The line is written once the function's own line has been read: wait for both.
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "msg=request") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	app.Close()
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "msg=request") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("request lines:\n%s\nwant 2 (one per request)", logs.String())
	}
	for _, want := range []string{"method=GET", "path=/v1/keys/abc", "status=201", "duration_ms=", "key_id=k9", "code=c1", "request_id=" + id} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %q in the log:\n%s", want, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "status=404") || !strings.Contains(logs.String(), "request_id="+resp404.Header.Get("Request-Id")) {
		t.Errorf("the gateway's own 404 is not logged with its Request-Id:\n%s", logs.String())
	}
	if strings.Contains(out.String(), `"msg":"request"`) {
		t.Errorf("the function's request line was printed as well:\n%s", out.String())
	}
	if strings.Contains(logs.String(), "err=") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("a clean stop logged an error:\n%s", logs.String())
	}
}

// blocking is a function that answers only when its caller gives up.
type blocking struct{ started chan struct{} }

func (b blocking) Invoke(ctx context.Context, _ []byte) ([]byte, error) {
	close(b.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestClientGoneIsNoFailure: a client that goes away during the invocation (a CLI
// stopped mid-poll) is logged as such, not as a failed invocation.
func TestClientGoneIsNoFailure(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	fn := blocking{started: make(chan struct{})}
	g := New([]stack.Route{{Function: "AppFunction", Method: "GET", Path: "/v1/audit"}}, nil,
		map[string]Invoker{"AppFunction": fn}, log)
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/audit", nil)
	go func() { <-fn.started; cancel() }()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("the request was answered after its client went away")
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "msg=request ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "abandoned by the client") || !strings.Contains(out, "status=499") ||
		strings.Contains(out, "level=ERROR") || strings.Contains(out, "err=") {
		t.Fatalf("logs:\n%s\nwant the request abandoned by its client, and no error", out)
	}
}
