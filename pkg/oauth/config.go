package oauth

import (
	"fmt"
	"time"

	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/token"
)

// ConfigFromEnv reads the OAuth settings: ACCESS_TOKEN_LIFETIME (seconds, default
// 300), REFRESH_TOKEN_LIFETIME (seconds, default 36000), with the audience and
// issuer of the shared service.Config.
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
	return Config{
		Issuer: c.Issuer, Audience: c.TokenAudience,
		AccessLifetime: time.Duration(access) * time.Second, RefreshLifetime: time.Duration(refresh) * time.Second,
	}, nil
}

// New builds the OAuth API on the shared dependencies.
func New(d *service.Deps, cfg Config) *API {
	families := token.NewDynamo(d.Store)
	return &API{
		Verifier: d.Verifier, Keys: d.Store, Families: families,
		Signer: &token.Signer{Keys: d.SigningKeys, Audience: cfg.Audience, Lifetime: cfg.AccessLifetime},
		Tokens: d.Tokens, JWKS: d.SigningKeys, Config: cfg, Log: d.Log, Now: d.Verifier.Now,
	}
}
