package service

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func testAWS() aws.Config {
	return aws.Config{Region: "eu-west-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil
	})}
}

// TestBuildReadsOnlyItsConfig: the local flag comes from Config, not from the
// environment Build runs in, and the token verifier exists exactly where signing
// keys are configured, with the configured issuer.
func TestBuildReadsOnlyItsConfig(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
	cfg := Config{Table: "t", PepperSecretID: "p", Prefix: "kw_test_"}
	if d := Build(cfg, testAWS()); d.DDB.Options().DisableValidateResponseChecksum {
		t.Error("not local in Config, yet DynamoDB response checksums are off")
	}
	cfg.Local = true
	d := Build(cfg, testAWS())
	if !d.DDB.Options().DisableValidateResponseChecksum {
		t.Error("local, yet DynamoDB Local's checksums are validated")
	}
	if d.Tokens != nil || d.SigningKeys != nil || d.Verifier.Tokens != nil {
		t.Error("a token verifier without SIGNING_KEYS_SECRET_ID")
	}
	if d.Verifier.Limits == nil {
		t.Error("verifier: no limit counter, so no owner limits and every limited key refused")
	}
	if d.Verifier.Usage == nil || d.Verifier.Guard == nil || d.Verifier.Prefix != "kw_test_" {
		t.Errorf("verifier: usage %v, guard %v, prefix %q", d.Verifier.Usage, d.Verifier.Guard, d.Verifier.Prefix)
	}
	cfg.SigningKeysSecretID, cfg.Issuer, cfg.TokenAudience = "signing", "https://auth.example.com", "aud"
	d = Build(cfg, testAWS())
	if d.Tokens == nil || d.Verifier.Tokens == nil || d.Tokens.Issuer != cfg.Issuer || d.Tokens.Audience != "aud" {
		t.Fatalf("tokens %+v: want the configured issuer and audience", d.Tokens)
	}
}

func TestLockoutFromEnv(t *testing.T) {
	for _, name := range []string{"LOCKOUT_MAX_FAILURES", "LOCKOUT_WINDOW_SECONDS", "LOCKOUT_COOLDOWN_SECONDS"} {
		t.Setenv(name, "")
	}
	c, err := lockoutFromEnv()
	if err != nil || c.MaxFailures != 5 || c.Window != 300*time.Second || c.Cooldown != 300*time.Second {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	t.Setenv("LOCKOUT_MAX_FAILURES", "3")
	t.Setenv("LOCKOUT_COOLDOWN_SECONDS", "60")
	if c, err = lockoutFromEnv(); err != nil || c.MaxFailures != 3 || c.Window != 300*time.Second || c.Cooldown != time.Minute {
		t.Fatalf("set: %+v, %v", c, err)
	}
	t.Setenv("LOCKOUT_WINDOW_SECONDS", "5m")
	if _, err := lockoutFromEnv(); err == nil || !strings.Contains(err.Error(), "LOCKOUT_WINDOW_SECONDS") {
		t.Fatalf("a bad window: %v, want an error naming LOCKOUT_WINDOW_SECONDS", err)
	}
}

func TestSSMEndpoint(t *testing.T) {
	cfg := testAWS()
	t.Setenv("AWS_ENDPOINT_URL_SSM", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	if got := newSSMParameters(cfg).endpoint; got != "https://ssm.eu-west-1.amazonaws.com/" {
		t.Errorf("default endpoint %s", got)
	}
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
	if got := newSSMParameters(cfg).endpoint; got != "http://127.0.0.1:5000/" {
		t.Errorf("with AWS_ENDPOINT_URL: %s", got)
	}
	t.Setenv("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:6000/")
	if got := newSSMParameters(cfg).endpoint; got != "http://127.0.0.1:6000/" {
		t.Errorf("AWS_ENDPOINT_URL_SSM first: %s", got)
	}
}

// TestSSMGetParameter: the one SSM call is a SigV4-signed GetParameter of the JSON
// API; an error answer is an error that names SSM's error type.
func TestSSMGetParameter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ Name string }
		_ = json.Unmarshal(body, &in)
		auth := r.Header.Get("Authorization")
		switch {
		case r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" ||
			r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
			w.WriteHeader(http.StatusBadRequest)
		case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/ssm/aws4_request"):
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"__type":"MissingAuthenticationToken","message":"unsigned"}`))
		case in.Name == "/keyward/issuer":
			_, _ = w.Write([]byte(`{"Parameter":{"Name":"/keyward/issuer","Value":"https://auth.example.com"}}`))
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ParameterNotFound","message":"no such parameter"}`))
		}
	}))
	defer srv.Close()
	t.Setenv("AWS_ENDPOINT_URL_SSM", srv.URL)
	p := newSSMParameters(testAWS())
	v, err := p.GetParameter(t.Context(), "/keyward/issuer")
	if err != nil || v != "https://auth.example.com" {
		t.Fatalf("GetParameter = %q, %v", v, err)
	}
	if _, err := p.GetParameter(t.Context(), "/no/such"); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Fatalf("a missing parameter: %v, want an error naming ParameterNotFound", err)
	}
	if iss, err := ReadIssuer(t.Context(), p, "/keyward/issuer"); err != nil || iss != "https://auth.example.com" {
		t.Fatalf("ReadIssuer = %q, %v", iss, err)
	}
}
