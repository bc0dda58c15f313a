package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/infra/stack"
)

func main() {
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
		fmt.Fprintln(os.Stderr, "keyward: "+ex.msg)
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
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return errors.New("the local services are not running: use make local (infra/services.sh starts them)")
	}
	p, err := localstack.Load(".")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return err
	}
	awsEnv := localstack.AWSEnv()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if err := p.CreateTables(ctx, dynamodb.NewFromConfig(cfg)); err != nil {
		return err
	}
	rootKey, err := seedSecrets(ctx, p, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.Path("root-key"), []byte(rootKey+"\n"), 0o600); err != nil {
		return err
	}
	state, _ := json.MarshalIndent(map[string]any{"env": awsEnv}, "", "  ")
	if err := os.WriteFile(p.Path("stack.json"), state, 0o600); err != nil {
		return err
	}
	defer os.Remove(p.Path("stack.json"))

	// Listen first: the address is the functions' issuer (ISSUER), never a Host header.
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	base := "http://" + ln.Addr().String()
	if err := p.SetParameter("Issuer", base); err != nil {
		return err
	}

	invokers := map[string]gateway.Invoker{}
	var running []*gateway.Function
	defer func() {
		for _, f := range running {
			f.Close()
		}
	}()
	for _, fn := range p.Functions {
		bin, err := p.BuildHost(ctx, fn.LogicalID)
		if err != nil {
			log.Warn("function not built; its routes answer 502", "function", fn.LogicalID, "err", err)
			continue
		}
		f := p.NewFunction(fn, bin, awsEnv, log)
		invokers[fn.LogicalID] = f
		running = append(running, f)
	}
	var routes []stack.Route
	for _, fn := range p.Functions {
		routes = append(routes, fn.Routes...)
	}
	g := gateway.New(routes, p.Template.Authorizers(), invokers, log)

	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "keyward: root credential (also in .local/root-key): %s\n", rootKey)
	go waitReady(ctx, base, routes, log)

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

// waitReady logs "ready" once the discovery document answers 200, or at once when
// the template has no such route yet.
func waitReady(ctx context.Context, base string, routes []stack.Route, log *slog.Logger) {
	const discovery = "/.well-known/openid-configuration"
	served := false
	for _, r := range routes {
		served = served || r.Path == discovery
	}
	for served {
		resp, err := http.Get(base + discovery)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	log.Info("ready", "url", base)
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
	var state struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return fmt.Errorf(".local/stack.json: %w", err)
	}
	event, err := scheduledEvent(p.Root)
	if err != nil {
		return err
	}
	bin, err := p.BuildHost(ctx, fn.LogicalID)
	if err != nil {
		return err
	}
	f := p.NewFunction(fn, bin, state.Env, log)
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
