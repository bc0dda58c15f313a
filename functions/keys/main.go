// Command keys is the Lambda function that serves Keyward's key-management routes.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
	"github.com/keyward/keyward/pkg/keysapi"
	"github.com/keyward/keyward/pkg/service"
)

func main() {
	ctx := context.Background()
	deps, err := service.Load(ctx)
	if err != nil {
		slog.Error("keys: cold start", "err", err)
		os.Exit(1)
	}
	// The management API is where the root credential creates the first keys.
	if deps.Root == nil {
		slog.Error("keys: config", "err", "ROOT_SECRET_ID is not set: the management API needs the root credential")
		os.Exit(1)
	}
	deps.Prefetch(ctx, false)()
	api := keysapi.New(deps.Store, deps.Verifier, deps.Peppers,
		keysapi.Config{Prefix: deps.Config.Prefix, DefaultExpiry: deps.Config.DefaultExpiry}, deps.Log)
	// On SIGTERM (shutdown), the usage counts not yet written are flushed.
	lambda.StartHandlerFunc(api.Router().Serve, lambda.WithEnableSIGTERM(func() { deps.Shutdown(); os.Exit(0) }))
}
