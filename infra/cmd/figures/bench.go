package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/pkg/awsclient"
	"github.com/keyward/keyward/pkg/env"
)

// goalMB is the goal of a bootstrap's size.
const goalMB = 12

// twinSecretSuffix names the twin's copy of the signing-key secret: the rotation twin
// rotates its own copy, so that the function and its twin never touch each other's.
const twinSecretSuffix = "-twin"

// bench is one run: the isolated local resources, the builds, the bench's API key.
type bench struct {
	ctx  context.Context
	p    *localstack.Project
	tmp  string
	aws  aws.Config
	ddb  *dynamodb.Client
	sm   *secretsmanager.Client
	root string // the root credential
	// keyID and secret are the API key every scenario presents.
	keyID, secret string
	// rsaKey is the token twin's signing key (RSA-2048, as the function's).
	rsaKey *rsa.PrivateKey
	bins   map[string]string  // LogicalId -> host bootstrap
	twins  map[string]string  // twin -> host bootstrap
	trips  map[string]float64 // kind of call -> ms
	lines  []string
}

func newBench(ctx context.Context) (*bench, error) {
	p, err := localstack.Load(".")
	if err != nil {
		return nil, err
	}
	if err := p.Isolate("figures"); err != nil {
		return nil, err
	}
	cfg, err := awsclient.Config(ctx)
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, p: p, aws: cfg, ddb: awsclient.DynamoDB(cfg, env.Local()), sm: awsclient.SecretsManager(cfg),
		root: localstack.NewRootKey(), bins: map[string]string{}, twins: map[string]string{}, trips: map[string]float64{}}
	if b.tmp, err = os.MkdirTemp("", "keyward-figures"); err != nil {
		return nil, err
	}
	if err := p.CreateTables(ctx, b.ddb); err != nil {
		return nil, err
	}
	used, err := p.SeedSecrets(ctx, b.sm, map[string]string{"RootSecret": b.root})
	if err != nil {
		return nil, err
	}
	name := p.Refs["SigningKeysSecret"] + twinSecretSuffix
	if _, err := b.sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name),
		SecretString: aws.String(used["SigningKeysSecret"])}); err != nil {
		return nil, fmt.Errorf("twin's signing-key secret: %w", err)
	}
	b.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	return b, err
}

func (b *bench) close() { _ = os.RemoveAll(b.tmp) }

func (b *bench) add(format string, args ...any) {
	line := "figure " + fmt.Sprintf(format, args...)
	b.lines = append(b.lines, line)
	fmt.Fprintln(os.Stderr, "figures: "+line) // progress; stdout gets them all at the end
}

// write prints the figure lines and keeps them in .local/bench/build.txt.
func (b *bench) write() error {
	out := strings.Join(b.lines, "\n") + "\n"
	fmt.Print(out)
	dir := filepath.Join(b.p.Root, ".local", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "build.txt"), []byte(out), 0o644)
}

// sizes builds every function as sam build does and reports the bootstrap's size.
func (b *bench) sizes() error {
	for _, fn := range b.p.Functions {
		bin, err := b.p.Build(b.ctx, fn.LogicalID, filepath.Join(b.tmp, "lambda", fn.LogicalID), "linux", "arm64")
		if err != nil {
			return err
		}
		st, err := os.Stat(bin)
		if err != nil {
			return err
		}
		b.add("bootstrap_size_%s = %.1f MB (goal <= %d)", fn.LogicalID, float64(st.Size())/(1<<20), goalMB)
	}
	return nil
}

// buildHost builds each function for this machine through make, and each twin with
// the same flags.
func (b *bench) buildHost() error {
	for _, fn := range b.p.Functions {
		bin, err := b.p.Build(b.ctx, fn.LogicalID, filepath.Join(b.tmp, "host", fn.LogicalID), runtime.GOOS, runtime.GOARCH)
		if err != nil {
			return err
		}
		b.bins[fn.LogicalID] = bin
	}
	names := []string{runtimeTwin}
	for _, s := range scenarios {
		names = append(names, s.twin)
	}
	for _, name := range names {
		bin, err := b.buildTwin(name, "host", "lambda.norpc")
		if err != nil {
			return err
		}
		b.twins[name] = bin
	}
	return nil
}

// buildTwin builds infra/twins/<name> into tmp/<dir>/twin-<name>/bootstrap with the
// bootstraps' flags (the Makefile's GO_BUILD_FLAGS) and tags.
func (b *bench) buildTwin(name, dir, tags string) (string, error) {
	out := filepath.Join(b.tmp, dir, "twin-"+name, "bootstrap")
	cmd := exec.CommandContext(b.ctx, "go", "build", "-tags", tags, "-trimpath", "-ldflags=-s -w", "-o", out, "./infra/twins/"+name)
	cmd.Dir = b.p.Root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build twin %s: %v\n%s", name, err, msg)
	}
	return out, nil
}

// function returns a runtime for LogicalId id running bin, with the function's
// environment and extra variables, its output discarded.
func (b *bench) function(id, bin string, extra ...string) (*gateway.Function, error) {
	fn, ok := b.p.Function(id)
	if !ok {
		return nil, fmt.Errorf("no function %s in the template", id)
	}
	f := b.p.NewFunction(fn, bin, localstack.AWSEnv(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Env = append(f.Env, extra...)
	f.Stderr = io.Discard
	return f, nil
}

// createKey creates the API key every scenario presents, through KeysFunction with
// the root credential (events/keys-create.json).
func (b *bench) createKey() error {
	f, err := b.function("KeysFunction", b.bins["KeysFunction"])
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := f.Invoke(b.ctx, b.event("keys-create"))
	if err != nil {
		return err
	}
	var out struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	var key struct{ ID, Secret string }
	if err := json.Unmarshal(resp, &out); err != nil || out.StatusCode != 201 || json.Unmarshal([]byte(out.Body), &key) != nil || key.Secret == "" {
		return fmt.Errorf("create the bench key: %.300s", resp)
	}
	b.keyID, b.secret = key.ID, key.Secret
	return nil
}

// event is events/<name>.json with the root credential, the bench key and its id in
// place of ROOT_CREDENTIAL, API_KEY, the sample client id and client secret.
func (b *bench) event(name string) []byte {
	data, err := os.ReadFile(filepath.Join(b.p.Root, "events", name+".json"))
	if err != nil {
		panic(err) // the fixtures are part of the repository
	}
	r := strings.NewReplacer("ROOT_CREDENTIAL", b.root, "API_KEY", b.secret,
		"client_id=abcdefghijklmnop", "client_id="+b.keyID, "kw_test_CLIENT_SECRET", b.secret)
	return bytes.Clone([]byte(r.Replace(string(data))))
}
