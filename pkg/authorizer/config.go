package authorizer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/env"
	"github.com/keyward/keyward/pkg/routeconfig"
	"github.com/keyward/keyward/pkg/store"
)

// Config is the authorizer's own environment, beside the shared one.
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
	c := Config{RouteScopes: env.String("ROUTE_SCOPES", "")}
	var err error
	if c.ReloadEvery, err = env.Seconds("ROUTES_RELOAD_SECONDS", 30); err != nil {
		return Config{}, err
	}
	if c.TokenKeyTTL, err = env.Seconds("TOKEN_KEY_CACHE_SECONDS", 5); err != nil {
		return Config{}, err
	}
	if c.TokenKeyTTL > MaxKeyCacheTTL {
		return Config{}, fmt.Errorf("TOKEN_KEY_CACHE_SECONDS: at most %d", int(MaxKeyCacheTTL/time.Second))
	}
	if c.AcceptsRoot, err = env.Bool("AUTHORIZER_ACCEPTS_ROOT"); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Deps are what the authorizer is built on (the function's shared dependencies).
type Deps struct {
	// Verifier is the shared verifier, with its usage recorder. New copies it and
	// never changes it.
	Verifier *auth.Verifier
	// Store reads the keys behind access tokens (through KeyCache) and the route
	// config item.
	Store *store.Dynamo
	Log   *slog.Logger
}

// New builds the authorizer: it loads the route table (cold start) and puts the token
// revocation cache behind its own copy of d.Verifier. Unless cfg.AcceptsRoot, the copy
// has no root checker, so the root credential is never even compared here; with it,
// ROOT_SECRET_ID is required.
func New(ctx context.Context, d Deps, cfg Config) (*Authorizer, error) {
	if cfg.AcceptsRoot && d.Verifier.Root == nil {
		return nil, fmt.Errorf("AUTHORIZER_ACCEPTS_ROOT=true needs ROOT_SECRET_ID (the root credential's secret)")
	}
	v := *d.Verifier
	if !cfg.AcceptsRoot {
		v.Root = nil
	}
	routes, err := routeconfig.NewLoader(ctx, d.Store, cfg.RouteScopes, cfg.ReloadEvery)
	if err != nil {
		return nil, fmt.Errorf("route table: %w", err)
	}
	v.TokenKeys = NewKeyCache(d.Store, cfg.TokenKeyTTL, v.Now)
	return &Authorizer{
		Verifier:    &v,
		Routes:      routes,
		Log:         d.Log,
		AcceptsRoot: cfg.AcceptsRoot,
	}, nil
}
