package authorizer

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/keyward/keyward/pkg/routeconfig"
	"github.com/keyward/keyward/pkg/service"
	"github.com/keyward/keyward/pkg/usage"
)

// Config is the authorizer's own environment, beside service.Config.
type Config struct {
	RouteScopes string        // ROUTE_SCOPES: JSON pattern → scope, overlaid by the CONFIG/ROUTES item
	ReloadEvery time.Duration // ROUTES_RELOAD_SECONDS, default 30
	TokenKeyTTL time.Duration // TOKEN_KEY_CACHE_SECONDS, default and maximum 5
}

// ConfigFromEnv reads Config from the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{RouteScopes: os.Getenv("ROUTE_SCOPES")}
	secs := func(name string, def int) (time.Duration, error) {
		n, err := service.Int(name, def)
		return time.Duration(n) * time.Second, err
	}
	var err error
	if c.ReloadEvery, err = secs("ROUTES_RELOAD_SECONDS", 30); err != nil {
		return Config{}, err
	}
	if c.TokenKeyTTL, err = secs("TOKEN_KEY_CACHE_SECONDS", 5); err != nil {
		return Config{}, err
	}
	if c.TokenKeyTTL > MaxKeyCacheTTL {
		return Config{}, fmt.Errorf("TOKEN_KEY_CACHE_SECONDS: at most %d", int(MaxKeyCacheTTL/time.Second))
	}
	return c, nil
}

// New builds the authorizer on the shared dependencies: it loads the route table (cold
// start) and puts the token revocation cache behind deps.Verifier.
func New(ctx context.Context, deps *service.Deps, cfg Config) (*Authorizer, error) {
	routes, err := routeconfig.NewLoader(ctx, deps.Store.DB(), deps.Config.Table, cfg.RouteScopes, cfg.ReloadEvery)
	if err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	deps.Verifier.TokenKeys = NewKeyCache(deps.Store, cfg.TokenKeyTTL, deps.Verifier.Now)
	// Last use goes through the same client as the authorizer's store.
	deps.Verifier.Usage = usage.New(deps.Store.DB(), deps.Config.Table, deps.Store)
	return &Authorizer{
		Verifier: deps.Verifier,
		Routes:   routes,
		Log:      deps.Log,
	}, nil
}
