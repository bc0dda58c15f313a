// Command token is the Lambda function that serves Keyward's OAuth 2.0 routes:
// token, revocation, introspection, discovery and JWKS.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
	"github.com/keyward/keyward/pkg/oauth"
	"github.com/keyward/keyward/pkg/service"
)

func main() {
	ctx := context.Background()
	deps, err := service.Load(ctx)
	if err != nil {
		slog.Error("token: cold start", "err", err)
		os.Exit(1)
	}
	cfg, err := oauth.ConfigFromEnv(oauth.Shared{
		Audience: deps.Config.TokenAudience, Issuer: deps.Config.Issuer, SigningKeysSecretID: deps.Config.SigningKeysSecretID,
	})
	if err != nil {
		slog.Error("token: config", "err", err)
		os.Exit(1)
	}
	// The signing-key secret gets its first keys before any request: in AWS from the
	// RotationSchedule at deploy, locally from the stack as it seeds the secrets
	// (package localstack). A cold start never writes it, so none can race another.
	deps.Prefetch(ctx, true)()
	api := oauth.New(oauth.Deps{
		Verifier: deps.Verifier, Store: deps.Store, SigningKeys: deps.SigningKeys, Tokens: deps.Tokens, Log: deps.Log,
	}, cfg)
	// On SIGTERM (shutdown), the usage counts not yet written are flushed.
	lambda.StartHandlerFunc(api.Router().Serve, lambda.WithEnableSIGTERM(func() { deps.Shutdown(); os.Exit(0) }))
}
