package auth

import (
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// MaxHints bounds the limited keys whose last state one instance keeps (a few KB
// each). Past it, one entry is dropped for each new one: a key without an entry
// costs one GetItem more, never a wrong answer.
const MaxHints = 4096

// OwnerLimitTTL is how long an instance trusts that an owner has no limit: an owner
// limit set meanwhile is enforced on that instance within this time. An owner known
// to have a limit is trusted until a use says otherwise (its update's condition
// holds it to the limit seen), so only owners without one are read again.
const OwnerLimitTTL = 10 * time.Second

// maxOwners bounds the owners whose limit state one instance keeps.
const maxOwners = 4096

// useCaches is one instance's memory of limits: the last state of each limited key
// (the hint of its next UseKey), each owner's limit state, and the slots of its uses.
type useCaches struct {
	slots *limits.Slots

	mu     sync.Mutex
	keys   map[string]*store.Key
	owners map[string]ownerEntry
}

type ownerEntry struct {
	state *limits.State
	at    time.Time
}

// cachesMu guards the lazy creation of every Verifier's caches (a Verifier is a
// plain struct, copied by value before its first use).
var cachesMu sync.Mutex

func (v *Verifier) caches() *useCaches {
	cachesMu.Lock()
	defer cachesMu.Unlock()
	if v.uc == nil {
		v.uc = &useCaches{slots: limits.NewSlots(), keys: map[string]*store.Key{}, owners: map[string]ownerEntry{}}
	}
	return v.uc
}

// hint is the limited key id as this instance last saw it, or nil.
func (c *useCaches) hint(id string) *store.Key {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys[id]
}

// remember keeps the key a use returned, while it is limited and not revoked.
func (c *useCaches) remember(res *store.UseResult) {
	k := res.Key
	if k == nil || k.UseState == nil || res.NotLimited || k.Status == store.StatusRevoked {
		if k != nil {
			c.forget(k.ID)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.keys[k.ID]; !ok && len(c.keys) >= MaxHints {
		for id := range c.keys {
			delete(c.keys, id)
			break
		}
	}
	c.keys[k.ID] = k
}

func (c *useCaches) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, id)
}

// ownerHint is owner's last seen state if it has a limit, else nil.
func (c *useCaches) ownerHint(owner string) *limits.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.owners[owner]; ok && e.state.Limited() {
		return e.state
	}
	return nil
}

// ownerState is owner's state as far as this instance knows it at now: known is
// false when it must be read (never seen, or seen without a limit OwnerLimitTTL ago).
func (c *useCaches) ownerState(owner string, now time.Time) (*limits.State, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.owners[owner]
	switch {
	case !ok:
		return nil, false
	case e.state.Limited():
		return e.state, true
	case now.Sub(e.at) < OwnerLimitTTL && !now.Before(e.at):
		return e.state, true
	}
	return nil, false
}

func (c *useCaches) rememberOwner(owner string, s *limits.State, now time.Time) {
	if s == nil {
		s = &limits.State{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.owners[owner]; !ok && len(c.owners) >= maxOwners {
		for o := range c.owners {
			delete(c.owners, o)
			break
		}
	}
	c.owners[owner] = ownerEntry{state: s, at: now}
}
