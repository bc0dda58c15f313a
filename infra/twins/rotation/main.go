// Command rotation is the minimal twin of SigningKeyRotationFunction (see package
// twin): each step makes the Secrets Manager calls the rotation protocol needs
// (DescribeSecret, then createSecret: the pending and current values, an RSA-2048 key
// added to the JWK set, PutSecretValue; testSecret: the pending value, a signature
// verified; finishSecret: UpdateSecretVersionStage).
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/infra/twins/twin"
	"github.com/keyward/keyward/pkg/awsclient"
	_ "github.com/keyward/keyward/pkg/cpuprofile" // a CPU profile under make bench only (build tag)
)

type event struct {
	SecretID string `json:"SecretId"`
	Token    string `json:"ClientRequestToken"`
	Step     string `json:"Step"`
}

type rotator struct{ sm *secretsmanager.Client }

func main() {
	cfg, err := awsclient.Config(context.Background())
	if err != nil {
		twin.Fail(err)
	}
	r := rotator{awsclient.SecretsManager(cfg)}
	lambda.StartHandlerFunc(func(ctx context.Context, e event) (struct{}, error) { return struct{}{}, r.step(ctx, e) })
}

func (r rotator) step(ctx context.Context, e event) error {
	desc, err := r.sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &e.SecretID})
	if err != nil {
		return err
	}
	for _, st := range desc.VersionIdsToStages[e.Token] {
		if st == "AWSCURRENT" {
			return nil
		}
	}
	switch e.Step {
	case "createSecret":
		return r.create(ctx, e)
	case "testSecret":
		set, err := r.read(ctx, e.SecretID, e.Token, "AWSPENDING")
		if err != nil {
			return err
		}
		return selfTest(set.Keys[len(set.Keys)-1])
	case "finishSecret":
		in := &secretsmanager.UpdateSecretVersionStageInput{SecretId: &e.SecretID, VersionStage: aws.String("AWSCURRENT"),
			MoveToVersionId: &e.Token}
		for id, stages := range desc.VersionIdsToStages {
			for _, st := range stages {
				if st == "AWSCURRENT" {
					in.RemoveFromVersionId = aws.String(id)
				}
			}
		}
		_, err := r.sm.UpdateSecretVersionStage(ctx, in)
		return err
	}
	return nil
}

func (r rotator) create(ctx context.Context, e event) error {
	if _, err := r.read(ctx, e.SecretID, e.Token, "AWSPENDING"); err == nil {
		return nil
	}
	set, err := r.read(ctx, e.SecretID, "", "AWSCURRENT")
	if err != nil {
		return err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: e.Token, Algorithm: "RS256", Use: "sig"})
	value, err := json.Marshal(set)
	if err != nil {
		return err
	}
	_, err = r.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &e.SecretID, ClientRequestToken: &e.Token,
		SecretString: aws.String(string(value)), VersionStages: []string{"AWSPENDING"}})
	return err
}

func (r rotator) read(ctx context.Context, id, version, stage string) (*jose.JSONWebKeySet, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: &id, VersionStage: &stage}
	if version != "" {
		in.VersionId = &version
	}
	out, err := r.sm.GetSecretValue(ctx, in)
	if err != nil {
		return nil, err
	}
	set := &jose.JSONWebKeySet{}
	return set, json.Unmarshal([]byte(aws.ToString(out.SecretString)), set)
}

func selfTest(k jose.JSONWebKey) error {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, nil)
	if err != nil {
		return err
	}
	jws, err := signer.Sign([]byte("twin rotation test"))
	if err != nil {
		return err
	}
	pub := k.Public()
	if _, err := jws.Verify(&pub); err != nil {
		return errors.Join(errors.New("twin: self-test"), err)
	}
	return nil
}
