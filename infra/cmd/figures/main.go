// Command figures prints the build figures for `make bench`: the size of each
// function's bootstrap, built exactly as sam build does (make build-<LogicalId> for
// linux/arm64), and its cold start, from process start to the first invocation
// answered through the local Lambda Runtime API (median of several runs, host build).
// It runs under infra/services.sh, and writes its figure lines to
// .local/bench/build.txt as well, for the bench target to print last.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/infra/stack"
)

// runs is how many cold starts are measured per function; the median is reported.
const runs = 7

// Goals of the bootstrap size and cold start.
const (
	goalMB = 12
	goalMS = 50
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "figures: "+err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return errors.New("the local services are not running: run under infra/services.sh (make bench)")
	}
	p, err := localstack.Load(".")
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "keyward-figures")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := p.Isolate("figures"); err != nil {
		return err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	if err := p.CreateTables(ctx, dynamodb.NewFromConfig(cfg)); err != nil {
		return err
	}
	root := localstack.NewRootKey()
	if _, err := p.SeedSecrets(ctx, secretsmanager.NewFromConfig(cfg), map[string]string{"RootSecret": root}); err != nil {
		return err
	}

	var lines []string
	for _, fn := range p.Functions {
		id := fn.LogicalID
		lambdaBin, err := p.Build(ctx, id, filepath.Join(tmp, "lambda", id), "linux", "arm64")
		if err != nil {
			fmt.Fprintf(os.Stderr, "figures: %s not built, skipped: %v\n", id, firstLine(err))
			continue
		}
		st, err := os.Stat(lambdaBin)
		if err != nil {
			return err
		}
		mb := float64(st.Size()) / (1 << 20)
		lines = append(lines, fmt.Sprintf("figure bootstrap_size_%s = %.1f MB (goal <= %d)", id, mb, goalMB))

		hostBin, err := p.Build(ctx, id, filepath.Join(tmp, "host", id), runtime.GOOS, runtime.GOARCH)
		if err != nil {
			return err
		}
		event := sampleEvent(p.Root, id, fn.Routes, root)
		var times []time.Duration
		for range runs {
			f := p.NewFunction(fn, hostBin, localstack.AWSEnv(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			f.Stderr = io.Discard
			start := time.Now() // Invoke starts the process: this is the whole cold start
			_, err := f.Invoke(ctx, event)
			d := time.Since(start)
			f.Close()
			// A function's own error (a refusal, a sample event it rejects) is an answer
			// all the same; a crash, a timeout or a failed start is not.
			var fe *gateway.FunctionError
			if err != nil && (!errors.As(err, &fe) || fe.Type == "Runtime.ExitError" || fe.Type == "Sandbox.Timedout") {
				return fmt.Errorf("%s: cold invocation: %w", id, err)
			}
			times = append(times, d)
		}
		slices.Sort(times)
		ms := times[len(times)/2].Seconds() * 1000
		lines = append(lines, fmt.Sprintf("figure cold_start_%s = %.0f ms (goal <= %d)", id, ms, goalMS))
	}

	out := strings.Join(lines, "\n") + "\n"
	fmt.Print(out)
	dir := filepath.Join(p.Root, ".local", "bench")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "build.txt"), []byte(out), 0o644)
}

// sampleEvent is the function's first events/*.json fixture that names one of its
// routes (or its own kind: authorizer-*, scheduled), with the placeholders set to the
// root credential; {} if it has none.
func sampleEvent(root, id string, routes []stack.Route, rootKey string) []byte {
	paths, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	slices.Sort(paths)
	for _, path := range paths {
		name := filepath.Base(path)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var probe struct {
			RouteKey string `json:"routeKey"`
		}
		_ = json.Unmarshal(data, &probe)
		match := false
		switch {
		case strings.HasPrefix(name, "authorizer-"):
			match = id == "AuthorizerFunction"
		case name == "scheduled.json":
			match = id == "SweeperFunction"
		default:
			for _, r := range routes {
				match = match || r.Key() == probe.RouteKey
			}
		}
		if match {
			data = bytes.ReplaceAll(data, []byte("ROOT_CREDENTIAL"), []byte(rootKey))
			return bytes.ReplaceAll(data, []byte("API_KEY"), []byte(rootKey))
		}
	}
	return []byte("{}")
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
