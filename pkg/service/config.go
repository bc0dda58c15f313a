package service

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/env"
	"github.com/keyward/keyward/pkg/lockout"
)

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
	// EventBusName (EVENT_BUS_NAME) is the EventBridge bus that limit events
	// (key.rate_limited, key.usage_exceeded) are also put on; empty: the table only.
	EventBusName string
	// Local is env.Local(): the process runs against the local stack. Build then
	// tolerates DynamoDB Local's response checksums; functions pass it on to what
	// behaves differently locally (the sweeper's NOW and its bus and topic).
	Local bool
}

// FromEnv reads Config from the environment.
func FromEnv() (Config, error) {
	c := Config{
		Table:          env.String("TABLE_NAME", ""),
		Prefix:         env.String("KEY_PREFIX", apikey.DefaultPrefix),
		PepperSecretID: env.String("PEPPER_SECRET_ID", ""),
		RootSecretID:   env.String("ROOT_SECRET_ID", ""),

		SigningKeysSecretID: env.String("SIGNING_KEYS_SECRET_ID", ""),
		TokenAudience:       env.String("TOKEN_AUDIENCE", DefaultAudience),
		Issuer:              env.String("ISSUER", ""),
		IssuerParameter:     env.String("ISSUER_PARAMETER", ""),
		EventBusName:        env.String("EVENT_BUS_NAME", ""),
		Local:               env.Local(),
	}
	// Checked in this order, so the same environment always gets the same error.
	for _, name := range []string{"TABLE_NAME", "PEPPER_SECRET_ID"} {
		if _, err := env.Required(name); err != nil {
			return Config{}, err
		}
	}
	if c.SigningKeysSecretID != "" && (c.Issuer != "" || c.IssuerParameter == "") {
		iss, err := Issuer(c.Issuer)
		if err != nil {
			return Config{}, err
		}
		c.Issuer = iss
	}
	var err error
	if c.DefaultExpiry, err = env.Days("DEFAULT_EXPIRY_DAYS", 90); err != nil {
		return Config{}, err
	}
	if c.EventRetention, err = env.Days("EVENT_RETENTION_DAYS", 400); err != nil {
		return Config{}, err
	}
	if c.Lockout, err = lockoutFromEnv(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func lockoutFromEnv() (lockout.Config, error) {
	n, e1 := env.Int("LOCKOUT_MAX_FAILURES", 5)
	window, e2 := env.Seconds("LOCKOUT_WINDOW_SECONDS", 300)
	cooldown, e3 := env.Seconds("LOCKOUT_COOLDOWN_SECONDS", 300)
	return lockout.Config{MaxFailures: n, Window: window, Cooldown: cooldown}, errors.Join(e1, e2, e3)
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
