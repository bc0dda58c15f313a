package testenv

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyward/keyward/infra/stack"
	"github.com/keyward/keyward/pkg/env"
)

// TableLogicalID is the template resource the test table is created from.
const TableLogicalID = "KeywardTable"

// KeyPrefix is the key prefix Setenv configures for tests.
const KeyPrefix = "kw_test_"

// Env is one test's table and secrets on the local services.
type Env struct {
	// AWS is the loaded AWS configuration (endpoints from AWS_ENDPOINT_URL_*).
	AWS aws.Config
	// DDB is a DynamoDB client for DynamoDB Local.
	DDB *dynamodb.Client
	// SM is a Secrets Manager client for moto.
	SM *secretsmanager.Client
	// Table is the name of this test's table.
	Table string
	// PepperSecretID is the name of this test's pepper secret.
	PepperSecretID string
	// RootSecretID is the name of this test's root credential secret.
	RootSecretID string
	// RootKey is the root credential stored in RootSecretID.
	RootKey string
}

var (
	templateOnce sync.Once
	template     *stack.Template
	templateErr  error
)

// New creates a fresh table and secrets for t and removes them when t ends. It skips
// t when the local services are not running, or fails it if KEYWARD_REQUIRE_SERVICES=1.
// The table is made from template.yaml as the local stack makes its own
// (stack.Template.CreateTable).
func New(t testing.TB) *Env {
	t.Helper()
	requireServices(t)
	tmpl := loadTemplate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("testenv: load AWS config: %v", err)
	}
	suffix := randomHex(t, 6)
	e := &Env{
		AWS:            cfg,
		DDB:            dynamodb.NewFromConfig(cfg),
		SM:             secretsmanager.NewFromConfig(cfg),
		Table:          "keyward-test-" + suffix,
		PepperSecretID: "keyward-test-pepper-" + suffix,
		RootSecretID:   "keyward-test-root-" + suffix,
		RootKey:        "kw_root_" + RandomString(t, 32), // 32 bytes = 43 base64url chars
	}
	e.createTable(ctx, t, tmpl)
	e.createSecret(ctx, t, e.PepperSecretID, RandomString(t, 48))
	e.createSecret(ctx, t, e.RootSecretID, e.RootKey)
	return e
}

// requireServices skips t when the local services are not running (env.Local), or
// fails it if KEYWARD_REQUIRE_SERVICES=1.
func requireServices(t testing.TB) {
	t.Helper()
	if env.Local() {
		return
	}
	if os.Getenv("KEYWARD_REQUIRE_SERVICES") == "1" {
		t.Fatal("testenv: KEYWARD_REQUIRE_SERVICES=1 but AWS_ENDPOINT_URL_DYNAMODB is unset")
	}
	t.Skip("integration test: run via make test")
}

// loadTemplate returns template.yaml, read once per test binary.
func loadTemplate(t testing.TB) *stack.Template {
	t.Helper()
	templateOnce.Do(func() {
		var path string
		if path, templateErr = stack.FindTemplate("."); templateErr == nil {
			template, templateErr = stack.Load(path)
		}
	})
	if templateErr != nil {
		t.Fatalf("testenv: %v", templateErr)
	}
	return template
}

// createTable creates e.Table from the template's table, and deletes it when t ends
// (also when only part of it was made).
func (e *Env) createTable(ctx context.Context, t testing.TB, tmpl *stack.Template) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := e.DDB.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(e.Table)})
		var nf *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("testenv: delete table %s: %v", e.Table, err)
		}
	})
	if err := tmpl.CreateTable(ctx, e.DDB, TableLogicalID, e.Table); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Setenv points the code under test at this Env: TABLE_NAME, PEPPER_SECRET_ID,
// ROOT_SECRET_ID and KEY_PREFIX=kw_test_.
func (e *Env) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv("TABLE_NAME", e.Table)
	t.Setenv("PEPPER_SECRET_ID", e.PepperSecretID)
	t.Setenv("ROOT_SECRET_ID", e.RootSecretID)
	t.Setenv("KEY_PREFIX", KeyPrefix)
}

// Items returns every item in the table, for assertions such as "no plaintext
// secret is stored".
func (e *Env) Items(t testing.TB) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(e.DDB, &dynamodb.ScanInput{TableName: aws.String(e.Table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("testenv: scan %s: %v", e.Table, err)
		}
		items = append(items, page.Items...)
	}
	return items
}

// RotateSecret makes newValue the AWSCURRENT version of secret id, and the old
// current version AWSPREVIOUS, the way Secrets Manager rotation ends. moto does not
// run RotateSecret, so this puts an AWSPENDING version and moves AWSCURRENT to it.
func (e *Env) RotateSecret(t testing.TB, id, newValue string) {
	t.Helper()
	ctx := context.Background()
	cur, err := e.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		t.Fatalf("testenv: describe secret %s: %v", id, err)
	}
	var currentVersion string
	for v, stages := range cur.VersionIdsToStages {
		for _, s := range stages {
			if s == "AWSCURRENT" {
				currentVersion = v
			}
		}
	}
	put, err := e.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:      aws.String(id),
		SecretString:  aws.String(newValue),
		VersionStages: []string{"AWSPENDING"},
	})
	if err != nil {
		t.Fatalf("testenv: put pending version of %s: %v", id, err)
	}
	_, err = e.SM.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:            aws.String(id),
		VersionStage:        aws.String("AWSCURRENT"),
		MoveToVersionId:     put.VersionId,
		RemoveFromVersionId: aws.String(currentVersion),
	})
	if err != nil {
		t.Fatalf("testenv: move AWSCURRENT of %s: %v", id, err)
	}
}

// createSecret creates secret name with value and deletes it when t ends.
func (e *Env) createSecret(ctx context.Context, t testing.TB, name, value string) {
	t.Helper()
	if _, err := e.SM.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(value),
	}); err != nil {
		t.Fatalf("testenv: create secret %s: %v", name, err)
	}
	t.Cleanup(func() {
		_, err := e.SM.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{
			SecretId:                   aws.String(name),
			ForceDeleteWithoutRecovery: aws.Bool(true),
		})
		var nf *smtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("testenv: delete secret %s: %v", name, err)
		}
	})
}

// RandomString returns n random bytes from crypto/rand, base64url without padding.
func RandomString(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return hex.EncodeToString(b)
}
