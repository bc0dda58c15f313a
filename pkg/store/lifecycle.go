package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keyward/keyward/pkg/limits"
	"reflect"
	"slices"
	"time"
)

// The key lifecycle: pure transitions on a Key, no I/O. Each changes the key in
// place and returns the detail of the event that records it, or reports that there
// is nothing to change. None bumps the version: Bump does, once per written change
// (Apply calls it). The rules:
//   - revoked is terminal: no transition changes a revoked key (only a delete
//     removes it);
//   - at most two secrets are valid: a rotation makes the current secret the
//     previous one and drops any older previous at once;
//   - expiry is a date, not a verdict: extending expires_at brings an expired key
//     back; rotating an expired key is refused.

var (
	// ErrRevoked: the key is revoked, and a revoked key cannot change.
	ErrRevoked = errors.New("store: key is revoked")
	// ErrExpired: the key has expired, and an expired key cannot be rotated.
	ErrExpired = errors.New("store: key has expired")
)

// Bump records one written change: Version++ and UpdatedAt = now.
func (k *Key) Bump(now time.Time) {
	k.Version++
	k.UpdatedAt = now
}

// Changeable reports ErrRevoked for a revoked key, nil for any other.
func (k *Key) Changeable() error {
	if k.Status == StatusRevoked {
		return ErrRevoked
	}
	return nil
}

// Create makes k, holding the fields its creator chose, its id and its first secret,
// a new active key at now: version 1, created and updated now, with empty metadata
// when none was given. It returns the key.created detail.
func (k *Key) Create(now time.Time) map[string]any {
	k.Status = StatusActive
	k.CreatedAt, k.UpdatedAt = now, now
	k.Version = 1
	k.Previous = nil
	if k.Metadata == nil {
		k.Metadata = map[string]any{}
	}
	return map[string]any{"version": 1, "name": k.Name, "scopes": k.Scopes, "expires_at": k.ExpiresAt}
}

// Patch is a validated change to a key's editable fields; a nil field is left alone.
type Patch struct {
	Name        *string
	Description *string
	Owner       *string
	Scopes      *[]string
	ExpiresAt   *time.Time
	// Metadata is an RFC 7396 merge patch of the metadata; a pointer to a nil map
	// clears it.
	Metadata     *map[string]any
	AllowedCIDRs *[]string
	// RateLimit, Remaining and Refill set the key's limits; a pointer to nil clears one.
	RateLimit **limits.RateLimit
	Remaining **int64
	Refill    **limits.Refill
}

// ApplyPatch applies p to k and returns the names of the fields whose value changed,
// sorted (none: an idempotent repeat). Setting expires_at brings an expired key
// back to active. A revoked key is refused (ErrRevoked) and left unchanged.
func (k *Key) ApplyPatch(p Patch) ([]string, error) {
	if err := k.Changeable(); err != nil {
		return nil, err
	}
	var changed []string
	note := func(name string, differs bool) {
		if differs {
			changed = append(changed, name)
		}
	}
	if p.Name != nil {
		note("name", setField(&k.Name, *p.Name))
	}
	if p.Description != nil {
		note("description", setField(&k.Description, *p.Description))
	}
	if p.Owner != nil {
		note("owner", setField(&k.Owner, *p.Owner))
	}
	if p.Scopes != nil {
		note("scopes", setList(&k.Scopes, *p.Scopes))
	}
	if p.ExpiresAt != nil {
		note("expires_at", !k.ExpiresAt.Equal(*p.ExpiresAt))
		k.ExpiresAt = *p.ExpiresAt
		if k.Status == StatusExpired {
			k.Status = StatusActive
		}
	}
	if p.Metadata != nil {
		note("metadata", k.patchMetadata(*p.Metadata))
	}
	if p.AllowedCIDRs != nil {
		note("allowed_cidrs", setList(&k.AllowedCIDRs, *p.AllowedCIDRs))
	}
	k.patchLimits(p, note)
	slices.Sort(changed)
	return changed, nil
}

// patchLimits applies the limit fields of p, marking the key LimitsSet when p sets any.
func (k *Key) patchLimits(p Patch, note func(string, bool)) {
	if p.RateLimit != nil {
		note("ratelimit", !reflect.DeepEqual(k.RateLimit, *p.RateLimit))
		k.RateLimit, k.LimitsSet = *p.RateLimit, true
	}
	if p.Remaining != nil {
		note("remaining", !reflect.DeepEqual(k.Remaining, *p.Remaining))
		k.Remaining, k.LimitsSet, k.creditsSet = *p.Remaining, true, creditsSet{remaining: true, refill: k.creditsSet.refill}
	}
	if p.Refill != nil {
		note("refill", !reflect.DeepEqual(k.Refill, *p.Refill))
		k.Refill, k.LimitsSet = *p.Refill, true
		k.creditsSet.refill = true
	}
}

func setField(f *string, v string) bool {
	old := *f
	*f = v
	return old != v
}

func setList(f *[]string, v []string) bool {
	old := *f
	*f = v
	return !slices.Equal(old, v)
}

// patchMetadata merges patch into the metadata (nil clears it) and reports whether
// the metadata changed, compared as JSON.
func (k *Key) patchMetadata(patch map[string]any) bool {
	next := map[string]any{}
	if patch != nil {
		next = MergePatch(k.Metadata, patch)
	}
	old, _ := json.Marshal(k.Metadata)
	k.Metadata = next
	now, _ := json.Marshal(next)
	return string(old) != string(now)
}

// MergePatch applies an RFC 7396 merge patch to a JSON object, into a new map.
func MergePatch(target, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target))
	for k, v := range target {
		out[k] = v
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			tv, _ := out[k].(map[string]any)
			out[k] = MergePatch(tv, pv)
		default:
			out[k] = v
		}
	}
	return out
}

// Rotatable reports why k cannot be rotated at now (ErrRevoked, ErrExpired), or nil.
func (k *Key) Rotatable(now time.Time) error {
	if err := k.Changeable(); err != nil {
		return err
	}
	if k.EffectiveStatus(now) == StatusExpired {
		return ErrExpired
	}
	return nil
}

// Rotate makes next (secret version k.Secret.N+1, whose key starts with start) the
// current secret at now. With a grace, the current secret becomes the previous one
// until now+grace and the key is rotating; without, it stops at once. Any previous
// secret still in grace is dropped either way: at most two secrets are valid. It
// returns the key.rotated detail.
func (k *Key) Rotate(next Secret, start string, grace time.Duration, now time.Time) (map[string]any, error) {
	if err := k.Rotatable(now); err != nil {
		return nil, err
	}
	if next.N != k.Secret.N+1 {
		return nil, fmt.Errorf("store: rotate key %s to secret version %d, want %d", k.ID, next.N, k.Secret.N+1)
	}
	detail := map[string]any{"secret_version": next.N, "grace_seconds": int64(grace / time.Second)}
	k.Previous = nil
	k.Status = StatusActive
	if grace > 0 {
		prev := k.Secret
		prev.ExpiresAt = now.Add(grace)
		k.Previous = &prev
		k.Status = StatusRotating
		detail["previous_expires_at"] = prev.ExpiresAt
	}
	k.Secret = next
	k.Start = start
	return detail, nil
}

// FinishRotation drops the previous secret at once; a rotating key becomes active.
// It returns the detail {"dropped_secret_version": n}, or ok=false when there is no
// previous secret (nothing to do, a revoked key included).
func (k *Key) FinishRotation(now time.Time) (detail map[string]any, ok bool) {
	if k.Previous == nil || k.Status == StatusRevoked {
		return nil, false
	}
	n := k.Previous.N
	k.Previous = nil
	if k.Status == StatusRotating {
		k.Status = StatusActive
	}
	return map[string]any{"dropped_secret_version": n}, true
}

// Revoke makes k revoked, for good, and drops its previous secret. It returns the
// (empty) key.revoked detail, or ok=false when k is revoked already.
func (k *Key) Revoke(now time.Time) (detail map[string]any, ok bool) {
	if k.Status == StatusRevoked {
		return nil, false
	}
	k.Status = StatusRevoked
	k.Previous = nil
	return map[string]any{}, true
}

// Expire stores the expired status, as the sweeper does once expires_at has passed,
// and drops any previous secret. It returns the detail {"expires_at", and
// "dropped_secret_version" when there was a previous secret}, or ok=false when k is
// expired already with no previous secret (or revoked: revoked stands).
func (k *Key) Expire(now time.Time) (detail map[string]any, ok bool) {
	if k.Status == StatusExpired && k.Previous == nil || k.Status == StatusRevoked {
		return nil, false
	}
	detail = map[string]any{"expires_at": k.ExpiresAt}
	if k.Previous != nil {
		detail["dropped_secret_version"] = k.Previous.N
	}
	k.Status, k.Previous = StatusExpired, nil
	return detail, true
}

// PurgeableAt is when a key may be deleted for good (DynamoDB TTL), kept retention
// after its last change: a revoked key after its revocation (its last write), an
// expired one after its expiry. ok=false for a key still in use, and for one whose
// expiry the sweeper has not stored yet. A delete through the API needs no such wait:
// it is allowed in every status, and it is the one write a revoked key takes.
func (k *Key) PurgeableAt(retention time.Duration) (at time.Time, ok bool) {
	switch {
	case k.Status == StatusRevoked:
		return k.UpdatedAt.Add(retention), true
	case k.Status == StatusExpired && k.Previous == nil:
		return k.ExpiresAt.Add(retention), true
	}
	return time.Time{}, false
}
