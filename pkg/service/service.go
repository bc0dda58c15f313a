package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/awsclient"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/lockout"
	"github.com/keyward/keyward/pkg/secrets"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
	"github.com/keyward/keyward/pkg/usage"
)

// secretTTL is how long a secret value is trusted in memory. A pepper or root
// rotation is seen by every warm instance within this bound.
const secretTTL = 5 * time.Minute

// Config is the environment every function reads.
type Config struct {
	Table          string // TABLE_NAME
	Prefix         string // KEY_PREFIX, default kw_live_
	PepperSecretID string // PEPPER_SECRET_ID
	// RootSecretID (ROOT_SECRET_ID) holds the root credential. It is optional: a
	// function configured without it does not recognise the root credential at all
	// (it is refused as a malformed credential), so it needs no read access to it.
	RootSecretID   string
	DefaultExpiry  time.Duration // DEFAULT_EXPIRY_DAYS, default 90
	EventRetention time.Duration // EVENT_RETENTION_DAYS, default 400
	// SigningKeysSecretID (SIGNING_KEYS_SECRET_ID) holds the token-signing JWK set;
	// when set, every function's Verifier accepts access tokens.
	SigningKeysSecretID string
	TokenAudience       string // TOKEN_AUDIENCE, default keyward
	// Issuer (ISSUER) is the deployment's iss of access tokens, an absolute http(s)
	// URL without a trailing slash: the one every token is signed with and checked
	// against. It is never derived from a request. Required with SigningKeysSecretID:
	// given directly, or, when ISSUER is empty, read once at cold start by Load from
	// the SSM parameter IssuerParameter (ISSUER_PARAMETER; the deployed default, the
	// API's own URL, which a function's environment cannot reference without a
	// CloudFormation cycle).
	Issuer          string
	IssuerParameter string
	// Lockout is the failed-attempt rule every function applies to API keys:
	// LOCKOUT_MAX_FAILURES (5) in LOCKOUT_WINDOW_SECONDS (300) from one source IP lock
	// that key id and IP for LOCKOUT_COOLDOWN_SECONDS (300).
	Lockout lockout.Config
}

// FromEnv reads Config from the environment.
func FromEnv() (Config, error) {
	c := Config{
		Table:          os.Getenv("TABLE_NAME"),
		Prefix:         Getenv("KEY_PREFIX", apikey.DefaultPrefix),
		PepperSecretID: os.Getenv("PEPPER_SECRET_ID"),
		RootSecretID:   os.Getenv("ROOT_SECRET_ID"),

		SigningKeysSecretID: os.Getenv("SIGNING_KEYS_SECRET_ID"),
		TokenAudience:       Getenv("TOKEN_AUDIENCE", DefaultAudience),
		Issuer:              os.Getenv("ISSUER"),
		IssuerParameter:     os.Getenv("ISSUER_PARAMETER"),
	}
	for _, v := range []struct{ name, value string }{{"TABLE_NAME", c.Table}, {"PEPPER_SECRET_ID", c.PepperSecretID}} {
		if v.value == "" {
			return Config{}, fmt.Errorf("%s is not set", v.name)
		}
	}
	if c.SigningKeysSecretID != "" && (c.Issuer != "" || c.IssuerParameter == "") {
		iss, err := Issuer(c.Issuer)
		if err != nil {
			return Config{}, err
		}
		c.Issuer = iss
	}
	days, err := Days("DEFAULT_EXPIRY_DAYS", 90)
	if err != nil {
		return Config{}, err
	}
	c.DefaultExpiry = days
	if c.EventRetention, err = Days("EVENT_RETENTION_DAYS", 400); err != nil {
		return Config{}, err
	}
	if c.Lockout, err = lockoutFromEnv(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func lockoutFromEnv() (lockout.Config, error) {
	var c lockout.Config
	var err error
	secs := func(name string, def int) time.Duration {
		n, e := Int(name, def)
		err = errors.Join(err, e)
		return time.Duration(n) * time.Second
	}
	n, e := Int("LOCKOUT_MAX_FAILURES", 5)
	c.MaxFailures = n
	c.Window = secs("LOCKOUT_WINDOW_SECONDS", 300)
	c.Cooldown = secs("LOCKOUT_COOLDOWN_SECONDS", 300)
	return c, errors.Join(e, err)
}

// Issuer checks the configured issuer s and returns it without a trailing slash: an
// absolute http or https URL with a host, no query, no fragment.
func Issuer(s string) (string, error) {
	if s == "" {
		return "", errors.New("ISSUER is not set: it is the iss of access tokens (the API's base URL, " +
			"e.g. https://auth.example.com), and is never taken from a request")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("ISSUER=%q: want an absolute http(s) URL with a host and no query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// DefaultAudience is the aud of access tokens when TOKEN_AUDIENCE is unset.
const DefaultAudience = "keyward"

// Getenv returns the variable name, or def when it is unset or empty.
func Getenv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Int reads a positive integer variable, def when unset.
func Int(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
	}
	return n, nil
}

// Bool reads a boolean variable strictly: "true", "false", or unset (false). Any
// other spelling ("1", "TRUE", "yes") is an error, so a typo never means false.
func Bool(name string) (bool, error) {
	switch s := os.Getenv(name); s {
	case "true":
		return true, nil
	case "false", "":
		return false, nil
	default:
		return false, fmt.Errorf("%s=%q: want true or false", name, s)
	}
}

// Days reads a whole number of days.
func Days(name string, def int) (time.Duration, error) {
	n, err := Int(name, def)
	return time.Duration(n) * 24 * time.Hour, err
}

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
	ddb := awsclient.DynamoDB(awsCfg)
	sm := awsclient.SecretsManager(awsCfg)
	st := store.New(ddb, cfg.Table, cfg.EventRetention)
	peppers := secrets.NewCached(sm, cfg.PepperSecretID, secretTTL)
	guard := lockout.New(ddb, cfg.Table, st, cfg.Lockout)
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	d := &Deps{
		Config: cfg, AWS: awsCfg, DDB: ddb, SM: sm, Store: st, Peppers: peppers, Guard: guard,
		Verifier: &auth.Verifier{Prefix: cfg.Prefix, Keys: notingKeys{st}, Peppers: peppers, Guard: guard,
			Usage: usage.New(ddb, cfg.Table, st), Log: log, Now: time.Now},
		Log: log,
	}
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
