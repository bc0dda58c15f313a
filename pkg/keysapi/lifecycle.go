package keysapi

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-lambda-go/events"
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

func (a *API) rotate(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	if err := checkQuery(c.req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var in rotateRequest
	if err := httpapi.DecodeJSON(c.req, &in, true); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	grace, err := rotateGrace(in)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var fresh apikey.Key
	k, err := a.apply(ctx, c, id, func(k *store.Key) (*store.Event, error) {
		// A rotation hands the caller a working secret of the key: the write rule.
		if err := c.decide(authz.Rotate, id, k, k); err != nil {
			return nil, err
		}
		if err := refuseRevoked(k); err != nil {
			return nil, err
		}
		if k.EffectiveStatus(c.now) == store.StatusExpired {
			return nil, httpapi.Errorf(http.StatusConflict, "key_expired", "Key %s has expired; extend expires_at before rotating.", k.ID)
		}
		fresh = apikey.NewWithID(a.cfg.Prefix, k.ID)
		secret, err := auth.HashSecret(ctx, a.peppers, k.Secret.N+1, fresh.Secret)
		if err != nil {
			return nil, err
		}
		// At most two valid secrets: the current one becomes the previous, and any
		// previous still in grace is dropped here.
		detail := map[string]any{"secret_version": secret.N, "grace_seconds": int64(grace / time.Second)}
		k.Previous = nil
		k.Status = store.StatusActive
		if grace > 0 {
			prev := k.Secret
			prev.ExpiresAt = c.now.Add(grace)
			k.Previous = &prev
			k.Status = store.StatusRotating
			detail["previous_expires_at"] = prev.ExpiresAt
		}
		k.Secret = secret
		k.Start = fresh.Start()
		return c.event(store.EventKeyRotated, k.ID, k.Owner, detail), nil
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	v := viewOf(k, c.now)
	v.Secret = fresh.String()
	return httpapi.JSON(http.StatusOK, v), nil
}

func (a *API) finishRotation(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	return a.simpleChange(ctx, c, func(k *store.Key) (*store.Event, error) {
		if err := c.decide(authz.FinishRotation, k.ID, k, k); err != nil {
			return nil, err
		}
		if err := refuseRevoked(k); err != nil {
			return nil, err
		}
		if k.Previous == nil {
			return nil, nil
		}
		n := k.Previous.N
		k.Previous = nil
		if k.Status == store.StatusRotating {
			k.Status = store.StatusActive
		}
		return c.event(store.EventKeyRotationFinished, k.ID, k.Owner, map[string]any{"dropped_secret_version": n, "by": "request"}), nil
	})
}

func (a *API) revoke(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	return a.simpleChange(ctx, c, func(k *store.Key) (*store.Event, error) {
		if err := c.decide(authz.Revoke, k.ID, k, nil); err != nil {
			return nil, err
		}
		if k.Status == store.StatusRevoked {
			return nil, nil // idempotent: already revoked, nothing to write
		}
		k.Status = store.StatusRevoked
		k.Previous = nil
		return c.event(store.EventKeyRevoked, k.ID, k.Owner, map[string]any{}), nil
	})
}

func (a *API) simpleChange(ctx context.Context, c *call, decide change) (events.APIGatewayV2HTTPResponse, error) {
	if err := checkQuery(c.req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := httpapi.DecodeJSON(c.req, &struct{}{}, true); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := a.apply(ctx, c, id, decide)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}
