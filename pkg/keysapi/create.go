package keysapi

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// createRequest is the body of POST /v1/keys.
type createRequest struct {
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	Owner         string            `json:"owner"`
	Scopes        []string          `json:"scopes"`
	ExpiresAt     *time.Time        `json:"expires_at"`
	ExpiresInDays *int64            `json:"expires_in_days"`
	Metadata      map[string]any    `json:"metadata"`
	AllowedCIDRs  []string          `json:"allowed_cidrs"`
	RateLimit     *limits.RateLimit `json:"ratelimit"`
	Remaining     *int64            `json:"remaining"`
	Refill        *limits.Refill    `json:"refill"`
}

func (a *API) create(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	var in createRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return httpapi.Response{}, err
	}
	k, err := a.newKey(in, c)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := c.decide(authz.Create, "", nil, k); err != nil {
		return httpapi.Response{}, err
	}
	key := apikey.New(a.cfg.Prefix)
	if k.Secret, err = auth.HashSecret(ctx, a.peppers, 1, key.Secret); err != nil {
		return httpapi.Response{}, err
	}
	k.ID, k.Start = key.ID, key.Start()
	ev := c.event(store.EventKeyCreated, k.ID, k.Owner, k.Create(c.now))
	if err := a.store.CreateKey(ctx, k, ev); err != nil {
		return httpapi.Response{}, err
	}
	v := viewOf(k, c.now)
	v.Secret = key.String()
	resp := httpapi.JSON(http.StatusCreated, v)
	resp.Header = map[string]string{"Location": "/v1/keys/" + k.ID}
	return resp, nil
}

// newKey validates a create request, field by field in a fixed order, into the
// fields of the key it asks for (no id or secret yet: store.Key.Create makes it a key).
func (a *API) newKey(in createRequest, c *call) (*store.Key, error) {
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	if err := checkText("description", in.Description, maxDescription); err != nil {
		return nil, err
	}
	if in.Owner == "" {
		in.Owner = c.caller.Owner
	}
	if err := checkOwner(in.Owner); err != nil {
		return nil, err
	}
	set, err := checkScopes(in.Scopes)
	if err != nil {
		return nil, err
	}
	expires, err := a.expiry(in, c.now)
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return nil, err
	}
	cidrs, err := checkCIDRs(in.AllowedCIDRs)
	if err != nil {
		return nil, err
	}
	k := &store.Key{
		Name: in.Name, Description: in.Description, Owner: in.Owner, Scopes: set.Strings(),
		CreatedBy: c.caller.KeyID, ExpiresAt: expires, Metadata: in.Metadata, AllowedCIDRs: cidrs,
		RateLimit: in.RateLimit, Remaining: in.Remaining, Refill: in.Refill,
	}
	if err := checkLimits(k, true, c.now); err != nil {
		return nil, err
	}
	return k, nil
}

// checkLimits validates the limit fields of k as they will be stored; when credits
// were set (create, or a patch of remaining or refill), the current refill period
// counts as refilled, so the remaining set stands until the next one.
func checkLimits(k *store.Key, creditsSet bool, now time.Time) error {
	s := k.Limits()
	if fe := s.Validate(); fe != nil {
		e := badRequest(fe.Code, "%s %s.", fe.Field, fe.Message)
		e.Field = fe.Field
		return e
	}
	if creditsSet {
		k.RefilledAt = limits.RefilledAtOnSet(k.Refill, now)
	}
	return nil
}

// expiry is the expiry a create asks for: expires_at, expires_in_days or the default.
func (a *API) expiry(in createRequest, now time.Time) (time.Time, error) {
	switch {
	case in.ExpiresAt != nil && in.ExpiresInDays != nil:
		return time.Time{}, badRequest("invalid_expiry", "Give expires_at or expires_in_days, not both.")
	case in.ExpiresAt != nil:
		return checkExpiry(*in.ExpiresAt, now)
	case in.ExpiresInDays != nil:
		// Checked before it is used as a number of days, so no value can overflow.
		if d := *in.ExpiresInDays; d < 1 || d > maxExpiryDays {
			return time.Time{}, badRequest("invalid_expires_in_days", "expires_in_days must be from 1 to %d.", maxExpiryDays)
		}
		return now.AddDate(0, 0, int(*in.ExpiresInDays)), nil
	}
	return now.Add(a.cfg.DefaultExpiry), nil
}
