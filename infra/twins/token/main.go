// Command token is the minimal twin of TokenFunction (see package twin) on a
// client_credentials grant: one consistent GetItem of the key, one RS256 signature
// (RSA-2048, go-jose, as the function signs), and one BatchWriteItem of two new items
// (the refresh family and the token.issued event, as the function writes them).
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/infra/twins/twin"
)

func main() {
	ctx := context.Background()
	db, table := twin.Table(ctx)
	der, err := base64.StdEncoding.DecodeString(os.Getenv(twin.EnvSigningKey))
	if err != nil {
		twin.Fail(err)
	}
	key, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		twin.Fail(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		twin.Fail(err)
	}
	lambda.StartHandlerFunc(func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return issue(ctx, db, table, signer)
	})
}

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func issue(ctx context.Context, db *dynamodb.Client, table string, signer jose.Signer) (events.APIGatewayV2HTTPResponse, error) {
	if _, err := twin.GetKey(ctx, db, table); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	now := time.Now().Unix()
	id := random(10)
	jws, err := signer.Sign([]byte(`{"iss":"http://127.0.0.1:3000","sub":"` + id + `","aud":"keyward","scope":"orders:read","exp":` +
		strconv.FormatInt(now+900, 10) + `,"iat":` + strconv.FormatInt(now, 10) + `,"jti":"` + id + `"}`))
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	access, err := jws.CompactSerialize()
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	n := &types.AttributeValueMemberN{Value: strconv.FormatInt(now, 10)}
	_, err = db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: {
		{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("RT#" + id), "sk": s("FAMILY"),
			"key_id": s(id), "hash": s(random(32)), "scope": s("orders:read"), "expires_at": n, "ttl": n}}},
		{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("KEY#" + id), "sk": s("EVENT#" + id),
			"type": s("token.issued"), "time": n, "key_id": s(id), "actor": s(id),
			"detail": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"jti": s(id), "scope": s("orders:read")}}}}},
	}}})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"},
		Body: `{"access_token":"` + access + `","token_type":"Bearer","expires_in":900,"refresh_token":"` + random(32) + `"}`}, nil
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
