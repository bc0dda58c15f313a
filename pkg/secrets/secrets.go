package secrets

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// Stages of a secret version, as Secrets Manager names them.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// ErrNoVersion is returned when a secret has no version in the asked stage.
var ErrNoVersion = errors.New("secrets: no version in that stage")

// API is the part of the Secrets Manager client this package uses.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Version is one version of a secret.
type Version struct {
	ID    string // Secrets Manager VersionId
	Value string
}

// Read returns the version of secret id in stage, or ErrNoVersion.
func Read(ctx context.Context, sm API, id, stage string) (Version, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(id),
		VersionStage: aws.String(stage),
	})
	if err != nil {
		var nf *smtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Version{}, ErrNoVersion
		}
		return Version{}, fmt.Errorf("read secret %s (%s): %w", id, stage, err)
	}
	return Version{ID: aws.ToString(out.VersionId), Value: aws.ToString(out.SecretString)}, nil
}

// Cached reads one secret's current and previous versions and keeps them for TTL.
type Cached struct {
	sm  API
	id  string
	ttl time.Duration
	// minRefresh bounds forced refreshes (an unknown version id), so a flood of
	// forged ids cannot turn into a flood of Secrets Manager calls.
	minRefresh time.Duration
	now        func() time.Time

	mu       sync.Mutex
	loadedAt time.Time
	current  Version
	previous *Version
}

// NewCached returns a cache of secret id that refreshes every ttl.
func NewCached(sm API, id string, ttl time.Duration) *Cached {
	return &Cached{sm: sm, id: id, ttl: ttl, minRefresh: 10 * time.Second, now: time.Now}
}

// Versions returns the current and (if any) previous version.
func (c *Cached) Versions(ctx context.Context) (Version, *Version, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loadedAt.IsZero() || c.now().Sub(c.loadedAt) >= c.ttl {
		if err := c.load(ctx); err != nil {
			return Version{}, nil, err
		}
	}
	return c.current, c.previous, nil
}

// Lookup returns the version with id among current and previous, refreshing once
// (at most every minRefresh) when it is unknown.
func (c *Cached) Lookup(ctx context.Context, versionID string) (Version, bool, error) {
	cur, prev, err := c.Versions(ctx)
	if err != nil {
		return Version{}, false, err
	}
	if v, ok := pick(versionID, cur, prev); ok {
		return v, true, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now().Sub(c.loadedAt) >= c.minRefresh {
		if err := c.load(ctx); err != nil {
			return Version{}, false, err
		}
	}
	v, ok := pick(versionID, c.current, c.previous)
	return v, ok, nil
}

func pick(id string, cur Version, prev *Version) (Version, bool) {
	if cur.ID == id {
		return cur, true
	}
	if prev != nil && prev.ID == id {
		return *prev, true
	}
	return Version{}, false
}

// load reads both stages, in parallel (one round trip's time, at every cold start);
// the caller holds mu.
func (c *Cached) load(ctx context.Context) error {
	var p Version
	var perr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		p, perr = Read(ctx, c.sm, c.id, StagePrevious)
	}()
	cur, err := Read(ctx, c.sm, c.id, StageCurrent)
	<-done
	if err != nil {
		return err
	}
	var prev *Version
	switch err = perr; {
	case err == nil:
		prev = &p
	case !errors.Is(err, ErrNoVersion):
		return err
	}
	c.current, c.previous, c.loadedAt = cur, prev, c.now()
	return nil
}

// Root holds the root credential and compares presented strings against it.
type Root struct{ c *Cached }

// NewRoot returns the root credential kept in secret id.
func NewRoot(sm API, id string, ttl time.Duration) *Root { return &Root{c: NewCached(sm, id, ttl)} }

// Load reads the root credential now, unless it is cached (a cold start's prefetch).
func (r *Root) Load(ctx context.Context) error {
	_, _, err := r.c.Versions(ctx)
	return err
}

// Matches reports, in constant time, whether presented is the root credential.
// Digests of equal length are compared, so the root's length does not leak either.
func (r *Root) Matches(ctx context.Context, presented string) (bool, error) {
	cur, _, err := r.c.Versions(ctx)
	if err != nil {
		return false, err
	}
	if len(cur.Value) < 32 {
		// A short or empty root secret would be guessable: refuse it outright.
		return false, nil
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(cur.Value))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1, nil
}
