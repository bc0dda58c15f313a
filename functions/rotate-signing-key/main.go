// Command rotate-signing-key is the Secrets Manager rotation function of the
// token-signing JWK set (createSecret, setSecret, testSecret, finishSecret).
package main

import (
	"context"
	"github.com/aws/aws-lambda-go/events"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
	"github.com/keyward/keyward/pkg/env"
	"github.com/keyward/keyward/pkg/jwks"
)

func main() {
	ctx := context.Background()
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	retention, err := env.Seconds("SIGNING_KEY_RETENTION_SECONDS", int(jwks.MinRetention/time.Second))
	if err != nil {
		log.Error("rotate-signing-key: config", "err", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("rotate-signing-key: aws config", "err", err)
		os.Exit(1)
	}
	r := &jwks.Rotator{
		SM:        secretsmanager.NewFromConfig(awsCfg),
		SecretID:  env.String("SIGNING_KEYS_SECRET_ID", ""),
		Alg:       env.String("SIGNING_ALGORITHM", jwks.RS256),
		Retention: retention,
		Now:       time.Now,
		Log:       log,
	}
	lambda.StartHandlerFunc(func(ctx context.Context, e events.SecretsManagerSecretRotationEvent) (struct{}, error) {
		return struct{}{}, r.Handle(ctx, e)
	})
}
