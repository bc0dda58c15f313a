package awsclient

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Config loads the SDK configuration of a bootstrap: the default chain (environment,
// the Lambda execution role's credentials).
func Config(ctx context.Context) (aws.Config, error) {
	return config.LoadDefaultConfig(ctx)
}

// DynamoDB returns the DynamoDB client of a bootstrap; local is the one "local stack"
// flag (env.Local).
func DynamoDB(cfg aws.Config, local bool) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		// DynamoDB Local's x-amz-crc32 does not match what the SDK computes; the check
		// stays on against AWS itself.
		o.DisableValidateResponseChecksum = local
	})
}

// SecretsManager returns the Secrets Manager client of a bootstrap.
func SecretsManager(cfg aws.Config) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg)
}
