package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/awsclient"
	"github.com/keyward/keyward/pkg/eventbus"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/lockout"
	"github.com/keyward/keyward/pkg/meter"
	"github.com/keyward/keyward/pkg/secrets"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
	"github.com/keyward/keyward/pkg/usage"
)

// secretTTL is how long a secret value is trusted in memory. A pepper or root
// rotation is seen by every warm instance within this bound.
const secretTTL = 5 * time.Minute

// Deps are the shared dependencies of a function.
type Deps struct {
	Config  Config
	AWS     aws.Config
	DDB     *dynamodb.Client
	SM      *secretsmanager.Client
	Store   *store.Dynamo
	Peppers *secrets.Cached
	// Root is nil when RootSecretID is not configured; the Verifier then does not
	// recognise the root credential.
	Root     *secrets.Root
	Verifier *auth.Verifier
	Log      *slog.Logger
	// Guard counts failed attempts per key id and source IP; the Verifier applies it.
	Guard *lockout.Guard
	// SigningKeys and Tokens are set when SigningKeysSecretID is configured.
	SigningKeys *jwks.Cache
	Tokens      *token.Verifier
	// Meter counts every decided use of a key and records limit events (an
	// auth.UseObserver); Shutdown flushes its counts. Bus is where it puts the
	// events it wins, nil without EventBusName.
	Meter *meter.Meter
	Bus   *eventbus.Bus
}

// Load reads the environment, and the issuer parameter if it must, and builds the
// dependencies. AWS endpoints follow the SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_SSM), which is how the local stack
// points functions at DynamoDB Local and moto.
func Load(ctx context.Context) (*Deps, error) {
	cfg, err := FromEnv()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	awsCfg, err := awsclient.Config(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Issuer == "" && cfg.IssuerParameter != "" {
		if cfg.Issuer, err = ReadIssuer(ctx, newSSMParameters(awsCfg), cfg.IssuerParameter); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	return Build(cfg, awsCfg), nil
}

// ReadIssuer returns the issuer kept in the SSM parameter name: an absolute http(s)
// URL, without a trailing slash. Anything else is an error, so that a function never
// starts with an issuer no token could match.
func ReadIssuer(ctx context.Context, api ParameterReader, name string) (string, error) {
	v, err := api.GetParameter(ctx, name)
	if err != nil {
		return "", fmt.Errorf("read issuer parameter %s: %w", name, err)
	}
	iss, err := Issuer(v)
	if err != nil || iss != v {
		return "", fmt.Errorf("issuer parameter %s: %q is not an http(s) URL without a trailing slash", name, v)
	}
	return iss, nil
}

// Build assembles the dependencies from a config (tests call it directly).
func Build(cfg Config, awsCfg aws.Config) *Deps {
	// The SDK's configuration is package awsclient's, shared with the bench's twins.
	ddb := awsclient.DynamoDB(awsCfg, cfg.Local)
	sm := awsclient.SecretsManager(awsCfg)
	st := store.New(ddb, cfg.Table, cfg.EventRetention)
	peppers := secrets.NewCached(sm, cfg.PepperSecretID, secretTTL)
	guard := lockout.New(st, cfg.Lockout)
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	d := &Deps{
		Config: cfg, AWS: awsCfg, DDB: ddb, SM: sm, Store: st, Peppers: peppers, Guard: guard,
		Verifier: &auth.Verifier{Prefix: cfg.Prefix, Keys: notingKeys{st}, Peppers: peppers, Guard: guard,
			Usage: usage.New(st), Limits: st, Log: log, Now: time.Now},
		Log: log,
	}
	var pub meter.Publisher // nil unless configured: a nil *eventbus.Bus would not be nil
	if cfg.EventBusName != "" {
		d.Bus = eventbus.New(awsCfg, cfg.EventBusName)
		// The local stack starts without the bus (deployed, the template makes it).
		d.Bus.CreateFirst = cfg.Local
		pub = d.Bus
	}
	d.Meter = meter.New(st, pub, log)
	d.Meter.FirstAside = true // a cold start's first answer waits for no usage write
	d.Verifier.Uses = d.Meter // usage counts and limit events see every decided use
	if cfg.RootSecretID != "" {
		// Set only when configured: a nil *secrets.Root in the interface would not be nil.
		d.Root = secrets.NewRoot(sm, cfg.RootSecretID, secretTTL)
		d.Verifier.Root = d.Root
	}
	if cfg.SigningKeysSecretID != "" {
		d.SigningKeys = jwks.NewCache(sm, cfg.SigningKeysSecretID)
		d.Tokens = &token.Verifier{Keys: d.SigningKeys, Audience: cfg.TokenAudience, Issuer: cfg.Issuer}
		d.Verifier.Tokens = d.Tokens
	}
	return d
}

// notingKeys is the Verifier's key reader: each key a credential names is noted for
// the request's log line (httpapi.NoteKeyID) as it is read.
type notingKeys struct{ auth.KeyReader }

func (k notingKeys) GetKey(ctx context.Context, id string) (*store.Key, error) {
	httpapi.NoteKeyID(ctx, id)
	return k.KeyReader.GetKey(ctx, id)
}
