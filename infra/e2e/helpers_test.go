package e2e

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyward/keyward/infra/localstack"
)

// needServices skips t when the local services are not running, unless make test
// requires them.
func needServices(t *testing.T) {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		if os.Getenv("KEYWARD_REQUIRE_SERVICES") == "1" {
			t.Fatal("KEYWARD_REQUIRE_SERVICES=1 but AWS_ENDPOINT_URL_DYNAMODB is unset")
		}
		t.Skip("integration test: run via make test (infra/services.sh)")
	}
}

// project loads the repository's stack with its own table and secrets on the running
// services, and returns it with the root credential.
func project(t *testing.T) (*localstack.Project, string) {
	t.Helper()
	p, err := localstack.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	p.Dir = t.TempDir()
	if err := p.Isolate(strings.ToLower(localstack.RandomString(6))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateTables(ctx, dynamodb.NewFromConfig(cfg)); err != nil {
		t.Fatal(err)
	}
	root := localstack.NewRootKey()
	if _, err := p.SeedSecrets(ctx, secretsmanager.NewFromConfig(cfg), map[string]string{"RootSecret": root}); err != nil {
		t.Fatal(err)
	}
	return p, root
}

var buildTarget = regexp.MustCompile(`^build-([A-Za-z0-9]+):`)
var buildFolder = regexp.MustCompile(`\./functions/([A-Za-z0-9_-]+)`)

// functionFolders maps each LogicalId to the functions/<folder> its Makefile
// build-<LogicalId> target builds.
func functionFolders(t *testing.T, root string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	target := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := buildTarget.FindStringSubmatch(line); m != nil {
			target = m[1]
			continue
		}
		if target != "" && strings.HasPrefix(line, "\t") {
			if m := buildFolder.FindStringSubmatch(line); m != nil {
				out[target] = m[1]
			}
			continue
		}
		target = ""
	}
	return out
}
