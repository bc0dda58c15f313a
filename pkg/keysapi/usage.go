package keysapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// LimitsStore is what the usage and owner-limit routes need from storage.
type LimitsStore interface {
	// UsageByDay returns key id's counts for each UTC day from..to (both included,
	// 2006-01-02) that has any, summed over the instances that wrote them.
	UsageByDay(ctx context.Context, id, from, to string) (map[string]limits.Tally, error)
	// OwnerLimits returns owner's limits; an owner without any has a zero State.
	OwnerLimits(ctx context.Context, owner string) (*limits.State, error)
	// SetOwnerLimits sets (nil RateLimit: removes) owner's limits and records e in
	// the same transaction; ErrConflict if another write raced it.
	SetOwnerLimits(ctx context.Context, owner string, l limits.OwnerLimits, e *store.Event) error
}

// Days of GET /v1/keys/{id}/usage.
const (
	defaultUsageDays = 30
	maxUsageDays     = 90
)

type usageDay struct {
	Day      string           `json:"day"`
	Accepted int64            `json:"accepted"`
	Refused  map[string]int64 `json:"refused"`
}

type usageView struct {
	KeyID string     `json:"key_id"`
	Days  []usageDay `json:"days"`
}

// usage answers a key's counts per UTC day, oldest first, for the days of the range
// ending today, zero days included, to a caller who may read the key.
func (a *API) usage(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req, "days"); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	days, err := usageDays(c.req.QueryStringParameters)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, err := a.readable(ctx, c, id); err != nil {
		return httpapi.Response{}, err
	}
	today := c.now.UTC()
	first := today.AddDate(0, 0, 1-days)
	counts, err := a.store.UsageByDay(ctx, id, first.Format(time.DateOnly), today.Format(time.DateOnly))
	if err != nil {
		return httpapi.Response{}, err
	}
	out := usageView{KeyID: id, Days: make([]usageDay, 0, days)}
	for d := range days {
		day := first.AddDate(0, 0, d).Format(time.DateOnly)
		t := counts[day]
		refused := t.Refused
		if refused == nil {
			refused = map[string]int64{}
		}
		out.Days = append(out.Days, usageDay{Day: day, Accepted: t.Accepted, Refused: refused})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

// usageDays parses the days query parameter (1–90, default 30).
func usageDays(q map[string]string) (int, error) {
	s, ok := q["days"]
	if !ok {
		return defaultUsageDays, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxUsageDays || strconv.Itoa(n) != s {
		e := badRequest("invalid_days", "days must be an integer from 1 to %d.", maxUsageDays)
		e.Field = "days"
		return 0, e
	}
	return n, nil
}

type ownerLimitsView struct {
	Owner     string            `json:"owner"`
	RateLimit *limits.RateLimit `json:"ratelimit"`
}

// pathOwner is the owner of an /v1/owners/{owner} route, checked as an owner, and
// the caller's perm must cover it (403 owner_not_allowed): an owner's limits are
// not a key, so there is nothing to hide by a 404.
func (c *call) pathOwner(perm string) (string, error) {
	owner := c.req.PathParameters["owner"]
	if err := checkOwner(owner); err != nil {
		return "", err
	}
	if !c.who.Scopes.AllowsOwner(perm, owner) {
		return "", httpapi.Errorf(http.StatusForbidden, string(authz.OwnerNotAllowed), "This credential's %s does not cover owner %s.", perm, owner)
	}
	return owner, nil
}

// getOwnerLimits answers an owner's limits to a caller whose keys:read covers it.
func (a *API) getOwnerLimits(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	owner, err := c.pathOwner(authz.PermRead)
	if err != nil {
		return httpapi.Response{}, err
	}
	s, err := a.store.OwnerLimits(ctx, owner)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, ownerLimitsView{Owner: owner, RateLimit: s.RateLimit}), nil
}

// putOwnerLimitsAttempts bounds the retries of a change that raced a use counting
// the owner's window.
const putOwnerLimitsAttempts = 3

// putOwnerLimits sets an owner's limits (a null or absent ratelimit removes them),
// for a caller whose keys:write covers the owner, with an owner.limits_updated event.
func (a *API) putOwnerLimits(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	owner, err := c.pathOwner(authz.PermWrite)
	if err != nil {
		return httpapi.Response{}, err
	}
	var in limits.OwnerLimits
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return httpapi.Response{}, err
	}
	if fe := in.Validate(); fe != nil {
		e := badRequest(fe.Code, "%s %s.", fe.Field, fe.Message)
		e.Field = fe.Field
		return httpapi.Response{}, e
	}
	var shown any // the event's detail: the limit set, or null
	if in.RateLimit != nil {
		shown = map[string]any{"limit": in.RateLimit.Limit, "window_seconds": in.RateLimit.WindowSeconds}
	}
	for attempt := 1; ; attempt++ {
		e := c.event(store.EventOwnerLimitsUpdated, "", owner, map[string]any{"owner": owner, "ratelimit": shown})
		err = a.store.SetOwnerLimits(ctx, owner, in, e)
		if !errors.Is(err, store.ErrConflict) || attempt == putOwnerLimitsAttempts {
			break
		}
	}
	if errors.Is(err, store.ErrConflict) {
		return httpapi.Response{}, httpapi.Errorf(http.StatusConflict, "concurrent_change", "The owner's limits are changing too often to apply this; retry.")
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, ownerLimitsView{Owner: owner, RateLimit: in.RateLimit}), nil
}
