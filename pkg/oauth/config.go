package oauth

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/env"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
)

// Shared is what the OAuth settings take from the function's shared configuration.
type Shared struct {
	Audience            string // TOKEN_AUDIENCE
	Issuer              string // ISSUER (or the SSM parameter), already checked
	SigningKeysSecretID string // SIGNING_KEYS_SECRET_ID
}

// ConfigFromEnv reads the OAuth settings: ACCESS_TOKEN_LIFETIME (seconds, default
// 300), REFRESH_TOKEN_LIFETIME (seconds, default 36000), with the audience of s. The
// signing-key secret and the issuer must be set: without them the token function
// does not start.
func ConfigFromEnv(s Shared) (Config, error) {
	access, err := env.Seconds("ACCESS_TOKEN_LIFETIME", 300)
	if err != nil {
		return Config{}, err
	}
	refresh, err := env.Seconds("REFRESH_TOKEN_LIFETIME", 36000)
	if err != nil {
		return Config{}, err
	}
	if access <= 0 || refresh <= 0 {
		return Config{}, fmt.Errorf("token lifetimes must be positive")
	}
	if s.SigningKeysSecretID == "" {
		return Config{}, fmt.Errorf("SIGNING_KEYS_SECRET_ID is not set")
	}
	if s.Issuer == "" {
		return Config{}, errors.New("ISSUER is not set: it is the iss of access tokens (the API's base URL), " +
			"and is never taken from a request")
	}
	return Config{Audience: s.Audience, AccessLifetime: access, RefreshLifetime: refresh}, nil
}

// Deps are what the OAuth API is built on (the function's shared dependencies).
type Deps struct {
	Verifier    *auth.Verifier
	Store       *store.Dynamo
	SigningKeys *jwks.Cache
	Tokens      *token.Verifier // nil without a signing-key secret
	Log         *slog.Logger
}

// New builds the OAuth API. Tokens are signed with the issuer d.Tokens checks. The
// root credential is recognised only if d.Verifier has it (ROOT_SECRET_ID): the token
// endpoint never issues for it either way, and without it introspection refuses it
// like any unknown credential.
func New(d Deps, cfg Config) *API {
	families := token.NewDynamo(d.Store)
	signer := &token.Signer{Keys: d.SigningKeys, Audience: cfg.Audience, Lifetime: cfg.AccessLifetime}
	if d.Tokens != nil {
		signer.Issuer = d.Tokens.Issuer
	}
	return &API{
		Verifier: d.Verifier, Keys: d.Store, Families: families,
		Signer: signer,
		Tokens: d.Tokens, JWKS: d.SigningKeys, Config: cfg, Log: d.Log, Now: d.Verifier.Now,
	}
}
