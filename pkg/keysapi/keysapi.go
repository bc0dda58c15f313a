package keysapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
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
	// UpdateKey writes k (Version = stored version + 1) and e, or fails with
	// ErrConflict if the key changed or was revoked since it was read.
	UpdateKey(ctx context.Context, k *store.Key, e *store.Event) error
	// DeleteKey removes a key and records e; ErrNotFound if it does not exist.
	DeleteKey(ctx context.Context, id string, e *store.Event) error
	// ListKeys lists keys matching f, paginated by an opaque cursor.
	ListKeys(ctx context.Context, f store.KeyFilter, limit int, after string, now time.Time) (store.Page[*store.Key], error)
	// ListEvents lists one key's events, newest first.
	ListEvents(ctx context.Context, keyID string, limit int, after string) (store.Page[*store.Event], error)
	// ListAudit lists every key's events, newest first, optionally of one type.
	ListAudit(ctx context.Context, eventType string, limit int, after string, now time.Time) (store.Page[*store.Event], error)
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
	r.Handle("POST /v1/keys", a.with("keys:write", a.create))
	r.Handle("GET /v1/keys", a.with("keys:read", a.list))
	r.Handle("GET /v1/keys/{id}", a.with("keys:read", a.get))
	r.Handle("PATCH /v1/keys/{id}", a.with("keys:write", a.patch))
	r.Handle("DELETE /v1/keys/{id}", a.with("keys:write", a.delete))
	r.Handle("POST /v1/keys/{id}/rotate", a.with("keys:write", a.rotate))
	r.Handle("POST /v1/keys/{id}/rotate/finish", a.with("keys:write", a.finishRotation))
	r.Handle("POST /v1/keys/{id}/revoke", a.with("keys:write", a.revoke))
	r.Handle("POST /v1/keys/batch-delete", a.with("keys:write", a.batchDelete))
	r.Handle("GET /v1/keys/{id}/events", a.with("audit:read", a.keyEvents))
	r.Handle("GET /v1/audit", a.with("audit:read", a.audit))
	r.Handle("GET /v1/whoami", a.whoami)
	r.Handle("GET /v1/openapi.json", a.openAPI)
	return r
}

// call is one authenticated request.
type call struct {
	req    *events.APIGatewayV2HTTPRequest
	caller auth.Principal
	now    time.Time
}

func (c *call) ip() string { return c.req.RequestContext.HTTP.SourceIP }

func (c *call) event(typ, keyID string, detail map[string]any) *store.Event {
	return &store.Event{Time: c.now, Type: typ, KeyID: keyID, Actor: c.caller.KeyID, IP: c.ip(), Detail: detail}
}

type handler func(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error)

// with authenticates the request and checks that the caller holds need.
func (a *API) with(need string, h handler) httpapi.Handler {
	return func(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		p, err := Authenticate(ctx, a.verifier, req.Headers, req.RequestContext.HTTP.SourceIP)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		if !p.Scopes.AllowsString(need) {
			return events.APIGatewayV2HTTPResponse{}, httpapi.Errorf(http.StatusForbidden, "insufficient_scope", "This credential lacks the %s permission.", need)
		}
		a.verifier.RecordUse(ctx, p, req.RequestContext.HTTP.SourceIP)
		return h(ctx, &call{req: req, caller: p, now: a.now().UTC().Truncate(time.Second)})
	}
}

// Authenticate verifies the credential in headers and maps a refusal to its 401/403.
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
		return auth.Principal{}, httpapi.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many failed attempts for this key from this address; retry later.")
	}
	return auth.Principal{}, unauthorized("invalid_credential", "The credential is malformed or unknown.")
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

// createRequest is the body of POST /v1/keys.
type createRequest struct {
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	Owner         string         `json:"owner"`
	Scopes        []string       `json:"scopes"`
	ExpiresAt     *time.Time     `json:"expires_at"`
	ExpiresInDays *int           `json:"expires_in_days"`
	Metadata      map[string]any `json:"metadata"`
	AllowedCIDRs  []string       `json:"allowed_cidrs"`
}

func (a *API) create(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	var in createRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := checkName(in.Name); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if err := checkText("description", in.Description, maxDescription); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if in.Owner == "" {
		in.Owner = c.caller.Owner
	}
	if err := checkText("owner", in.Owner, maxOwner); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	set, err := checkScopes(in.Scopes)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if !c.caller.Scopes.Covers(set) {
		return events.APIGatewayV2HTTPResponse{}, httpapi.Errorf(http.StatusForbidden, "scope_escalation", "A key may only be granted scopes its creator holds.")
	}
	expires := c.now.Add(a.cfg.DefaultExpiry)
	switch {
	case in.ExpiresAt != nil && in.ExpiresInDays != nil:
		return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_expiry", "Give expires_at or expires_in_days, not both.")
	case in.ExpiresAt != nil:
		if expires, err = checkExpiry(*in.ExpiresAt, c.now); err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
	case in.ExpiresInDays != nil:
		if d := *in.ExpiresInDays; d < 1 || d > maxExpiryDays {
			return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_expires_in_days", "expires_in_days must be from 1 to %d.", maxExpiryDays)
		}
		expires = c.now.AddDate(0, 0, *in.ExpiresInDays)
	}
	if in.Metadata == nil {
		in.Metadata = map[string]any{}
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	cidrs, err := checkCIDRs(in.AllowedCIDRs)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	key := apikey.New(a.cfg.Prefix)
	secret, err := auth.HashSecret(ctx, a.peppers, 1, key.Secret)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k := &store.Key{
		ID: key.ID, Name: in.Name, Description: in.Description, Owner: in.Owner,
		Scopes: set.Strings(), Status: store.StatusActive, Start: key.Start(),
		CreatedAt: c.now, UpdatedAt: c.now, CreatedBy: c.caller.KeyID, ExpiresAt: expires,
		Metadata: in.Metadata, AllowedCIDRs: cidrs, Version: 1, Secret: secret,
	}
	ev := c.event(store.EventKeyCreated, k.ID, map[string]any{"version": 1, "name": k.Name, "scopes": k.Scopes, "expires_at": expires})
	if err := a.store.CreateKey(ctx, k, ev); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	v := viewOf(k, c.now)
	v.Secret = key.String()
	resp := httpapi.JSON(http.StatusCreated, v)
	resp.Headers["Location"] = "/v1/keys/" + k.ID
	return resp, nil
}

func (a *API) get(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := a.store.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return events.APIGatewayV2HTTPResponse{}, notFound(id)
	}
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}

var statuses = []string{store.StatusActive, store.StatusRotating, store.StatusExpired, store.StatusRevoked}

func (a *API) list(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	q := c.req.QueryStringParameters
	limit, err := queryLimit(q)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	f := store.KeyFilter{Owner: q["owner"], Status: q["status"]}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_status", "status must be one of active, rotating, expired, revoked.")
	}
	page, err := a.store.ListKeys(ctx, f, limit, q["cursor"], c.now)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, cursorError(err)
	}
	out := pageView[keyView]{Items: make([]keyView, 0, len(page.Items))}
	for _, k := range page.Items {
		out.Items = append(out.Items, viewOf(k, c.now))
	}
	if page.Next != "" {
		out.NextCursor = &page.Next
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func cursorError(err error) error {
	if errors.Is(err, store.ErrBadCursor) {
		return badRequest("invalid_cursor", "The cursor is not one this listing returned.")
	}
	return err
}

// maxAttempts bounds the read-decide-write loop. Each lost race means another
// change landed, so the loop always makes global progress; the bound only stops
// a pathological storm from holding a Lambda to its timeout.
const maxAttempts = 40

// change is one decision about a key: it edits k in place and returns the event to
// record, or nil when there is nothing to change (an idempotent repeat).
type change func(k *store.Key) (*store.Event, error)

// apply runs the optimistic loop: read, decide, write with `version = read`, repeat
// on a lost race. It returns the key as written (or as read, when nothing changed).
func (a *API) apply(ctx context.Context, c *call, id string, decide change) (*store.Key, error) {
	for attempt := 0; ; attempt++ {
		k, err := a.store.GetKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, notFound(id)
		}
		if err != nil {
			return nil, err
		}
		ev, err := decide(k)
		if err != nil || ev == nil {
			return k, err
		}
		k.Version++
		k.UpdatedAt = c.now
		ev.Detail["version"] = k.Version
		err = a.store.UpdateKey(ctx, k, ev)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if attempt+1 >= maxAttempts {
			return nil, httpapi.Errorf(http.StatusConflict, "concurrent_change", "The key is changing too often to apply this; retry.")
		}
		// Jittered backoff: the writers that lost this round spread out for the next.
		time.Sleep(time.Duration(1+rand.IntN(5*(attempt+1))) * time.Millisecond)
	}
}

func refuseRevoked(k *store.Key) error {
	if k.Status == store.StatusRevoked {
		return httpapi.Errorf(http.StatusConflict, "key_revoked", "Key %s is revoked; a revoked key cannot change.", k.ID)
	}
	return nil
}

func (a *API) patch(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var fields map[string]json.RawMessage
	if err := httpapi.DecodeJSON(c.req, &fields, false); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if fields == nil {
		return events.APIGatewayV2HTTPResponse{}, badRequest("malformed_json", "A merge-patch body must be a JSON object.")
	}
	edit, err := a.parsePatch(fields, c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := a.apply(ctx, c, id, func(k *store.Key) (*store.Event, error) {
		if err := refuseRevoked(k); err != nil {
			return nil, err
		}
		changed, err := edit(k)
		if err != nil || len(changed) == 0 {
			return nil, err
		}
		return c.event(store.EventKeyUpdated, k.ID, map[string]any{"fields": changed}), nil
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}

// parsePatch validates a merge patch completely before anything is read or written,
// and returns the edit to apply to the key as read; the edit returns the fields it changed.
func (a *API) parsePatch(fields map[string]json.RawMessage, c *call) (func(*store.Key) ([]string, error), error) {
	var edits []func(*store.Key) bool
	var names []string
	add := func(name string, f func(*store.Key) bool) { names = append(names, name); edits = append(edits, f) }
	required := func(name string) error {
		if isNull(fields[name]) {
			return badRequest("invalid_"+name, "%s cannot be null.", name)
		}
		return nil
	}
	for name, raw := range fields {
		switch name {
		case "name":
			var s string
			if err := required(name); err != nil {
				return nil, err
			}
			if err := decodeField(name, raw, &s); err != nil {
				return nil, err
			}
			if err := checkName(s); err != nil {
				return nil, err
			}
			add(name, func(k *store.Key) bool { old := k.Name; k.Name = s; return old != s })
		case "description", "owner":
			var s string
			if !isNull(raw) {
				if err := decodeField(name, raw, &s); err != nil {
					return nil, err
				}
			}
			if name == "owner" {
				if s == "" {
					return nil, badRequest("invalid_owner", "owner cannot be empty.")
				}
				if err := checkText(name, s, maxOwner); err != nil {
					return nil, err
				}
				add(name, func(k *store.Key) bool { old := k.Owner; k.Owner = s; return old != s })
				continue
			}
			if err := checkText(name, s, maxDescription); err != nil {
				return nil, err
			}
			add(name, func(k *store.Key) bool { old := k.Description; k.Description = s; return old != s })
		case "scopes":
			var list []string
			if err := required(name); err != nil {
				return nil, err
			}
			if err := decodeField(name, raw, &list); err != nil {
				return nil, err
			}
			set, err := checkScopes(list)
			if err != nil {
				return nil, err
			}
			if !c.caller.Scopes.Covers(set) {
				return nil, httpapi.Errorf(http.StatusForbidden, "scope_escalation", "A key may only be granted scopes its editor holds.")
			}
			add(name, func(k *store.Key) bool {
				old := k.Scopes
				k.Scopes = set.Strings()
				return !slices.Equal(old, k.Scopes)
			})
		case "expires_at":
			var t time.Time
			if err := required(name); err != nil {
				return nil, err
			}
			if err := decodeField(name, raw, &t); err != nil {
				return nil, err
			}
			t, err := checkExpiry(t, c.now)
			if err != nil {
				return nil, err
			}
			add(name, func(k *store.Key) bool {
				old := k.ExpiresAt
				k.ExpiresAt = t
				if k.Status == store.StatusExpired {
					// Extending an expired key brings it back: expiry is a date, not a verdict.
					k.Status = store.StatusActive
				}
				return !old.Equal(t)
			})
		case "metadata":
			var m map[string]any
			if !isNull(raw) {
				if err := decodeField(name, raw, &m); err != nil {
					return nil, err
				}
			}
			null := isNull(raw)
			add(name, func(k *store.Key) bool {
				next := map[string]any{}
				if !null {
					next = mergePatch(k.Metadata, m)
				}
				old, _ := json.Marshal(k.Metadata)
				k.Metadata = next
				now, _ := json.Marshal(next)
				return string(old) != string(now)
			})
		case "allowed_cidrs":
			var list []string
			if !isNull(raw) {
				if err := decodeField(name, raw, &list); err != nil {
					return nil, err
				}
			}
			cidrs, err := checkCIDRs(list)
			if err != nil {
				return nil, err
			}
			add(name, func(k *store.Key) bool {
				old := k.AllowedCIDRs
				k.AllowedCIDRs = cidrs
				return !slices.Equal(old, cidrs)
			})
		default:
			return nil, badRequest("unknown_field", "Field %q cannot be patched.", name)
		}
	}
	return func(k *store.Key) ([]string, error) {
		var changed []string
		for i, e := range edits {
			if e(k) {
				changed = append(changed, names[i])
			}
		}
		// The merged metadata is only known here, against the key as read.
		if slices.Contains(changed, "metadata") {
			if err := checkMetadata(k.Metadata); err != nil {
				return nil, err
			}
		}
		slices.Sort(changed)
		return changed, nil
	}, nil
}

type rotateRequest struct {
	GraceSeconds *int64 `json:"grace_seconds"`
}

func (a *API) rotate(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	var in rotateRequest
	if err := httpapi.DecodeJSON(c.req, &in, true); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	grace := defaultGrace
	if in.GraceSeconds != nil {
		if g := *in.GraceSeconds; g < 0 || time.Duration(g)*time.Second > maxGrace {
			return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_grace_seconds", "grace_seconds must be from 0 to %d.", int64(maxGrace/time.Second))
		}
		grace = time.Duration(*in.GraceSeconds) * time.Second
	}
	var fresh apikey.Key
	k, err := a.apply(ctx, c, id, func(k *store.Key) (*store.Event, error) {
		if err := refuseRevoked(k); err != nil {
			return nil, err
		}
		// A rotation hands the caller a working secret of the key: it may only rotate a
		// key whose scopes its own cover, exactly as it may only create one.
		if !c.caller.Scopes.Covers(scope.MustParseList(k.Scopes)) {
			return nil, httpapi.Errorf(http.StatusForbidden, "scope_escalation", "A key may only be rotated by a caller holding all of its scopes.")
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
		return c.event(store.EventKeyRotated, k.ID, detail), nil
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
		return c.event(store.EventKeyRotationFinished, k.ID, map[string]any{"dropped_secret_version": n, "by": "request"}), nil
	})
}

func (a *API) revoke(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	return a.simpleChange(ctx, c, func(k *store.Key) (*store.Event, error) {
		if k.Status == store.StatusRevoked {
			return nil, nil // idempotent: already revoked, nothing to write
		}
		k.Status = store.StatusRevoked
		k.Previous = nil
		return c.event(store.EventKeyRevoked, k.ID, map[string]any{}), nil
	})
}

func (a *API) simpleChange(ctx context.Context, c *call, decide change) (events.APIGatewayV2HTTPResponse, error) {
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

func (a *API) delete(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	err = a.store.DeleteKey(ctx, id, c.event(store.EventKeyDeleted, id, map[string]any{}))
	if errors.Is(err, store.ErrNotFound) {
		return events.APIGatewayV2HTTPResponse{}, notFound(id)
	}
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent, Headers: map[string]string{"Cache-Control": "no-store"}}, nil
}

type batchDeleteRequest struct {
	IDs []string `json:"ids"`
}

type batchDeleteResponse struct {
	Deleted  []string `json:"deleted"`
	NotFound []string `json:"not_found"`
}

// batchWorkers bounds concurrent deletes so a batch of 100 stays far below the
// table's throughput and the Lambda's connection pool.
const batchWorkers = 8

func (a *API) batchDelete(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	var in batchDeleteRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if len(in.IDs) == 0 || len(in.IDs) > maxBatch {
		return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_ids", "ids must hold 1 to %d key ids.", maxBatch)
	}
	for _, id := range in.IDs {
		if !idPattern.MatchString(id) {
			return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_ids", "%q is not a key id.", id)
		}
	}
	slices.Sort(in.IDs)
	ids := slices.Compact(in.IDs)
	found := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, batchWorkers)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			found[i] = a.store.DeleteKey(ctx, id, c.event(store.EventKeyDeleted, id, map[string]any{"batch": true}))
		}()
	}
	wg.Wait()
	out := batchDeleteResponse{Deleted: []string{}, NotFound: []string{}}
	for i, err := range found {
		switch {
		case err == nil:
			out.Deleted = append(out.Deleted, ids[i])
		case errors.Is(err, store.ErrNotFound):
			out.NotFound = append(out.NotFound, ids[i])
		default:
			// Deletes are idempotent: the caller retries the whole batch safely.
			return events.APIGatewayV2HTTPResponse{}, err
		}
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a *API) keyEvents(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	id, err := a.pathID(c)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	limit, err := queryLimit(c.req.QueryStringParameters)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	page, err := a.store.ListEvents(ctx, id, limit, c.req.QueryStringParameters["cursor"])
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, cursorError(err)
	}
	if len(page.Items) == 0 && c.req.QueryStringParameters["cursor"] == "" {
		// No events at all: the key never existed (a deleted key keeps its trail).
		return events.APIGatewayV2HTTPResponse{}, notFound(id)
	}
	return httpapi.JSON(http.StatusOK, eventsPage(page)), nil
}

func (a *API) audit(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	q := c.req.QueryStringParameters
	limit, err := queryLimit(q)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	if t := q["type"]; t != "" && !eventTypePattern.MatchString(t) {
		return events.APIGatewayV2HTTPResponse{}, badRequest("invalid_type", "type must be an event type such as key.created.")
	}
	page, err := a.store.ListAudit(ctx, q["type"], limit, q["cursor"], c.now)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, cursorError(err)
	}
	return httpapi.JSON(http.StatusOK, eventsPage(page)), nil
}
