package oauth

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/token"
)

// ConfigFromEnv reads the OAuth settings: ACCESS_TOKEN_LIFETIME (seconds, default
// 300), REFRESH_TOKEN_LIFETIME (seconds, default 36000), with the audience of the
// shared service.Config, whose issuer (ISSUER) must be set: without it the token
// function does not start.
func ConfigFromEnv(c service.Config) (Config, error) {
	access, err := service.Int("ACCESS_TOKEN_LIFETIME", 300)
	if err != nil {
		return Config{}, err
	}
	refresh, err := service.Int("REFRESH_TOKEN_LIFETIME", 36000)
	if err != nil {
		return Config{}, err
	}
	if access < 1 || refresh < 1 {
		return Config{}, fmt.Errorf("token lifetimes must be positive")
	}
	if c.SigningKeysSecretID == "" {
		return Config{}, fmt.Errorf("SIGNING_KEYS_SECRET_ID is not set")
	}
	if _, err := service.Issuer(c.Issuer); err != nil {
		return Config{}, err
	}
	return Config{
		Audience:       c.TokenAudience,
		AccessLifetime: time.Duration(access) * time.Second, RefreshLifetime: time.Duration(refresh) * time.Second,
	}, nil
}

// New builds the OAuth API on the shared dependencies. Tokens are signed with the
// issuer d.Tokens checks (d.Config.Issuer). The root credential is recognised only
// if d has it (ROOT_SECRET_ID): the token endpoint never issues for it either way,
// and without it introspection refuses it like any unknown credential.
func New(d *service.Deps, cfg Config) *API {
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
