package service_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/testenv"
)

// A function built without ROOT_SECRET_ID (the token function; the authorizer unless
// AuthorizerAcceptsRoot=true) refuses the root credential, although the secret exists.
func TestRootOnlyWhereConfigured(t *testing.T) {
	e := testenv.New(t)
	e.Setenv(t)
	for _, tt := range []struct {
		name     string
		rootID   string
		wantRoot bool
	}{
		{"management API", e.RootSecretID, true},
		{"without the root secret", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ROOT_SECRET_ID", tt.rootID)
			cfg, err := service.FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			d := service.Build(cfg, e.AWS)
			dec, err := d.Verifier.Verify(context.Background(), e.RootKey, "203.0.113.7")
			if err != nil {
				t.Fatal(err)
			}
			isRoot := dec.OK() && dec.Principal.Kind == auth.KindRoot
			if isRoot != tt.wantRoot {
				t.Errorf("root credential accepted as root: %v, want %v (decision %+v)", isRoot, tt.wantRoot, dec)
			}
			if !tt.wantRoot && (dec.OK() || dec.Reason != auth.Malformed || d.Root != nil) {
				t.Errorf("decision %+v, Root %v: want a malformed credential and no root checker", dec, d.Root)
			}
		})
	}
}

func TestFromEnvRequires(t *testing.T) {
	e := testenv.Env{Table: "t", PepperSecretID: "p", RootSecretID: ""}
	e.Setenv(t)
	if _, err := service.FromEnv(); err != nil {
		t.Errorf("without ROOT_SECRET_ID: %v, want a config", err)
	}
	t.Setenv("TABLE_NAME", "")
	t.Setenv("PEPPER_SECRET_ID", "")
	for range 5 {
		if _, err := service.FromEnv(); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
			t.Fatalf("FromEnv without TABLE_NAME and PEPPER_SECRET_ID: %v, want TABLE_NAME first, every time", err)
		}
	}
}

// The deployed default: ISSUER empty, the issuer in an SSM parameter read at cold start.
func TestLoadReadsIssuerParameter(t *testing.T) {
	e := testenv.New(t)
	e.Setenv(t)
	ctx := context.Background()
	name := "/" + e.Table + "/issuer"
	const url = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
	api := ssm.NewFromConfig(e.AWS)
	if _, err := api.PutParameter(ctx, &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(url), Type: ssmtypes.ParameterTypeString,
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = api.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(name)})
	})
	t.Setenv("SIGNING_KEYS_SECRET_ID", "keyward-test-signing-unused")

	for _, tt := range []struct {
		name, issuer, parameter, want string
		fails                         bool
	}{
		{"from the parameter", "", name, url, false},
		{"ISSUER wins, no read", "https://auth.example.com", "/no/such/parameter", "https://auth.example.com", false},
		{"missing parameter fails the cold start", "", "/no/such/parameter", "", true},
		{"neither: no issuer fails where tokens are verified", "", "", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ISSUER", tt.issuer)
			t.Setenv("ISSUER_PARAMETER", tt.parameter)
			d, err := service.Load(ctx)
			if tt.fails {
				if err == nil {
					t.Fatalf("Load = issuer %q, want an error", d.Config.Issuer)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Config.Issuer != tt.want || d.Tokens.Issuer != tt.want {
				t.Errorf("issuer: config %q, token verifier %q, want %q", d.Config.Issuer, d.Tokens.Issuer, tt.want)
			}
		})
	}
}

type parameter struct {
	value string
	err   error
}

func (p parameter) GetParameter(context.Context, string) (string, error) {
	return p.value, p.err
}

func TestReadIssuerValidates(t *testing.T) {
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"https://x.execute-api.eu-west-1.amazonaws.com", true},
		{"https://auth.example.com/keyward", true},
		{"http://127.0.0.1:3000", true},
		{"https://auth.example.com/", false}, // a trailing slash never matches a token's iss
		{"", false},
		{"auth.example.com", false},
		{"ftp://auth.example.com", false},
		{"https://auth.example.com?x=1", false},
	} {
		t.Run(tt.value, func(t *testing.T) {
			got, err := service.ReadIssuer(context.Background(), parameter{value: tt.value}, "/s/issuer")
			if (err == nil) != tt.ok || (tt.ok && got != tt.value) {
				t.Errorf("ReadIssuer(%q) = %q, %v; want ok %v", tt.value, got, err, tt.ok)
			}
		})
	}
	if _, err := service.ReadIssuer(context.Background(), parameter{err: errors.New("AccessDenied")}, "/s/issuer"); err == nil {
		t.Error("a failed read: want an error")
	}
}
