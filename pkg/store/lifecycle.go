package store

import "time"

// Expire makes k expired at now and drops its previous secret. The detail is the
// key.expired event's: expires_at, and dropped_secret_version when there was a
// previous secret. It reports false, changing nothing, when k is expired already
// with no previous secret: there is nothing to write. It does not bump k (see Bump).
func (k *Key) Expire(now time.Time) (detail map[string]any, ok bool) {
	if k.Status == StatusExpired && k.Previous == nil {
		return nil, false
	}
	detail = map[string]any{"expires_at": k.ExpiresAt}
	if k.Previous != nil {
		detail["dropped_secret_version"] = k.Previous.N
	}
	k.Status, k.Previous = StatusExpired, nil
	return detail, true
}

// FinishRotation drops k's previous secret, and a rotating key becomes active. The
// detail is the key.rotation_finished event's: dropped_secret_version. It reports
// false, changing nothing, when k has no previous secret. It does not bump k.
func (k *Key) FinishRotation(now time.Time) (detail map[string]any, ok bool) {
	if k.Previous == nil {
		return nil, false
	}
	detail = map[string]any{"dropped_secret_version": k.Previous.N}
	k.Previous = nil
	if k.Status == StatusRotating {
		k.Status = StatusActive
	}
	return detail, true
}

// Bump marks k changed at now: its version goes up by one, the one step every
// transition's write takes (UpdateKey's condition expects it).
func (k *Key) Bump(now time.Time) {
	k.Version++
	k.UpdatedAt = now
}
