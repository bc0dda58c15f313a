package token

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/store"
)

// scripted is a token Store whose answers a test sets, recording what it was asked.
type scripted struct {
	Store
	rotated  *store.RefreshFamily
	rotateEr error
	rotation store.FamilyRotation
	trims    []int
	// revise answers successive ReviseRevokedTokens calls; the calls are recorded.
	revise  []func() (*store.RevokedTokens, error)
	revised []store.RevokedTokens // the cur of each call
}

func (s *scripted) RotateFamily(_ context.Context, _ string, r store.FamilyRotation) (*store.RefreshFamily, error) {
	s.rotation = r
	return s.rotated, s.rotateEr
}

func (s *scripted) TrimFamilyUsed(_ context.Context, f *store.RefreshFamily, keep int) {
	s.trims = append(s.trims, keep)
	f.Used = f.Used[len(f.Used)-keep:]
}

func (s *scripted) ReviseRevokedTokens(_ context.Context, _ string, cur, _ store.RevokedTokens, _ string, _ *store.Event) (*store.RevokedTokens, error) {
	s.revised = append(s.revised, cur)
	next := s.revise[0]
	s.revise = s.revise[1:]
	return next()
}

func hashes(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = string(rune('a' + i))
	}
	return out
}

// TestRotateOutcomes: how a refresh's conditional write is read. A lost condition is
// reuse only for a hash the same key's family spent; the store's answer decides, not
// a second read.
func TestRotateOutcomes(t *testing.T) {
	presented, next := NewRefresh("fam00000000000000000"), NewRefresh("fam00000000000000000")
	spent := &store.RefreshFamily{KeyID: "k1", Used: []string{"x", presented.Hash()}}
	other := &store.RefreshFamily{KeyID: "k2", Used: []string{presented.Hash()}}
	infra := errors.New("throttled")
	cases := []struct {
		name    string
		fam     *store.RefreshFamily
		err     error
		want    error
		trimmed []int
	}{
		{"rotated", &store.RefreshFamily{KeyID: "k1", Used: hashes(usedMax)}, nil, nil, nil},
		{"rotated past the bound: trimmed", &store.RefreshFamily{KeyID: "k1", Used: hashes(usedMax + 1)}, nil, nil, []int{usedKeep}},
		{"no family", nil, store.ErrNotFound, ErrInvalidGrant, nil},
		{"spent token of this key: reuse", spent, store.ErrConflict, ErrReused, nil},
		{"spent token of another key's family", other, store.ErrConflict, ErrInvalidGrant, nil},
		{"not current, never spent (expired, revoked, old secret)", &store.RefreshFamily{KeyID: "k1"}, store.ErrConflict, ErrInvalidGrant, nil},
		{"infrastructure", nil, infra, infra, nil},
	}
	now := time.Unix(1_800_000_000, 0)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			st := &scripted{rotated: tt.fam, rotateEr: tt.err}
			f, err := NewDynamo(st).Rotate(context.Background(), "k1", presented, next, []int64{2, 1}, now, now.Add(time.Hour))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !slices.Equal(st.trims, tt.trimmed) {
				t.Errorf("trims = %v, want %v", st.trims, tt.trimmed)
			}
			if tt.err == nil && len(f.Used) > usedMax {
				t.Errorf("returned family keeps %d spent hashes", len(f.Used))
			}
			r := st.rotation
			if r.KeyID != "k1" || r.Old != presented.Hash() || r.New != next.Hash() || !slices.Equal(r.SecretNs, []int64{2, 1}) || !r.Expires.Equal(now.Add(time.Hour)) {
				t.Errorf("rotation asked = %+v", r)
			}
		})
	}
}

// TestRevokeAccessReplans: a revocation that loses its condition plans again on the
// memory the store returns, one that loses to a write in flight tries again as is,
// and a key that is gone is done.
func TestRevokeAccessReplans(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	k := &store.Key{ID: "k1", RevokedJTIs: map[string]int64{}}
	stored := &store.RevokedTokens{JTIs: map[string]int64{"other": now.Unix() + 100}, MaxIAT: now.Unix() - 5}
	st := &scripted{revise: []func() (*store.RevokedTokens, error){
		func() (*store.RevokedTokens, error) { return stored, store.ErrConflict },
		func() (*store.RevokedTokens, error) { return nil, store.ErrConflict },
		func() (*store.RevokedTokens, error) { return nil, nil },
	}}
	err := NewDynamo(st).RevokeAccess(context.Background(), k, "j1", now.Add(-time.Minute), now.Add(time.Minute), now, &store.Event{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.revised) != 3 || len(st.revised[0].JTIs) != 0 || st.revised[1].JTIs["other"] == 0 || st.revised[2].JTIs["other"] == 0 {
		t.Fatalf("planned on %+v", st.revised)
	}

	gone := &scripted{revise: []func() (*store.RevokedTokens, error){func() (*store.RevokedTokens, error) { return nil, store.ErrNotFound }}}
	if err := NewDynamo(gone).RevokeAccess(context.Background(), k, "j1", now, now.Add(time.Minute), now, &store.Event{}); err != nil {
		t.Fatalf("key gone: %v", err)
	}
	// Revoked already (listed): nothing is written.
	listed := &store.Key{ID: "k1", RevokedJTIs: map[string]int64{"j1": now.Unix() + 60}}
	if err := NewDynamo(&scripted{}).RevokeAccess(context.Background(), listed, "j1", now, now.Add(time.Minute), now, &store.Event{}); err != nil {
		t.Fatalf("listed: %v", err)
	}
	infra := errors.New("throttled")
	failing := &scripted{revise: []func() (*store.RevokedTokens, error){func() (*store.RevokedTokens, error) { return nil, infra }}}
	if err := NewDynamo(failing).RevokeAccess(context.Background(), k, "j1", now, now.Add(time.Minute), now, &store.Event{}); !errors.Is(err, infra) {
		t.Fatalf("infrastructure error = %v", err)
	}
}
