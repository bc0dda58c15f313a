package localstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/secrets"
)

// AWSVars are the variables infra/services.sh sets that every function receives.
var AWSVars = []string{
	"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_SNS",
	"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EVENTBRIDGE", "AWS_ENDPOINT_URL_SSM", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED",
}

// AWSEnv returns AWSVars as this process sees them.
func AWSEnv() map[string]string {
	out := map[string]string{}
	for _, k := range AWSVars {
		out[k] = os.Getenv(k)
	}
	return out
}

// Project is the repository, its template, and the local names of its resources.
type Project struct {
	// Root is the directory of template.yaml.
	Root string
	// Template is template.yaml.
	Template *stack.Template
	// Refs maps each resource's logical id (and "<id>.Arn") to its local value.
	Refs map[string]string
	// Params overrides template parameters, as sam's --parameter-overrides would: the
	// local stack sets Issuer to its listen address (LocalIssuer until it listens).
	Params map[string]string
	// Functions are the template's functions, resolved against Refs.
	Functions []stack.Function
	// Env is env.json: "Parameters" and per-function overrides.
	Env map[string]map[string]string
	// Dir holds local state: bin/<LogicalId>/bootstrap, root-key, stack.json.
	Dir string
}

// Load reads template.yaml (found from dir upwards) and env.json beside it.
func Load(dir string) (*Project, error) {
	path, err := stack.FindTemplate(dir)
	if err != nil {
		return nil, err
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		return nil, err
	}
	root := filepath.Dir(path)
	p := &Project{Root: root, Template: tmpl, Refs: tmpl.LocalRefs(), Env: map[string]map[string]string{},
		Params: map[string]string{"Issuer": LocalIssuer()}, Dir: filepath.Join(root, ".local")}
	if d := os.Getenv("KEYWARD_LOCAL_DIR"); d != "" {
		if p.Dir, err = filepath.Abs(d); err != nil {
			return nil, err
		}
	}
	if err := p.resolve(); err != nil {
		return nil, err
	}
	if data, err := os.ReadFile(filepath.Join(root, "env.json")); err == nil {
		if err := json.Unmarshal(data, &p.Env); err != nil {
			return nil, fmt.Errorf("env.json: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return p, nil
}

// LocalIssuer is the local stack's issuer before it listens: its address,
// http://127.0.0.1:$PORT (3000 by default).
func LocalIssuer() string {
	port := os.Getenv("PORT")
	if port == "" {
		port = "3000"
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port)
}

// Isolate renames the tables and secrets with suffix, so that several stacks can
// share one DynamoDB Local and one moto.
func (p *Project) Isolate(suffix string) error {
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SecretsManager::Secret"} {
		for _, id := range p.Template.ResourcesOfType(typ) {
			p.Refs[id] += "-" + suffix
		}
	}
	return p.resolve()
}

// SetParameter overrides the template parameter name and resolves the functions'
// environments again; the stack sets Issuer to the address it listens on.
func (p *Project) SetParameter(name, value string) error {
	p.Params[name] = value
	return p.resolve()
}

// resolve resolves the functions against Refs and Params.
func (p *Project) resolve() error {
	values := make(map[string]string, len(p.Refs)+len(p.Params))
	for k, v := range p.Refs {
		values[k] = v
	}
	for k, v := range p.Params {
		values[k] = v
	}
	fns, err := p.Template.Functions(values)
	if err != nil {
		return err
	}
	p.Functions = fns
	return nil
}

// Function returns the template's function id.
func (p *Project) Function(id string) (stack.Function, bool) {
	for _, f := range p.Functions {
		if f.LogicalID == id {
			return f, true
		}
	}
	return stack.Function{}, false
}

// Path returns a path in the local state directory.
func (p *Project) Path(parts ...string) string {
	return filepath.Join(append([]string{p.Dir}, parts...)...)
}

// Build builds fn's bootstrap into dir through `make build-<fn>` for goos/goarch, and
// returns its path. The Makefile's recipe is the one sam build runs.
func (p *Project) Build(ctx context.Context, fn, dir, goos, goarch string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "make", "-s", "--no-print-directory", "build-"+fn,
		"ARTIFACTS_DIR="+dir, "LAMBDA_GOOS="+goos, "LAMBDA_GOARCH="+goarch)
	cmd.Dir = p.Root
	// make and the compilers it starts form one process group, ended together when
	// ctx is (a stack stopped while it builds leaves no compiler behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make build-%s: %v\n%s", fn, err, strings.TrimSpace(string(out)))
	}
	return filepath.Join(dir, "bootstrap"), nil
}

// BuildHost builds fn's bootstrap for this machine into the state directory.
func (p *Project) BuildHost(ctx context.Context, fn string) (string, error) {
	return p.Build(ctx, fn, p.Path("bin", fn), runtime.GOOS, runtime.GOARCH)
}

// ChildEnv is fn's environment: the template's, then env.json's Parameters and
// function section, then the local services, then what Lambda itself sets.
func (p *Project) ChildEnv(fn stack.Function, awsEnv map[string]string) []string {
	env := map[string]string{}
	for k, v := range fn.Environment {
		env[k] = v
	}
	for k, v := range p.Env["Parameters"] {
		env[k] = v
	}
	for k, v := range p.Env[fn.LogicalID] {
		env[k] = v
	}
	for k, v := range awsEnv {
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

// NewFunction returns a runtime for fn's host bootstrap at bin, with its environment.
func (p *Project) NewFunction(fn stack.Function, bin string, awsEnv map[string]string, log *slog.Logger) *gateway.Function {
	return &gateway.Function{
		Name:    fn.LogicalID,
		Binary:  bin,
		Env:     p.ChildEnv(fn, awsEnv),
		Timeout: time.Duration(fn.Timeout) * time.Second,
		Log:     log,
	}
}

// CreateTables creates every AWS::DynamoDB::Table of the template under its local
// name, with its TTL; a table that exists already is left as it is.
func (p *Project) CreateTables(ctx context.Context, ddb stack.TableAPI) error {
	for _, id := range p.Template.ResourcesOfType("AWS::DynamoDB::Table") {
		err := p.Template.CreateTable(ctx, ddb, id, p.Refs[id])
		var exists *ddbtypes.ResourceInUseException
		if err != nil && !errors.As(err, &exists) {
			return err
		}
	}
	return nil
}

// SeedSecrets creates every AWS::SecretsManager::Secret of the template: values[id]
// if given, else the template's SecretString, else 48 random bytes (base64url), and
// returns the values it used. A secret that exists already gets the value as its
// current version. Then it does what Secrets Manager does at deploy for a
// RotationSchedule with RotateImmediatelyOnUpdate (moto runs no rotation): a secret
// that holds no signing key yet gets its first one, here, once, before any function
// starts, so that no two cold starts race to create it. The values returned are the
// secrets' current values after that.
func (p *Project) SeedSecrets(ctx context.Context, sm *secretsmanager.Client, values map[string]string) (map[string]string, error) {
	used := map[string]string{}
	for _, id := range p.Template.ResourcesOfType("AWS::SecretsManager::Secret") {
		value := values[id]
		if value == "" {
			if res, err := p.Template.Resource(id); err == nil {
				value, _ = res.Properties["SecretString"].(string)
			}
		}
		if value == "" {
			value = RandomString(48)
		}
		name := p.Refs[id]
		_, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
		var exists *smtypes.ResourceExistsException
		if errors.As(err, &exists) {
			_, err = sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(value)})
		}
		if err != nil {
			return nil, fmt.Errorf("seed secret %s: %w", name, err)
		}
		used[id] = value
	}
	for secret, fn := range p.rotations() {
		name := p.Refs[secret]
		if err := p.rotateOnce(ctx, sm, name, fn); err != nil {
			return nil, fmt.Errorf("first rotation of %s: %w", name, err)
		}
		cur, err := secrets.Read(ctx, sm, name, secrets.StageCurrent)
		if err != nil {
			return nil, fmt.Errorf("read %s after its first rotation: %w", name, err)
		}
		used[secret] = cur.Value
	}
	return used, nil
}

// rotations maps each secret that a RotationSchedule rotates on deploy
// (RotateImmediatelyOnUpdate) to the logical id of its rotation function.
func (p *Project) rotations() map[string]string {
	out := map[string]string{}
	for _, id := range p.Template.ResourcesOfType("AWS::SecretsManager::RotationSchedule") {
		res, err := p.Template.Resource(id)
		if err != nil {
			continue
		}
		if now, _ := res.Properties["RotateImmediatelyOnUpdate"].(bool); !now {
			continue
		}
		secret, _ := mapOf(res.Properties["SecretId"])["Ref"].(string)
		att, _ := mapOf(res.Properties["RotationLambdaARN"])["Fn::GetAtt"].([]any)
		if secret == "" || len(att) == 0 {
			continue
		}
		fn, _ := att[0].(string)
		out[secret] = fn
	}
	return out
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// rotateOnce gives the signing-key secret name its first key set, as its rotation
// function fn would (the same package and the same settings: SIGNING_ALGORITHM and
// SIGNING_KEY_RETENTION_SECONDS from fn's environment), unless it holds keys already.
func (p *Project) rotateOnce(ctx context.Context, sm *secretsmanager.Client, name, fn string) error {
	f, ok := p.Function(fn)
	if !ok {
		return fmt.Errorf("no rotation function %s in the template", fn)
	}
	r := &jwks.Rotator{SM: sm, SecretID: name, Alg: f.Environment["SIGNING_ALGORITHM"], Now: time.Now}
	if s := f.Environment["SIGNING_KEY_RETENTION_SECONDS"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("%s: SIGNING_KEY_RETENTION_SECONDS %q: %w", fn, s, err)
		}
		r.Retention = time.Duration(n) * time.Second
	}
	return r.EnsureInitialized(ctx, name)
}

// NewRootKey returns a fresh local root credential.
func NewRootKey() string { return "kw_root_" + RandomString(32) }

// RandomString returns n random bytes, base64url-encoded.
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
