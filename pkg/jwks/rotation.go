package jwks

import (
	"context"
	"errors"
	"fmt"
	"github.com/aws/aws-lambda-go/events"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/pkg/secrets"
)

// RotationAPI is the part of the Secrets Manager client rotation uses.
type RotationAPI interface {
	secrets.API
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	UpdateSecretVersionStage(context.Context, *secretsmanager.UpdateSecretVersionStageInput, ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
}

// Steps of the Secrets Manager rotation protocol.
const (
	StepCreate = "createSecret"
	StepSet    = "setSecret"
	StepTest   = "testSecret"
	StepFinish = "finishSecret"
)

// Rotator renews the signing-key secret, one protocol step per call.
type Rotator struct {
	SM RotationAPI
	// SecretID, when set, is the only secret this rotator touches, whatever the
	// event names (the function is bound to one secret; in AWS both are its ARN).
	SecretID  string
	Alg       string        // algorithm of new keys; RS256 when empty
	Retention time.Duration // how long retired keys stay; at least MinRetention
	Now       func() time.Time
	Log       *slog.Logger
}

// Handle runs one step. Every step is idempotent: Secrets Manager retries them.
func (r *Rotator) Handle(ctx context.Context, e events.SecretsManagerSecretRotationEvent) error {
	if e.SecretID == "" || e.ClientRequestToken == "" {
		return errors.New("rotation: SecretId and ClientRequestToken are required")
	}
	if r.SecretID != "" && e.SecretID != r.SecretID {
		if r.Log != nil {
			r.Log.WarnContext(ctx, "rotation event names another secret; rotating the configured one", "event_secret", e.SecretID)
		}
		e.SecretID = r.SecretID
	}
	desc, err := r.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.SecretID)})
	if err != nil {
		return fmt.Errorf("rotation: describe %s: %w", e.SecretID, err)
	}
	stages := desc.VersionIdsToStages[e.ClientRequestToken]
	if has(stages, secrets.StageCurrent) {
		// Already finished (a retried step after success).
		return nil
	}
	if len(stages) > 0 && !has(stages, secrets.StagePending) {
		return fmt.Errorf("rotation: version %s of %s is not AWSPENDING", e.ClientRequestToken, e.SecretID)
	}
	if r.Log != nil {
		r.Log.InfoContext(ctx, "rotation step", "step", e.Step, "secret", e.SecretID, "version", e.ClientRequestToken)
	}
	switch e.Step {
	case StepCreate:
		return r.create(ctx, e)
	case StepSet:
		// Nothing outside Secrets Manager holds the keys: the verifiers read the secret.
		return nil
	case StepTest:
		return r.test(ctx, e)
	case StepFinish:
		return r.finish(ctx, e, desc.VersionIdsToStages)
	}
	return fmt.Errorf("rotation: unknown step %q", e.Step)
}

func has(stages []string, s string) bool {
	for _, x := range stages {
		if x == s {
			return true
		}
	}
	return false
}

// create puts the new set as AWSPENDING under the request token, unless it exists.
func (r *Rotator) create(ctx context.Context, e events.SecretsManagerSecretRotationEvent) error {
	if _, err := r.pending(ctx, e); err == nil {
		return nil
	} else if !errors.Is(err, secrets.ErrNoVersion) {
		return err
	}
	cur, err := secrets.Read(ctx, r.SM, e.SecretID, secrets.StageCurrent)
	if err != nil && !errors.Is(err, secrets.ErrNoVersion) {
		return fmt.Errorf("rotation: %w", err)
	}
	set, err := Parse(cur.Value)
	if errors.Is(err, ErrNoKeys) {
		// The first rotation, at deploy: the secret is empty or a placeholder.
		set, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("rotation: current value: %w", err)
	}
	next, err := set.Rotated(r.Alg, r.Now(), r.Retention)
	if err != nil {
		return err
	}
	value, err := next.Marshal()
	if err != nil {
		return err
	}
	_, err = r.SM.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(e.SecretID),
		ClientRequestToken: aws.String(e.ClientRequestToken),
		SecretString:       aws.String(value),
		VersionStages:      []string{secrets.StagePending},
	})
	if err != nil {
		return fmt.Errorf("rotation: put pending version: %w", err)
	}
	return nil
}

func (r *Rotator) pending(ctx context.Context, e events.SecretsManagerSecretRotationEvent) (*Set, error) {
	out, err := r.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(e.SecretID),
		VersionId:    aws.String(e.ClientRequestToken),
		VersionStage: aws.String(secrets.StagePending),
	})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil, secrets.ErrNoVersion
		}
		return nil, fmt.Errorf("rotation: read pending version: %w", err)
	}
	return Parse(aws.ToString(out.SecretString))
}

// test signs and verifies a payload with the pending set's new key.
func (r *Rotator) test(ctx context.Context, e events.SecretsManagerSecretRotationEvent) error {
	set, err := r.pending(ctx, e)
	if err != nil {
		return err
	}
	return SelfTest(set)
}

// SelfTest signs with the set's current key and verifies with its public half.
func SelfTest(set *Set) error {
	k := set.Current()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k}, nil)
	if err != nil {
		return fmt.Errorf("rotation: signer for %s: %w", k.KeyID, err)
	}
	payload := []byte("keyward rotation test")
	jws, err := signer.Sign(payload)
	if err != nil {
		return fmt.Errorf("rotation: sign with %s: %w", k.KeyID, err)
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return err
	}
	parsed, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(k.Algorithm)})
	if err != nil {
		return err
	}
	pub := k.Public()
	got, err := parsed.Verify(&pub)
	if err != nil || string(got) != string(payload) {
		return fmt.Errorf("rotation: key %s does not verify its own signature: %v", k.KeyID, err)
	}
	return nil
}

// finish moves AWSCURRENT to the pending version.
func (r *Rotator) finish(ctx context.Context, e events.SecretsManagerSecretRotationEvent, versions map[string][]string) error {
	// A stage move that names a version which no longer holds AWSCURRENT (a concurrent
	// step, or a describe that lagged) is refused; read the stages again and retry,
	// as Secrets Manager would retry the step.
	for attempt := 1; ; attempt++ {
		err := r.moveCurrent(ctx, e, versions)
		var ipe *smtypes.InvalidParameterException
		if err == nil || !errors.As(err, &ipe) || attempt == 3 {
			return err
		}
		desc, derr := r.SM.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(e.SecretID)})
		if derr != nil {
			return fmt.Errorf("rotation: describe %s: %w", e.SecretID, derr)
		}
		if has(desc.VersionIdsToStages[e.ClientRequestToken], secrets.StageCurrent) {
			return nil
		}
		versions = desc.VersionIdsToStages
	}
}

// moveCurrent moves AWSCURRENT to the request's version from the one holding it.
func (r *Rotator) moveCurrent(ctx context.Context, e events.SecretsManagerSecretRotationEvent, versions map[string][]string) error {
	var current string
	for id, stages := range versions {
		if has(stages, secrets.StageCurrent) {
			current = id
		}
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(e.SecretID),
		VersionStage:    aws.String(secrets.StageCurrent),
		MoveToVersionId: aws.String(e.ClientRequestToken),
	}
	if current != "" {
		in.RemoveFromVersionId = aws.String(current)
	}
	if _, err := r.SM.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("rotation: move AWSCURRENT: %w", err)
	}
	return nil
}

// Rotate runs the four steps under token: what Secrets Manager does on a schedule,
// and what a local stack or a test does by hand (moto does not run rotations).
func (r *Rotator) Rotate(ctx context.Context, secretID, token string) error {
	for _, step := range []string{StepCreate, StepSet, StepTest, StepFinish} {
		if err := r.Handle(ctx, events.SecretsManagerSecretRotationEvent{SecretID: secretID, ClientRequestToken: token, Step: step}); err != nil {
			return err
		}
	}
	return nil
}

// InitialToken is the version id of the first rotation run outside Secrets Manager:
// a fixed token, so that cold starts racing to initialise one secret write one version.
const InitialToken = "keyward-initial-signing-key-00000000000000"

// EnsureInitialized gives an empty or placeholder secret its first key set. In AWS the
// RotationSchedule's RotateImmediatelyOnUpdate does this at deploy; the local stack,
// whose Secrets Manager does not rotate, calls it once as it seeds the secrets, before
// any function starts.
func (r *Rotator) EnsureInitialized(ctx context.Context, secretID string) error {
	cur, err := secrets.Read(ctx, r.SM, secretID, secrets.StageCurrent)
	if err != nil && !errors.Is(err, secrets.ErrNoVersion) {
		return err
	}
	if _, err := Parse(cur.Value); err == nil {
		return nil
	}
	if err := r.Rotate(ctx, secretID, InitialToken); err != nil {
		// Another cold start may have won the race: fine if the secret holds keys now.
		cur, rerr := secrets.Read(ctx, r.SM, secretID, secrets.StageCurrent)
		if rerr == nil {
			if _, perr := Parse(cur.Value); perr == nil {
				return nil
			}
		}
		return err
	}
	return nil
}
