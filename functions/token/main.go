// Command token is the Lambda function that serves Keyward's OAuth 2.0 routes:
// token, revocation, introspection, discovery and JWKS.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/keyward/keyward/pkg/jwks"
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
	cfg, err := oauth.ConfigFromEnv(deps.Config)
	if err != nil {
		slog.Error("token: config", "err", err)
		os.Exit(1)
	}
	// Local Secrets Manager (moto) does not run rotations, so the local stack's
	// placeholder secret gets its first keys here; in AWS the deploy rotates it.
	if os.Getenv("AWS_ENDPOINT_URL_SECRETS_MANAGER") != "" {
		r := &jwks.Rotator{SM: deps.SM, Now: deps.Verifier.Now, Log: deps.Log}
		if err := r.EnsureInitialized(ctx, deps.Config.SigningKeysSecretID); err != nil {
			slog.Error("token: initialise local signing keys", "err", err)
			os.Exit(1)
		}
	}
	lambda.StartHandlerFunc(oauth.New(deps, cfg).Router().Serve)
}
