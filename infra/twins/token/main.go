// Command token is the minimal twin of TokenFunction (see package twin) on a
// client_credentials grant: twin.Issue (one consistent GetItem of the key, one RS256
// signature with an RSA-2048 key through go-jose, as the function signs, one
// BatchWriteItem of the two items the function writes).
package main

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/infra/twins/twin"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
)

func main() {
	db, table := twin.Table(context.Background())
	der, err := base64.StdEncoding.DecodeString(os.Getenv(twin.EnvSigningKey))
	if err != nil {
		twin.Fail(err)
	}
	rsaKey, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		twin.Fail(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: rsaKey}, nil)
	if err != nil {
		twin.Fail(err)
	}
	key := twin.KeyFromEnv()
	twin.LoopIfAsked(func(ctx context.Context) error { _, err := twin.Issue(ctx, db, table, key, signer); return err })
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		access, err := twin.Issue(ctx, db, table, key, signer)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"},
			Body: `{"access_token":"` + access + `","token_type":"Bearer","expires_in":900,"refresh_token":"` + twin.Random(32) + `"}`}, nil
	}, twin.FlushAtShutdown)
}
