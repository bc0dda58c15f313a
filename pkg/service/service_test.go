package service

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// baseEnv sets the variables every function needs.
func baseEnv(t *testing.T) {
	t.Setenv("TABLE_NAME", "keyward")
	t.Setenv("PEPPER_SECRET_ID", "pepper")
	for _, name := range []string{"ROOT_SECRET_ID", "SIGNING_KEYS_SECRET_ID", "ISSUER"} {
		t.Setenv(name, "")
	}
}

func TestIssuerIsConfiguredWhereTokensAreVerified(t *testing.T) {
	cases := []struct {
		name, signing, issuer, want string
		wantErr                     bool
	}{
		{"unset with signing keys", "signing", "", "", true},
		{"unset without signing keys", "", "", "", false},
		{"https", "signing", "https://auth.example.com", "https://auth.example.com", false},
		{"trailing slash trimmed", "signing", "https://abc.execute-api.eu-west-1.amazonaws.com/", "https://abc.execute-api.eu-west-1.amazonaws.com", false},
		{"local listen address", "signing", "http://127.0.0.1:3000", "http://127.0.0.1:3000", false},
		{"with a path", "signing", "https://example.com/auth", "https://example.com/auth", false},
		{"no scheme", "signing", "auth.example.com", "", true},
		{"another scheme", "signing", "ftp://auth.example.com", "", true},
		{"no host", "signing", "https://", "", true},
		{"query", "signing", "https://auth.example.com?x=1", "", true},
		{"fragment", "signing", "https://auth.example.com#x", "", true},
		{"user info", "signing", "https://u:p@auth.example.com", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			baseEnv(t)
			t.Setenv("SIGNING_KEYS_SECRET_ID", c.signing)
			t.Setenv("ISSUER", c.issuer)
			cfg, err := FromEnv()
			if (err != nil) != c.wantErr {
				t.Fatalf("FromEnv: %v, want error %v", err, c.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "ISSUER") {
					t.Fatalf("error %q does not name ISSUER", err)
				}
				return
			}
			if c.signing != "" && cfg.Issuer != c.want {
				t.Fatalf("Issuer = %q, want %q", cfg.Issuer, c.want)
			}
		})
	}
}

func TestRootSecretIsOptional(t *testing.T) {
	baseEnv(t)
	cfg, err := FromEnv()
	if err != nil {
		t.Fatalf("FromEnv without ROOT_SECRET_ID: %v", err)
	}
	if cfg.RootSecretID != "" {
		t.Fatalf("RootSecretID = %q", cfg.RootSecretID)
	}
	// Built without it, nothing recognises the root: no checker at all (a nil
	// *secrets.Root inside the interface would be a non-nil checker that panics).
	d := Build(cfg, aws.Config{Region: "us-east-1"})
	if d.Root != nil || d.Verifier.Root != nil {
		t.Fatalf("root checker without ROOT_SECRET_ID: %v %v", d.Root, d.Verifier.Root)
	}
	cfg.RootSecretID = "root"
	if d := Build(cfg, aws.Config{Region: "us-east-1"}); d.Root == nil || d.Verifier.Root == nil {
		t.Fatal("no root checker with ROOT_SECRET_ID")
	}
}
