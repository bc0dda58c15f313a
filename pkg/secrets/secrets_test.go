package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// stages answers GetSecretValue from a map of stage → version, counting calls.
type stages struct {
	versions map[string]Version
	err      error
	calls    int
}

func (s *stages) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	v, ok := s.versions[aws.ToString(in.VersionStage)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("no such version")}
	}
	return &secretsmanager.GetSecretValueOutput{VersionId: aws.String(v.ID), SecretString: aws.String(v.Value)}, nil
}

// clock is a settable time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCached(sm API, c *clock) *Cached {
	x := NewCached(sm, "s", time.Minute)
	x.now = c.now
	return x
}

func TestReadMapsAMissingStage(t *testing.T) {
	sm := &stages{versions: map[string]Version{StageCurrent: {ID: "v1", Value: "a"}}}
	if v, err := Read(t.Context(), sm, "s", StageCurrent); err != nil || v != (Version{ID: "v1", Value: "a"}) {
		t.Fatalf("Read(current) = %+v, %v", v, err)
	}
	if _, err := Read(t.Context(), sm, "s", StagePrevious); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("Read(previous) = %v, want ErrNoVersion", err)
	}
	down := errors.New("connection refused")
	sm.err = down
	if _, err := Read(t.Context(), sm, "s", StageCurrent); !errors.Is(err, down) || errors.Is(err, ErrNoVersion) ||
		!strings.Contains(err.Error(), "s (AWSCURRENT)") {
		t.Fatalf("Read while down = %v, want the cause, naming the secret and stage", err)
	}
}

// TestCachedHoldsForTTL: one read of each stage per TTL, however many callers.
func TestCachedHoldsForTTL(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	sm := &stages{versions: map[string]Version{StageCurrent: {ID: "v2", Value: "b"}, StagePrevious: {ID: "v1", Value: "a"}}}
	x := newCached(sm, c)
	for range 10 {
		cur, prev, err := x.Versions(t.Context())
		if err != nil || cur.ID != "v2" || prev == nil || prev.ID != "v1" {
			t.Fatalf("Versions = %+v, %+v, %v", cur, prev, err)
		}
	}
	if sm.calls != 2 {
		t.Fatalf("%d reads for 10 calls within the TTL, want 2 (current, previous)", sm.calls)
	}
	c.t = c.t.Add(time.Minute)
	sm.versions = map[string]Version{StageCurrent: {ID: "v3", Value: "c"}}
	cur, prev, err := x.Versions(t.Context())
	if err != nil || cur.ID != "v3" || prev != nil || sm.calls != 4 {
		t.Fatalf("after the TTL: %+v, %+v, %v, %d reads; want v3, no previous, 4 reads", cur, prev, err, sm.calls)
	}
}

// TestLookupRefreshIsBounded: a flood of unknown version ids (forged) costs at most
// one refresh per minRefresh; a real new version is found by that refresh.
func TestLookupRefreshIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	sm := &stages{versions: map[string]Version{StageCurrent: {ID: "v1", Value: "a"}}}
	x := newCached(sm, c)
	if v, ok, err := x.Lookup(t.Context(), "v1"); err != nil || !ok || v.Value != "a" {
		t.Fatalf("Lookup(v1) = %+v, %v, %v", v, ok, err)
	}
	base := sm.calls
	for range 100 {
		if _, ok, err := x.Lookup(t.Context(), "forged"); ok || err != nil {
			t.Fatalf("Lookup(forged) = %v, %v", ok, err)
		}
	}
	if sm.calls != base {
		t.Fatalf("%d reads for forged ids within minRefresh of the load, want none", sm.calls-base)
	}
	c.t = c.t.Add(x.minRefresh)
	sm.versions = map[string]Version{StageCurrent: {ID: "v2", Value: "b"}, StagePrevious: {ID: "v1", Value: "a"}}
	if v, ok, err := x.Lookup(t.Context(), "v2"); err != nil || !ok || v.Value != "b" {
		t.Fatalf("Lookup(v2) after a rotation = %+v, %v, %v", v, ok, err)
	}
	if v, ok, _ := x.Lookup(t.Context(), "v1"); !ok || v.Value != "a" {
		t.Fatalf("Lookup(v1), now previous = %+v, %v", v, ok)
	}
}

func TestRootMatches(t *testing.T) {
	const root = "kw_root_0123456789abcdefghijklmnopqrstuvwxyz"
	for _, tt := range []struct {
		stored, presented string
		want              bool
	}{
		{root, root, true},
		{root, root + "x", false},
		{root, root[:len(root)-1] + "X", false},
		{root, "", false},
		{"short-root", "short-root", false}, // a guessable root is never accepted
		{"", "", false},
	} {
		sm := &stages{versions: map[string]Version{StageCurrent: {ID: "v1", Value: tt.stored}}}
		got, err := NewRoot(sm, "root", time.Minute).Matches(t.Context(), tt.presented)
		if err != nil || got != tt.want {
			t.Errorf("stored %q, presented %q: %v, %v; want %v", tt.stored, tt.presented, got, err, tt.want)
		}
	}
	sm := &stages{err: errors.New("down")}
	if ok, err := NewRoot(sm, "root", time.Minute).Matches(t.Context(), root); ok || err == nil {
		t.Errorf("unreadable root: %v, %v; want false and an error", ok, err)
	}
}
