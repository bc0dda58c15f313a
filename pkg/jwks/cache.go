package jwks

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/secrets"
)

// Defaults of a Cache's refresh bounds.
const (
	// DefaultTTL bounds how stale a warm instance's keys may be: a rotation is
	// picked up within this time even without an unknown kid.
	DefaultTTL = 60 * time.Second
	// DefaultMinRefresh bounds forced refreshes on an unknown kid, so forged kids
	// cannot become a flood of Secrets Manager calls.
	DefaultMinRefresh = 10 * time.Second
)

// Cache keeps the signing-key set of one secret in memory.
type Cache struct {
	sm         secrets.API
	id         string
	TTL        time.Duration
	MinRefresh time.Duration
	Now        func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	set      *Set
	err      error // ErrNoKeys when the secret is not initialised
}

// NewCache returns a cache of the JWK set in secret id.
func NewCache(sm secrets.API, id string) *Cache {
	return &Cache{sm: sm, id: id, TTL: DefaultTTL, MinRefresh: DefaultMinRefresh, Now: time.Now}
}

// Set returns the current set, read again when older than TTL. It returns ErrNoKeys
// when the secret has not been rotated yet.
func (c *Cache) Set(ctx context.Context) (*Set, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loadedAt.IsZero() || c.Now().Sub(c.loadedAt) >= c.TTL {
		if err := c.load(ctx); err != nil {
			return nil, err
		}
	}
	return c.set, c.err
}

// Lookup returns the set, refreshed first (at most once per MinRefresh) when it does
// not hold kid: a rotation elsewhere is seen at once.
func (c *Cache) Lookup(ctx context.Context, kid string) (*Set, error) {
	set, err := c.Set(ctx)
	if err != nil && !errors.Is(err, ErrNoKeys) {
		return nil, err
	}
	if set != nil {
		if _, ok := set.Find(kid); ok {
			return set, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Now().Sub(c.loadedAt) >= c.MinRefresh {
		if err := c.load(ctx); err != nil {
			return nil, err
		}
	}
	return c.set, c.err
}

// Invalidate makes the next call read the secret again.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.loadedAt = time.Time{}
	c.mu.Unlock()
}

// load reads AWSCURRENT; the caller holds mu. An uninitialised secret is cached as
// ErrNoKeys (for the same bounds), an infrastructure error is not cached.
func (c *Cache) load(ctx context.Context) error {
	v, err := secrets.Read(ctx, c.sm, c.id, secrets.StageCurrent)
	if err != nil && !errors.Is(err, secrets.ErrNoVersion) {
		return err
	}
	set, perr := Parse(v.Value)
	if perr != nil && !errors.Is(perr, ErrNoKeys) {
		return perr
	}
	c.set, c.err, c.loadedAt = set, perr, c.Now()
	return nil
}
