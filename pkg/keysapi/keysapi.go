package keysapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
)

// Store is what the management API needs from storage. See package store for the
// contract of each method (conditional writes, ErrNotFound, ErrConflict).
type Store interface {
	auth.KeyReader
	// CreateKey writes a new key and its event; the id must be unused.
	CreateKey(ctx context.Context, k *store.Key, e *store.Event) error
	// Apply changes key id as decide says, optimistically (read, decide, write on
	// condition of the version read, again on a lost race): ErrNotFound if there is
	// no key, ErrTooManyConflicts if it kept losing, decide's own error as is.
	Apply(ctx context.Context, id string, decide func(*store.Key) (*store.Event, error)) (*store.Key, error)
	// ApplyDelete deletes key id, as read, if decide allows it, the same way.
	ApplyDelete(ctx context.Context, id string, decide func(*store.Key) (*store.Event, error)) error
	// ListKeys lists keys matching f, paginated by an opaque cursor.
	ListKeys(ctx context.Context, f store.KeyFilter, limit int, after string, now time.Time) (store.Page[*store.Key], error)
	// ListEvents lists one key's events, newest first.
	ListEvents(ctx context.Context, keyID string, limit int, after string) (store.Page[*store.Event], error)
	// ListKeyEvents is ListEvents of the events whose owner is within (nil: all).
	ListKeyEvents(ctx context.Context, keyID string, within *scope.OwnerRange, limit int, after string) (store.Page[*store.Event], error)
	// ListAudit lists every key's events (of owners within, when set), newest first,
	// optionally of one type.
	ListAudit(ctx context.Context, eventType string, within *scope.OwnerRange, limit int, after string, now time.Time) (store.Page[*store.Event], error)
	LimitsStore
}

var _ Store = (*store.Dynamo)(nil)

// Config holds the deployment settings the management API uses.
type Config struct {
	Prefix        string
	DefaultExpiry time.Duration
}

// API serves the management routes.
type API struct {
	store    Store
	verifier *auth.Verifier
	peppers  auth.PepperSource
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// New returns the management API. The verifier's clock is the API's clock.
func New(s Store, v *auth.Verifier, peppers auth.PepperSource, cfg Config, log *slog.Logger) *API {
	return &API{store: s, verifier: v, peppers: peppers, cfg: cfg, log: log, now: v.Now}
}

// Router returns the routes of this API, keyed as template.yaml declares them.
func (a *API) Router() *httpapi.Router {
	r := &httpapi.Router{Log: a.log}
	r.Handle("POST /v1/keys", a.with(authz.Create, a.create))
	r.Handle("GET /v1/keys", a.with(authz.Read, a.list))
	r.Handle("GET /v1/keys/{id}", a.with(authz.Read, a.get))
	r.Handle("PATCH /v1/keys/{id}", a.with(authz.Patch, a.patch))
	r.Handle("DELETE /v1/keys/{id}", a.with(authz.Delete, a.delete))
	r.Handle("POST /v1/keys/{id}/rotate", a.with(authz.Rotate, a.rotate))
	r.Handle("POST /v1/keys/{id}/rotate/finish", a.with(authz.FinishRotation, a.finishRotation))
	r.Handle("POST /v1/keys/{id}/revoke", a.with(authz.Revoke, a.revoke))
	r.Handle("POST /v1/keys/batch-delete", a.with(authz.Delete, a.batchDelete))
	r.Handle("GET /v1/keys/{id}/events", a.with(authz.ReadEvents, a.keyEvents))
	r.Handle("GET /v1/audit", a.with(authz.ReadEvents, a.audit))
	r.Handle("GET /v1/keys/{id}/usage", a.with(authz.Read, a.usage))
	r.Handle("GET /v1/owners/{owner}/limits", a.with(authz.Read, a.getOwnerLimits))
	r.Handle("PUT /v1/owners/{owner}/limits", a.with(authz.Patch, a.putOwnerLimits))
	r.Handle("POST /v1/keys/verify", a.with(authz.Verify, a.verify))
	r.Handle("GET /v1/whoami", a.whoami)
	r.Handle("GET /v1/openapi.json", a.openAPI)
	return r
}

// call is one authenticated request.
type call struct {
	req    *events.APIGatewayV2HTTPRequest
	caller auth.Principal
	who    authz.Caller
	now    time.Time
}

func (c *call) ip() string { return c.req.RequestContext.HTTP.SourceIP }

// event is the audit event of a change to key keyID, whose owner is owner after it.
func (c *call) event(typ, keyID, owner string, detail map[string]any) *store.Event {
	return &store.Event{Time: c.now, Type: typ, KeyID: keyID, Owner: owner, Actor: c.caller.KeyID, IP: c.ip(), Detail: detail}
}

type handler func(ctx context.Context, c *call) (httpapi.Response, error)

// with authenticates the request, checks that the caller may call the route of
// action at all, and records the key's use once the request has succeeded.
func (a *API) with(action authz.Action, h handler) httpapi.Handler {
	return func(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
		p, err := Authenticate(ctx, a.verifier, req.Headers, req.RequestContext.HTTP.SourceIP)
		if err != nil {
			return httpapi.Response{}, err
		}
		c := &call{req: req, caller: p, who: authz.CallerOf(p), now: a.now().UTC().Truncate(time.Second)}
		if !authz.Holds(c.who, action) {
			return httpapi.Response{}, deny(authz.InsufficientScope, "", action)
		}
		resp, err := h(ctx, c)
		if err == nil {
			a.verifier.RecordUse(ctx, p, c.ip())
		}
		return resp, err
	}
}

// Authenticate verifies the credential in headers and maps a refusal to its 401/403/429.
func Authenticate(ctx context.Context, v *auth.Verifier, headers map[string]string, ip string) (auth.Principal, error) {
	d, err := v.Verify(ctx, auth.Credential(headers), ip)
	if err != nil {
		return auth.Principal{}, err
	}
	if d.OK() {
		return d.Principal, nil
	}
	unauthorized := func(code, detail string) error {
		e := httpapi.Errorf(http.StatusUnauthorized, code, "%s", detail)
		e.Header = map[string]string{"WWW-Authenticate": `Bearer realm="keyward"`}
		return e
	}
	switch d.Reason {
	case auth.Missing:
		return auth.Principal{}, unauthorized("missing_credential", "No credential was presented: send Authorization: Bearer <key>.")
	case auth.Expired:
		return auth.Principal{}, unauthorized("expired_credential", "The credential has expired.")
	case auth.Revoked:
		return auth.Principal{}, unauthorized("revoked_credential", "The credential has been revoked.")
	case auth.IPNotAllowed:
		return auth.Principal{}, httpapi.Errorf(http.StatusForbidden, "ip_not_allowed", "The credential may not be used from this address.")
	case auth.TooManyAttempts:
		e := httpapi.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts for this key from this address; retry later.")
		e.Header = map[string]string{"Retry-After": strconv.Itoa(d.RetryAfterSeconds())}
		return auth.Principal{}, e
	case auth.RateLimited, auth.UsageExceeded:
		return auth.Principal{}, overLimits(d)
	}
	return auth.Principal{}, unauthorized("invalid_credential", "The credential is malformed or unknown.")
}

// overLimits is the 429 of a caller's key over its limits: rate_limited with the
// seconds to the window's end, or usage_exceeded with the seconds to the next refill
// (no Retry-After for credits that are never refilled: retrying will not help).
func overLimits(d auth.Decision) error {
	var e *httpapi.Error
	if d.Reason == auth.RateLimited {
		e = httpapi.Errorf(http.StatusTooManyRequests, "rate_limited", "The key's rate limit is reached; retry when the window ends.")
	} else {
		e = httpapi.Errorf(http.StatusTooManyRequests, "usage_exceeded", "The key has no credits left for this request.")
	}
	if d.Reason == auth.RateLimited || d.RetryAfter > 0 {
		e.Header = map[string]string{"Retry-After": strconv.Itoa(d.RetryAfterSeconds())}
	}
	return e
}

func (a *API) pathID(c *call) (string, error) {
	id := c.req.PathParameters["id"]
	if !idPattern.MatchString(id) {
		return "", badRequest("invalid_id", "%q is not a key id.", id)
	}
	return id, nil
}

func notFound(id string) error {
	return httpapi.Errorf(http.StatusNotFound, "key_not_found", "No key %s.", id)
}

// keyError maps the store's refusals of a change to key id to their answers; any
// other error is returned as it is.
func keyError(id string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(id)
	case errors.Is(err, store.ErrRevoked):
		return httpapi.Errorf(http.StatusConflict, "key_revoked", "Key %s is revoked; a revoked key cannot change.", id)
	case errors.Is(err, store.ErrExpired):
		return httpapi.Errorf(http.StatusConflict, "key_expired", "Key %s has expired; extend expires_at before rotating.", id)
	case errors.Is(err, store.ErrTooManyConflicts):
		return httpapi.Errorf(http.StatusConflict, "concurrent_change", "The key is changing too often to apply this; retry.")
	}
	return err
}
