package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// RateLimit is at most Limit uses per window of WindowSeconds.
type RateLimit struct {
	Limit         int64 `json:"limit"`
	WindowSeconds int64 `json:"window_seconds"`
}

// UsageDay is one UTC day of a key's usage: uses accepted, and refused by code.
type UsageDay struct {
	Day      string           `json:"day"`
	Accepted int64            `json:"accepted"`
	Refused  map[string]int64 `json:"refused"`
}

// Usage is a key's usage per UTC day, oldest first, days without use included.
type Usage struct {
	KeyID string     `json:"key_id"`
	Days  []UsageDay `json:"days"`
}

// OwnerLimits is the rate limit shared by an owner's keys (nil: none).
type OwnerLimits struct {
	Owner     string     `json:"owner"`
	RateLimit *RateLimit `json:"ratelimit"`
}

// KeyUsage reads key id's usage for the days (1–90; 0: the default, 30) ending
// today (keys:read).
func (c *Client) KeyUsage(ctx context.Context, id string, days int) (*Usage, error) {
	q := url.Values{}
	if days != 0 {
		q.Set("days", strconv.Itoa(days))
	}
	var out Usage
	if err := c.do(ctx, call{method: http.MethodGet, path: keyPath(id) + "/usage", query: q, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

func ownerLimitsPath(owner string) string { return "/v1/owners/" + url.PathEscape(owner) + "/limits" }

// OwnerLimits reads owner's shared rate limit (keys:read covering the owner).
func (c *Client) OwnerLimits(ctx context.Context, owner string) (*OwnerLimits, error) {
	var out OwnerLimits
	if err := c.do(ctx, call{method: http.MethodGet, path: ownerLimitsPath(owner), retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutOwnerLimits sets owner's shared rate limit, or removes it when rl is nil
// (keys:write covering the owner). Setting the same limit again changes nothing, so
// the call is retried like a read.
func (c *Client) PutOwnerLimits(ctx context.Context, owner string, rl *RateLimit) (*OwnerLimits, error) {
	body := struct {
		RateLimit *RateLimit `json:"ratelimit"`
	}{rl}
	var out OwnerLimits
	if err := c.do(ctx, call{method: http.MethodPut, path: ownerLimitsPath(owner), json: body, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
