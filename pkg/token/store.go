package token

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// Errors of the refresh-token store.
var (
	// ErrInvalidGrant: the refresh token is unknown, expired, revoked, of another
	// client, or bound to a secret the key no longer accepts.
	ErrInvalidGrant = errors.New("token: invalid refresh token")
	// ErrReused: the token was already used; its family is revoked now.
	ErrReused = errors.New("token: refresh token reused")
)

// Family statuses.
const (
	FamilyActive  = store.FamilyActive
	FamilyRevoked = store.FamilyRevoked
)

// Family is one grant's chain of refresh tokens (store.RefreshFamily, one item).
type Family = store.RefreshFamily

// Store is what the token store needs of the table; *store.Dynamo implements it.
type Store interface {
	// CreateFamily writes a new family and its event.
	CreateFamily(ctx context.Context, f *store.RefreshFamily, e *store.Event) error
	// RotateFamily applies one refresh conditionally: the family as rotated, or as
	// stored with store.ErrConflict, or store.ErrNotFound.
	RotateFamily(ctx context.Context, id string, r store.FamilyRotation) (*store.RefreshFamily, error)
	// TrimFamilyUsed drops f's oldest spent hashes down to keep, if f has not moved on.
	TrimFamilyUsed(ctx context.Context, f *store.RefreshFamily, keep int)
	// GetFamily reads a family consistently, or store.ErrNotFound.
	GetFamily(ctx context.Context, id string) (*store.RefreshFamily, error)
	// RevokeFamily revokes an active family of keyID holding hash, with e; it reports
	// whether it revoked.
	RevokeFamily(ctx context.Context, id, keyID, hash string, e *store.Event) (bool, error)
	// ReviseRevokedTokens writes a key's revoked-token memory (see store).
	ReviseRevokedTokens(ctx context.Context, keyID string, cur, next store.RevokedTokens, jti string, e *store.Event) (*store.RevokedTokens, error)
	// PutEvent records an event that goes with no key change.
	PutEvent(ctx context.Context, e *store.Event) error
}

var _ Store = (*store.Dynamo)(nil)

// Dynamo keeps refresh-token families and revoked access-token ids in the Keyward
// table, next to the keys, through the key store.
type Dynamo struct {
	st Store
}

// NewDynamo returns the token store on the key store's table.
func NewDynamo(s Store) *Dynamo { return &Dynamo{st: s} }

// A family remembers the hashes of its latest spent tokens, so that presenting one
// again is recognised as reuse (and revokes the family). Without a bound the item
// would grow by a hash per refresh, forever, up to DynamoDB's 400 KB item limit.
// Past usedMax the oldest are trimmed down to usedKeep: one extra write every
// usedMax-usedKeep refreshes. An older spent token is still refused, as invalid.
const (
	usedKeep = 8
	usedMax  = 16
)

// Create writes a new family and its event in one round trip.
func (d *Dynamo) Create(ctx context.Context, f *Family, e *store.Event) error {
	return d.st.CreateFamily(ctx, f, e)
}

// PutEvent records e in its key's event log.
func (d *Dynamo) PutEvent(ctx context.Context, e *store.Event) error {
	return d.st.PutEvent(ctx, e)
}

// Rotate consumes presented and makes next the family's current token, in one
// conditional write: the family must be active, of keyID, unexpired at now, bound to
// one of secretNs, and presented must be its current token; next then expires at
// expires. On failure the family as stored says why: ErrReused (presented was used
// before: the caller must revoke the family) or ErrInvalidGrant. The family after
// rotation is returned. The caller records the event.
func (d *Dynamo) Rotate(ctx context.Context, keyID string, presented, next Refresh, secretNs []int64,
	now, expires time.Time) (*Family, error) {
	old := presented.Hash()
	f, err := d.st.RotateFamily(ctx, presented.Family, store.FamilyRotation{
		KeyID: keyID, Old: old, New: next.Hash(), SecretNs: secretNs, Now: now, Expires: expires,
	})
	switch {
	case err == nil:
		if len(f.Used) > usedMax {
			d.st.TrimFamilyUsed(ctx, f, usedKeep)
		}
		return f, nil
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidGrant
	case !errors.Is(err, store.ErrConflict):
		return nil, err
	case f.KeyID == keyID && slices.Contains(f.Used, old):
		return f, ErrReused
	}
	return f, ErrInvalidGrant
}

// Get returns the family with id, read consistently, or store.ErrNotFound.
func (d *Dynamo) Get(ctx context.Context, id string) (*Family, error) {
	return d.st.GetFamily(ctx, id)
}

// RevokeFamily marks family revoked and records e, if the family belongs to keyID
// and presented is one of its tokens (current or used): a guessed family id or
// another client's token revokes nothing. It reports whether it revoked.
func (d *Dynamo) RevokeFamily(ctx context.Context, keyID string, presented Refresh, e *store.Event) (bool, error) {
	return d.st.RevokeFamily(ctx, presented.Family, keyID, presented.Hash(), e)
}
