package authorizer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/store"
)

// MaxKeyCacheTTL bounds how long the key behind an access token is trusted in memory:
// a token of a revoked or deleted key is refused within this time.
const MaxKeyCacheTTL = 5 * time.Second

// maxCached bounds the cache; entries past their TTL are dropped beyond it.
const maxCached = 10000

// KeyCache is the revocation check behind access tokens: a KeyReader that keeps each
// key (or its absence) for at most TTL. It is meant for auth.Verifier.TokenKeys only;
// API keys are always read from the store, consistently.
type KeyCache struct {
	next auth.KeyReader
	ttl  time.Duration
	now  func() time.Time

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	key *store.Key // nil: not found
	at  time.Time
}

// NewKeyCache returns a cache over next; ttl is capped at MaxKeyCacheTTL.
func NewKeyCache(next auth.KeyReader, ttl time.Duration, now func() time.Time) *KeyCache {
	if ttl <= 0 || ttl > MaxKeyCacheTTL {
		ttl = MaxKeyCacheTTL
	}
	return &KeyCache{next: next, ttl: ttl, now: now, m: map[string]cached{}}
}

var (
	_ auth.KeyReader    = (*KeyCache)(nil)
	_ auth.KeyRefresher = (*KeyCache)(nil)
)

// GetKey returns the key with id from the cache if it was read less than TTL ago, else
// from the store. Not found is cached like a key; a store error is not cached.
func (c *KeyCache) GetKey(ctx context.Context, id string) (*store.Key, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		if e.key == nil {
			return nil, store.ErrNotFound
		}
		return e.key, nil
	}
	return c.RefreshKey(ctx, id)
}

// RefreshKey reads the key with id from the store, whatever is cached, and caches
// it: for a token issued under a secret newer than the cached key's (a rotation
// since it was read), which must not wait out the TTL to be accepted.
func (c *KeyCache) RefreshKey(ctx context.Context, id string) (*store.Key, error) {
	now := c.now()
	k, err := c.next.GetKey(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCached {
		for id, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, id)
			}
		}
	}
	c.m[id] = cached{key: k, at: now}
	c.mu.Unlock()
	return k, err
}
