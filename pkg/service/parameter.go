package service

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ParameterReader reads the value of one SSM parameter.
type ParameterReader interface {
	GetParameter(ctx context.Context, name string) (string, error)
}

// ssmParameters is the one SSM call every function makes, once, at cold start: a
// SigV4-signed GetParameter. It is written here rather than taken from the SDK's SSM
// client, which would add about a megabyte to every bootstrap for this single call.
type ssmParameters struct {
	cfg      aws.Config
	endpoint string
	signer   *v4.Signer
}

// newSSMParameters reads parameters through SSM's JSON API at the endpoint the SDK's
// own variables name (AWS_ENDPOINT_URL_SSM, then AWS_ENDPOINT_URL), else the Region's.
func newSSMParameters(cfg aws.Config) *ssmParameters {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_SSM")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	if endpoint == "" {
		endpoint = "https://ssm." + cfg.Region + ".amazonaws.com"
	}
	return &ssmParameters{cfg: cfg, endpoint: strings.TrimRight(endpoint, "/") + "/", signer: v4.NewSigner()}
}

// GetParameter returns the value of parameter name.
func (s *ssmParameters) GetParameter(ctx context.Context, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"Name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	creds, err := s.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ssm", s.cfg.Region, time.Now()); err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	client := s.cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(out, &e)
		return "", fmt.Errorf("ssm GetParameter: %d %s %s", resp.StatusCode, e.Type, e.Message)
	}
	var got struct {
		Parameter struct {
			Value string `json:"Value"`
		} `json:"Parameter"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		return "", fmt.Errorf("ssm GetParameter: %w", err)
	}
	return got.Parameter.Value, nil
}
