package twin

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keyward/keyward/pkg/awsclient"
)

// The variables the bench sets for a twin, beside the function's own environment.
const (
	// EnvPK and EnvSK name the key item an authorizer, keys or token twin reads.
	EnvPK = "KEYWARD_TWIN_PK"
	EnvSK = "KEYWARD_TWIN_SK"
	// EnvSigningKey is the token twin's RSA-2048 key, PKCS #1 DER, base64.
	EnvSigningKey = "KEYWARD_TWIN_SIGNING_KEY"
	// EnvDueIndex, EnvDuePK, EnvDueAt and EnvDueShards describe the sweeper's index:
	// its name, its key attributes, and the partition values, comma-separated.
	EnvDueIndex  = "KEYWARD_TWIN_DUE_INDEX"
	EnvDuePK     = "KEYWARD_TWIN_DUE_PK"
	EnvDueAt     = "KEYWARD_TWIN_DUE_AT"
	EnvDueShards = "KEYWARD_TWIN_DUE_SHARDS"
)

// Table is the function's table (TABLE_NAME) and a DynamoDB client configured as the
// functions' is.
func Table(ctx context.Context) (*dynamodb.Client, string) {
	cfg, err := awsclient.Config(ctx)
	if err != nil {
		Fail(err)
	}
	return awsclient.DynamoDB(cfg), os.Getenv("TABLE_NAME")
}

// GetKey reads the key item the bench named, consistently, as the functions read an
// API key's record.
func GetKey(ctx context.Context, db *dynamodb.Client, table string) (map[string]types.AttributeValue, error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: os.Getenv(EnvPK)},
		"sk": &types.AttributeValueMemberS{Value: os.Getenv(EnvSK)},
	}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("twin: no item %s/%s", os.Getenv(EnvPK), os.Getenv(EnvSK))
	}
	return out.Item, nil
}

// Fail ends a twin whose init failed.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "twin:", err)
	os.Exit(1)
}
