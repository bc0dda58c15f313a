package testenv_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/pkg/testenv"
)

func secretAt(t *testing.T, e *testenv.Env, id, stage string) string {
	t.Helper()
	out, err := e.SM.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(id), VersionStage: aws.String(stage),
	})
	if err != nil {
		t.Fatalf("get %s %s: %v", id, stage, err)
	}
	return aws.ToString(out.SecretString)
}

func TestEnv(t *testing.T) {
	e := testenv.New(t)

	if !strings.HasPrefix(e.RootKey, "kw_root_") || len(e.RootKey) != len("kw_root_")+43 {
		t.Errorf("root key %q: want kw_root_ + 43 chars", e.RootKey)
	}
	if got := secretAt(t, e, e.RootSecretID, "AWSCURRENT"); got != e.RootKey {
		t.Errorf("root secret = %q, want the RootKey", got)
	}
	pepper := secretAt(t, e, e.PepperSecretID, "AWSCURRENT")
	if len(pepper) != 64 {
		t.Errorf("pepper length = %d, want 64 (48 bytes base64url)", len(pepper))
	}

	e.RotateSecret(t, e.PepperSecretID, "new-pepper")
	for _, tt := range []struct{ stage, want string }{
		{"AWSCURRENT", "new-pepper"},
		{"AWSPREVIOUS", pepper},
	} {
		t.Run(tt.stage, func(t *testing.T) {
			if got := secretAt(t, e, e.PepperSecretID, tt.stage); got != tt.want {
				t.Errorf("%s = %q, want %q", tt.stage, got, tt.want)
			}
		})
	}

	item, err := attributevalue.MarshalMap(map[string]string{"pk": "KEY#1", "sk": "KEY", "gsi2pk": "KEYS", "lsk": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.DDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.Table), Item: item}); err != nil {
		t.Fatal(err)
	}
	if items := e.Items(t); len(items) != 1 {
		t.Errorf("Items = %d, want 1", len(items))
	}
	q, err := e.DDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(e.Table),
		IndexName:                 aws.String("gsi2"),
		KeyConditionExpression:    aws.String("gsi2pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "KEYS"}},
	})
	if err != nil || len(q.Items) != 1 {
		t.Errorf("query gsi2: %d items, %v", len(q.Items), err)
	}

	// gsi4, the owner-prefix index: a prefix of the owner is one range of its partition.
	for _, it := range []map[string]string{
		{"pk": "KEY#2", "sk": "KEY", "gsi4pk": "KEYS", "gsi4sk": "team-a/alice#1#x#2"},
		{"pk": "KEY#3", "sk": "KEY", "gsi4pk": "KEYS", "gsi4sk": "team-b/bob#1#x#3"},
		{"pk": "KEY#2", "sk": "EV#1", "gsi4pk": "AUDIT", "gsi4sk": "team-a/alice#1"},
	} {
		item, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.DDB.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.Table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	q, err = e.DDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              aws.String(e.Table),
		IndexName:              aws.String("gsi4"),
		KeyConditionExpression: aws.String("gsi4pk = :p AND begins_with(gsi4sk, :o)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p": &types.AttributeValueMemberS{Value: "KEYS"}, ":o": &types.AttributeValueMemberS{Value: "team-a/"},
		},
	})
	if err != nil || len(q.Items) != 1 || q.Items[0]["pk"].(*types.AttributeValueMemberS).Value != "KEY#2" {
		t.Errorf("query gsi4 KEYS begins_with team-a/: %v, %v; want KEY#2 alone", q.Items, err)
	}

	e.Setenv(t)
	if got := os.Getenv("KEY_PREFIX"); got != testenv.KeyPrefix {
		t.Errorf("KEY_PREFIX = %q", got)
	}
}
