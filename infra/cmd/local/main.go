package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/env"
)

func main() {
	// The gateway's runtime settings (gateway.Godebug): re-executes at once if missing.
	if err := gateway.ExecWithGodebug(); err != nil {
		fmt.Fprintln(os.Stderr, "keyward: runtime settings not applied: "+err.Error())
	}
	runtime.GOMAXPROCS(gateway.Procs)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: local serve|sweep")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, log)
	case "sweep":
		err = sweep(ctx, log)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	var ex exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(os.Stderr, "keyward: "+ex.msg)
		}
		os.Exit(ex.code)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyward: "+err.Error())
		os.Exit(1)
	}
}

// exitError is a one-line failure with its own exit status.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func serve(ctx context.Context, log *slog.Logger) error {
	p, err := localstack.Load(".")
	if err != nil {
		return err
	}
	if !env.Local() {
		// make local: take the port first, then start the services around this same
		// program, which inherits the listener.
		return withServices(ctx, p)
	}
	ln, err := listener()
	if err != nil {
		return err
	}
	defer ln.Close()
	return serveOn(ctx, log, p, ln)
}

// portEnv is $PORT, 3000 by default.
func portEnv() string {
	if port := os.Getenv("PORT"); port != "" {
		return port
	}
	return "3000"
}

// listen takes 127.0.0.1:$PORT, or fails in one line naming the port.
func listen() (net.Listener, error) {
	port := portEnv()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, exitError{1, fmt.Sprintf("port %s is in use (another make local?): stop it, or run make local PORT=<another port>; .local/ was left as it was", port)}
		}
		return nil, exitError{1, fmt.Sprintf("cannot listen on 127.0.0.1:%s: %v", port, err)}
	}
	return ln, nil
}

// listenFD is the variable naming the inherited listener's file descriptor.
const listenFD = "KEYWARD_LISTEN_FD"

// listener is the socket withServices passed down, or a new one when this program
// runs under infra/services.sh directly.
func listener() (net.Listener, error) {
	v := os.Getenv(listenFD)
	if v == "" {
		return listen()
	}
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil, fmt.Errorf("%s=%q: %w", listenFD, v, err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited listener (%s=%d): %w", listenFD, fd, err)
	}
	return ln, nil
}

// withServices listens on the port, then runs infra/services.sh with this program
// as its command, the listener as file descriptor 3, and waits for it. A busy port
// fails here, at once, before any service starts and before .local/ is touched. A
// signal is passed on as SIGTERM; services.sh stops everything it started.
func withServices(ctx context.Context, p *localstack.Project) error {
	ln, err := listen()
	if err != nil {
		return err
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // f is a duplicate: the port stays taken
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(p.Root, "infra", "services.sh"), self, "serve")
	cmd.Env = append(os.Environ(), listenFD+"=3")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = servicesAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		return nil // stopped as asked: services.sh has stopped the rest
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{ee.ExitCode(), ""}
	}
	return err
}

// state is .local/stack.json: how `make sweep` and the walkthrough find the stack
// that is running, and whether it still is (pid).
type state struct {
	BaseURL string            `json:"base_url"`
	Port    int               `json:"port"`
	PID     int               `json:"pid"`
	Issuer  string            `json:"issuer"`
	Env     map[string]string `json:"env"`
}

// phase logs one startup phase and how long it took.
func phase(log *slog.Logger, name string, start time.Time) {
	log.Info("phase", "name", name, "took", time.Since(start).Round(time.Millisecond))
}

func serveOn(ctx context.Context, log *slog.Logger, p *localstack.Project, ln net.Listener) error {
	began := time.Now()
	// The address is the functions' issuer (ISSUER), never a Host header.
	base := "http://" + ln.Addr().String()
	if err := p.SetParameter("Issuer", base); err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	rootKey, err := provision(ctx, log, p)
	if err != nil || ctx.Err() != nil {
		return quiet(ctx, err)
	}
	awsEnv := localstack.AWSEnv()
	running := startFunctions(ctx, log, p, awsEnv)
	defer func() {
		for _, f := range running {
			f.Close()
		}
	}()
	if ctx.Err() != nil {
		return nil
	}
	g, routes := newGateway(log, p, running)

	// Ready means every function can do its job: probe each through the gateway, in
	// parallel, before anything is served (clients that connect meanwhile wait).
	t := time.Now()
	if err := probe(ctx, g, routes, rootKey); err != nil {
		return quiet(ctx, err)
	}
	phase(log, "functions ready", t)

	st := state{BaseURL: base, Port: ln.Addr().(*net.TCPAddr).Port, PID: os.Getpid(), Issuer: base, Env: awsEnv}
	if err := writeState(p, rootKey, st); err != nil {
		return err
	}
	defer os.Remove(p.Path("stack.json"))
	return serveUntilDone(ctx, log, g, ln, func() {
		fmt.Fprintf(os.Stderr, "keyward: root credential (also in %s): %s\n", p.Path("root-key"), rootKey)
		log.Info("ready", "url", base, "took", time.Since(began).Round(time.Millisecond))
	})
}

// provision creates the template's tables and seeds its secrets (with the first
// signing key), and returns the root credential.
func provision(ctx context.Context, log *slog.Logger, p *localstack.Project) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("load AWS config: %w", err)
	}
	t := time.Now()
	if err := p.CreateTables(ctx, dynamodb.NewFromConfig(cfg)); err != nil {
		return "", err
	}
	phase(log, "tables", t)
	t = time.Now()
	rootKey, err := seedSecrets(ctx, p, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		return "", err
	}
	phase(log, "secrets and first signing key", t)
	return rootKey, nil
}

// startFunctions builds each function's host bootstrap and returns a runtime for each
// one built; one that fails to build is logged and left out (its routes answer 502).
// It returns early, with what it started, once ctx ends.
func startFunctions(ctx context.Context, log *slog.Logger, p *localstack.Project, awsEnv map[string]string) []*gateway.Function {
	var running []*gateway.Function
	t := time.Now()
	for _, fn := range p.Functions {
		bin, err := p.BuildHost(ctx, fn.LogicalID)
		if ctx.Err() != nil {
			return running
		}
		if err != nil {
			log.Warn("function not built; its routes answer 502", "function", fn.LogicalID, "err", err)
			continue
		}
		running = append(running, p.NewFunction(fn, bin, awsEnv, log))
	}
	phase(log, fmt.Sprintf("build %d bootstraps", len(running)), t)
	return running
}

// newGateway routes every function's routes to the functions running, and returns it
// with the routes.
func newGateway(log *slog.Logger, p *localstack.Project, running []*gateway.Function) (*gateway.Gateway, []stack.Route) {
	invokers := map[string]gateway.Invoker{}
	for _, f := range running {
		invokers[f.Name] = f
	}
	var routes []stack.Route
	for _, fn := range p.Functions {
		routes = append(routes, fn.Routes...)
	}
	g := gateway.New(routes, p.Template.Authorizers(), invokers, log)
	for _, f := range running {
		f.Stderr = g.FunctionOutput(os.Stderr)
	}
	return g, routes
}

// writeState writes the root credential (root-key) and the running stack's state
// (stack.json) to the state directory.
func writeState(p *localstack.Project, rootKey string, st state) error {
	if err := os.WriteFile(p.Path("root-key"), []byte(rootKey+"\n"), 0o600); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(st, "", "  ")
	return os.WriteFile(p.Path("stack.json"), data, 0o600)
}

// serveUntilDone serves g on ln, calls ready once it serves, and shuts the server
// down (5 s at most) when ctx ends.
func serveUntilDone(ctx context.Context, log *slog.Logger, g http.Handler, ln net.Listener, ready func()) error {
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	ready()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// quiet is err, or nil when it only reports that the stack was stopped meanwhile.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// A readiness probe: one request through the gateway and what its answer must be.
type readiness struct {
	function, method, path string
	root                   bool // send the root credential
	status                 int
	check                  func(body []byte) error
}

// probes are what each function must answer before the stack is ready: the keys
// function lists keys (it reaches the table and the secrets), the token function
// publishes its signing keys (it read the key set it signs with) and its discovery
// document, the authorizer refuses a request without a credential (403, not 500:
// it read its route table and decided), and the console serves its page.
var probes = []readiness{
	{function: "KeysFunction", method: "GET", path: "/v1/keys", root: true, status: 200},
	{function: "TokenFunction", method: "GET", path: "/.well-known/jwks.json", status: 200, check: func(body []byte) error {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
			return fmt.Errorf("no signing key published (%v)", err)
		}
		return nil
	}},
	{function: "TokenFunction", method: "GET", path: "/.well-known/openid-configuration", status: 200},
	{function: "AuthorizerFunction", method: "GET", path: "/v1/whoami", status: 403},
	{function: "ConsoleFunction", method: "GET", path: "/console", status: 200},
}

// probe runs every probe whose route the template has, in parallel, and returns the
// first failure, naming the function, the request and its answer.
func probe(ctx context.Context, g http.Handler, routes []stack.Route, rootKey string) error {
	has := map[string]bool{}
	for _, r := range routes {
		has[r.Key()] = true
	}
	errs := make(chan error, len(probes))
	n := 0
	for _, pr := range probes {
		if !has[pr.method+" "+pr.path] {
			continue
		}
		n++
		go func() {
			req := httptest.NewRequestWithContext(ctx, pr.method, pr.path, nil)
			req.RemoteAddr = "127.0.0.1:1"
			if pr.root {
				req.Header.Set("Authorization", "Bearer "+rootKey)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req)
			body := rec.Body.Bytes()
			switch {
			case rec.Code != pr.status:
				errs <- fmt.Errorf("not ready: %s: %s %s answered %d, want %d: %.300s", pr.function, pr.method, pr.path, rec.Code, pr.status, body)
			case pr.check != nil:
				if err := pr.check(body); err != nil {
					errs <- fmt.Errorf("not ready: %s: %s %s: %v", pr.function, pr.method, pr.path, err)
					return
				}
				errs <- nil
			default:
				errs <- nil
			}
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func sweep(ctx context.Context, log *slog.Logger) error {
	p, err := localstack.Load(".")
	if err != nil {
		return err
	}
	fn, ok := p.Function("SweeperFunction")
	if !ok {
		return exitError{2, "template.yaml has no SweeperFunction yet; nothing to sweep"}
	}
	data, err := os.ReadFile(p.Path("stack.json"))
	if err != nil {
		return exitError{1, "the local stack is not running: start it with make local"}
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%s: %w", p.Path("stack.json"), err)
	}
	if st.PID <= 0 || syscall.Kill(st.PID, 0) != nil {
		return exitError{1, fmt.Sprintf("the local stack of %s is not running (pid %d is gone): start it with make local", p.Path("stack.json"), st.PID)}
	}
	// The same function configuration as the running stack's, issuer included.
	if err := p.SetParameter("Issuer", st.Issuer); err != nil {
		return err
	}
	if fn, ok = p.Function("SweeperFunction"); !ok {
		return exitError{2, "template.yaml has no SweeperFunction yet; nothing to sweep"}
	}
	event, err := scheduledEvent(p.Root)
	if err != nil {
		return err
	}
	bin, err := p.BuildHost(ctx, fn.LogicalID)
	if err != nil {
		return err
	}
	f := p.NewFunction(fn, bin, st.Env, log)
	defer f.Close()
	out, err := f.Invoke(ctx, event)
	if err != nil {
		return fmt.Errorf("SweeperFunction: %w", err)
	}
	fmt.Println(string(out))
	return nil
}

// scheduledEvent reads events/scheduled.json, writing a sample EventBridge Scheduler
// event there first if it is missing.
func scheduledEvent(root string) ([]byte, error) {
	path := filepath.Join(root, "events", "scheduled.json")
	data, err := os.ReadFile(path)
	if err == nil {
		return data, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	data = []byte(`{
  "version": "0",
  "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  "source": "aws.scheduler",
  "account": "123456789012",
  "time": "2026-11-23T03:00:00Z",
  "region": "us-east-1",
  "resources": [
    "arn:aws:scheduler:us-east-1:123456789012:schedule/default/keyward-sweep"
  ],
  "detail": "{}"
}
`)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return data, os.WriteFile(path, data, 0o644)
}

// seedSecrets seeds the template's secrets and returns the root credential:
// $KEYWARD_ROOT_KEY, else a new one. When KEYWARD_DDB_PATH keeps the table on disk,
// the secrets are kept too (<state dir>/secrets.json), since keys stored under one
// pepper do not verify under another.
func seedSecrets(ctx context.Context, p *localstack.Project, sm *secretsmanager.Client) (string, error) {
	values := map[string]string{}
	saved := ""
	if os.Getenv("KEYWARD_DDB_PATH") != "" {
		saved = p.Path("secrets.json")
		if data, err := os.ReadFile(saved); err == nil {
			if err := json.Unmarshal(data, &values); err != nil {
				return "", fmt.Errorf("%s: %w", saved, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if k := os.Getenv("KEYWARD_ROOT_KEY"); k != "" {
		values[rootSecret] = k
	} else if values[rootSecret] == "" {
		values[rootSecret] = localstack.NewRootKey()
	}
	used, err := p.SeedSecrets(ctx, sm, values)
	if err != nil {
		return "", err
	}
	if saved != "" {
		data, _ := json.MarshalIndent(used, "", "  ")
		if err := os.WriteFile(saved, data, 0o600); err != nil {
			return "", err
		}
	}
	return used[rootSecret], nil
}

// rootSecret is the logical id of the secret that holds the root credential.
const rootSecret = "RootSecret"
