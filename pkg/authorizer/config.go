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
	// AcceptsRoot (AUTHORIZER_ACCEPTS_ROOT, "true" or "false", default false) lets the
	// root credential through the authorizer. Off, the root credential is an invalid
	// credential here and the function needs no ROOT_SECRET_ID (nor read access to it).
	AcceptsRoot bool
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
	if c.AcceptsRoot, err = service.Bool("AUTHORIZER_ACCEPTS_ROOT"); err != nil {
		return Config{}, err
	}
	return c, nil
}

// New builds the authorizer on the shared dependencies: it loads the route table (cold
// start) and puts the token revocation cache behind deps.Verifier. Unless
// cfg.AcceptsRoot, it takes the root checker out of deps.Verifier, so the root
// credential is never even compared here; with it, ROOT_SECRET_ID is required.
func New(ctx context.Context, deps *service.Deps, cfg Config) (*Authorizer, error) {
	if cfg.AcceptsRoot && deps.Verifier.Root == nil {
		return nil, fmt.Errorf("AUTHORIZER_ACCEPTS_ROOT=true needs ROOT_SECRET_ID (the root credential's secret)")
	}
	if !cfg.AcceptsRoot {
		deps.Verifier.Root = nil
	}
	routes, err := routeconfig.NewLoader(ctx, deps.Store, cfg.RouteScopes, cfg.ReloadEvery)
	if err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	deps.Verifier.TokenKeys = NewKeyCache(deps.Store, cfg.TokenKeyTTL, deps.Verifier.Now)
	// Last use goes through the same client as the authorizer's store.
	deps.Verifier.Usage = usage.New(deps.Store)
	return &Authorizer{
		Verifier:    deps.Verifier,
		Routes:      routes,
		Log:         deps.Log,
		AcceptsRoot: cfg.AcceptsRoot,
	}, nil
}
