package keysapi

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/store"
)

type rotateRequest struct {
	GraceSeconds *int64 `json:"grace_seconds"`
}

// rotateGrace is the grace a rotate body asks for, checked in seconds before it
// becomes a Duration, so no value can overflow past the limit.
func rotateGrace(in rotateRequest) (time.Duration, error) {
	if in.GraceSeconds == nil {
		return defaultGrace, nil
	}
	if g := *in.GraceSeconds; g < 0 || g > int64(maxGrace/time.Second) {
		return 0, badRequest("invalid_grace_seconds", "grace_seconds must be from 0 to %d.", int64(maxGrace/time.Second))
	}
	return time.Duration(*in.GraceSeconds) * time.Second, nil
}

func (a *API) rotate(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in rotateRequest
	if err := httpapi.DecodeJSON(c.req, &in, true); err != nil {
		return httpapi.Response{}, err
	}
	grace, err := rotateGrace(in)
	if err != nil {
		return httpapi.Response{}, err
	}
	var fresh apikey.Key
	k, err := a.store.Apply(ctx, id, func(k *store.Key) (*store.Event, error) {
		// A rotation hands the caller a working secret of the key: the write rule.
		if err := c.decide(authz.Rotate, id, k, k); err != nil {
			return nil, err
		}
		// Checked before the new secret is hashed, so a refusal costs no pepper.
		if err := k.Rotatable(c.now); err != nil {
			return nil, err
		}
		fresh = apikey.NewWithID(a.cfg.Prefix, k.ID)
		secret, err := auth.HashSecret(ctx, a.peppers, k.Secret.N+1, fresh.Secret)
		if err != nil {
			return nil, err
		}
		detail, err := k.Rotate(secret, fresh.Start(), grace, c.now)
		if err != nil {
			return nil, err
		}
		return c.event(store.EventKeyRotated, k.ID, k.Owner, detail), nil
	})
	if err != nil {
		return httpapi.Response{}, keyError(id, err)
	}
	v := viewOf(k, c.now)
	v.Secret = fresh.String()
	return httpapi.JSON(http.StatusOK, v), nil
}

func (a *API) finishRotation(ctx context.Context, c *call) (httpapi.Response, error) {
	return a.simpleChange(ctx, c, func(k *store.Key) (*store.Event, error) {
		if err := c.decide(authz.FinishRotation, k.ID, k, k); err != nil {
			return nil, err
		}
		if err := k.Changeable(); err != nil {
			return nil, err
		}
		detail, ok := k.FinishRotation(c.now)
		if !ok {
			return nil, nil
		}
		detail["by"] = "request"
		return c.event(store.EventKeyRotationFinished, k.ID, k.Owner, detail), nil
	})
}

func (a *API) revoke(ctx context.Context, c *call) (httpapi.Response, error) {
	return a.simpleChange(ctx, c, func(k *store.Key) (*store.Event, error) {
		if err := c.decide(authz.Revoke, k.ID, k, nil); err != nil {
			return nil, err
		}
		detail, ok := k.Revoke(c.now)
		if !ok {
			return nil, nil // idempotent: already revoked, nothing to write
		}
		return c.event(store.EventKeyRevoked, k.ID, k.Owner, detail), nil
	})
}

// simpleChange serves a change that takes no body but {}: decide is all it does.
func (a *API) simpleChange(ctx context.Context, c *call, decide func(*store.Key) (*store.Event, error)) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := httpapi.DecodeJSON(c.req, &struct{}{}, true); err != nil {
		return httpapi.Response{}, err
	}
	k, err := a.store.Apply(ctx, id, decide)
	if err != nil {
		return httpapi.Response{}, keyError(id, err)
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}
