// Command authorizer is Keyward's Lambda authorizer: REST REQUEST, REST TOKEN and
// HTTP API payload 2.0 events, one handler.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keyward/keyward/pkg/authorizer"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
	"github.com/keyward/keyward/pkg/service"
)

func main() {
	ctx := context.Background()
	deps, err := service.Load(ctx)
	if err != nil {
		slog.Error("authorizer: cold start", "err", err)
		os.Exit(1)
	}
	cfg, err := authorizer.ConfigFromEnv()
	if err != nil {
		slog.Error("authorizer: config", "err", err)
		os.Exit(1)
	}
	wait := deps.Prefetch(ctx, false) // the secrets, while New reads the route table
	a, err := authorizer.New(ctx, authorizer.Deps{
		Verifier: deps.Verifier, Store: deps.Store, Log: deps.Log,
	}, cfg)
	wait()
	if err != nil {
		slog.Error("authorizer: cold start", "err", err)
		os.Exit(1)
	}
	// The raw-bytes lambda.Handler: the event is decoded once, on the hot path. On
	// SIGTERM (shutdown), the usage counts not yet written are flushed.
	lambda.StartWithOptions(a, lambda.WithEnableSIGTERM(func() { deps.Shutdown(); os.Exit(0) }))
}
