package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/stack"
)

// awsVars are passed from infra/services.sh to every function.
var awsVars = []string{
	"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SNS",
	"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED",
}

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

// project is the repository, its template, and the local names of its resources.
type project struct {
	root  string
	tmpl  *stack.Template
	refs  map[string]string
	funcs []stack.Function
	env   map[string]map[string]string // env.json
}

func loadProject() (*project, error) {
	path, err := stack.FindTemplate(".")
	if err != nil {
		return nil, err
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		return nil, err
	}
	p := &project{root: filepath.Dir(path), tmpl: tmpl, refs: tmpl.LocalRefs(), env: map[string]map[string]string{}}
	if p.funcs, err = tmpl.Functions(p.refs); err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(p.root, "env.json")); err == nil {
		if err := json.Unmarshal(data, &p.env); err != nil {
			return nil, fmt.Errorf("env.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return p, nil
}

func (p *project) local(parts ...string) string {
	return filepath.Join(append([]string{p.root, ".local"}, parts...)...)
}

// build builds fn's bootstrap for the host through the Makefile's build-<LogicalId>
// target, the one sam build uses, and returns its path.
func (p *project) build(ctx context.Context, fn string) (string, error) {
	dir := p.local("bin", fn)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "build-"+fn,
		"ARTIFACTS_DIR="+dir, "LAMBDA_GOOS="+runtime.GOOS, "LAMBDA_GOARCH="+runtime.GOARCH)
	cmd.Dir = p.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make build-%s: %v\n%s", fn, err, strings.TrimSpace(string(out)))
	}
	return filepath.Join(dir, "bootstrap"), nil
}

// childEnv is fn's environment: the template's, then env.json's Parameters and
// function section, then the local services, then what Lambda itself sets.
func (p *project) childEnv(fn stack.Function, aws map[string]string) []string {
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	for k, v := range p.env["Parameters"] {
		env[k] = v
	}
	for k, v := range p.env[fn.LogicalID] {
		env[k] = v
	}
	for k, v := range aws {
		env[k] = v
	}
	env["AWS_LAMBDA_FUNCTION_NAME"] = fn.LogicalID
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemorySize)
	env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	env["_HANDLER"] = "bootstrap"
	env["TZ"] = ":UTC"
	env["PATH"] = os.Getenv("PATH")
	if now := os.Getenv("NOW"); now != "" {
		env["NOW"] = now
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func (p *project) function(ctx context.Context, fn stack.Function, aws map[string]string, log *slog.Logger) (*gateway.Function, error) {
	bin, err := p.build(ctx, fn.LogicalID)
	if err != nil {
		return nil, err
	}
	return &gateway.Function{
		Name:    fn.LogicalID,
		Binary:  bin,
		Env:     p.childEnv(fn, aws),
		Timeout: time.Duration(fn.Timeout) * time.Second,
		Log:     log,
	}, nil
}

func serve(ctx context.Context, log *slog.Logger) error {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return errors.New("the local services are not running: use make local (infra/services.sh starts them)")
	}
	p, err := loadProject()
	if err != nil {
		return err
	}
	awsEnv := map[string]string{}
	for _, k := range awsVars {
		awsEnv[k] = os.Getenv(k)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if err := p.createTables(ctx, dynamodb.NewFromConfig(cfg)); err != nil {
		return err
	}
	rootKey, err := p.seedSecrets(ctx, secretsmanager.NewFromConfig(cfg))
	if err != nil {
		return err
	}
	if err := os.WriteFile(p.local("root-key"), []byte(rootKey+"\n"), 0o600); err != nil {
		return err
	}
	state, _ := json.MarshalIndent(map[string]any{"env": awsEnv}, "", "  ")
	if err := os.WriteFile(p.local("stack.json"), state, 0o600); err != nil {
		return err
	}
	defer os.Remove(p.local("stack.json"))

	invokers := map[string]gateway.Invoker{}
	var running []*gateway.Function
	defer func() {
		for _, f := range running {
			f.Close()
		}
	}()
	for _, fn := range p.funcs {
		f, err := p.function(ctx, fn, awsEnv, log)
		if err != nil {
			log.Warn("function not built; its routes answer 502", "function", fn.LogicalID, "err", err)
			continue
		}
		invokers[fn.LogicalID] = f
		running = append(running, f)
	}
	var routes []stack.Route
	for _, fn := range p.funcs {
		routes = append(routes, fn.Routes...)
	}
	g := gateway.New(routes, p.tmpl.Authorizers(), invokers, log)

	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
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

func (p *project) createTables(ctx context.Context, ddb *dynamodb.Client) error {
	for _, id := range p.tmpl.ResourcesOfType("AWS::DynamoDB::Table") {
		name := p.refs[id]
		in, err := p.tmpl.CreateTableInput(id, name)
		if err != nil {
			return err
		}
		_, err = ddb.CreateTable(ctx, in)
		var exists *ddbtypes.ResourceInUseException
		if errors.As(err, &exists) {
			continue
		}
		if err != nil {
			return fmt.Errorf("create table %s: %w", name, err)
		}
		attr, err := p.tmpl.TTLAttribute(id)
		if err != nil {
			return err
		}
		if attr != "" {
			if _, err := ddb.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
				TableName:               aws.String(name),
				TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(attr), Enabled: aws.Bool(true)},
			}); err != nil {
				return fmt.Errorf("enable TTL on %s: %w", name, err)
			}
		}
	}
	return nil
}

// seedSecrets creates every AWS::SecretsManager::Secret: RootSecret holds the root
// credential ($KEYWARD_ROOT_KEY or a new one), the others 48 random bytes.
func (p *project) seedSecrets(ctx context.Context, sm *secretsmanager.Client) (string, error) {
	rootKey := os.Getenv("KEYWARD_ROOT_KEY")
	if rootKey == "" {
		rootKey = "kw_root_" + randomString(32)
	}
	for _, id := range p.tmpl.ResourcesOfType("AWS::SecretsManager::Secret") {
		value := randomString(48)
		if id == "RootSecret" {
			value = rootKey
		}
		name := p.refs[id]
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		var exists *smtypes.ResourceExistsException
		if errors.As(err, &exists) && id == "RootSecret" {
			_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
		} else if errors.As(err, &exists) {
			err = nil
		}
		if err != nil {
			return "", fmt.Errorf("seed secret %s: %w", name, err)
		}
	}
	return rootKey, nil
}

func sweep(ctx context.Context, log *slog.Logger) error {
	p, err := loadProject()
	if err != nil {
		return err
	}
	var fn *stack.Function
	for i := range p.funcs {
		if p.funcs[i].LogicalID == "SweeperFunction" {
			fn = &p.funcs[i]
		}
	}
	if fn == nil {
		return exitError{2, "template.yaml has no SweeperFunction yet; nothing to sweep"}
	}
	data, err := os.ReadFile(p.local("stack.json"))
	if err != nil {
		return exitError{1, "the local stack is not running: start it with make local"}
	}
	var state struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return fmt.Errorf(".local/stack.json: %w", err)
	}
	event, err := scheduledEvent(p.root)
	if err != nil {
		return err
	}
	f, err := p.function(ctx, *fn, state.Env, log)
	if err != nil {
		return err
	}
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

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
