package keysapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/store"
)

func (a *API) get(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	k, err := a.readable(ctx, c, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}

// readable is the key id if the caller may read it; 404 for an unknown key, and the
// read rule's answer for one the caller may not read.
func (a *API) readable(ctx context.Context, c *call, id string) (*store.Key, error) {
	k, err := a.store.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	if err := c.decide(authz.Read, id, k, nil); err != nil {
		return nil, err
	}
	return k, nil
}

var statuses = []string{store.StatusActive, store.StatusRotating, store.StatusExpired, store.StatusRevoked}

// list answers the keys the caller may read: a narrowed caller's listing is read
// from the index by its owner ranges, so it pages like any other.
func (a *API) list(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req, "owner", "status", "limit", "cursor"); err != nil {
		return httpapi.Response{}, err
	}
	q := c.req.QueryStringParameters
	limit, err := queryLimit(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	f := store.KeyFilter{Owner: q["owner"], Status: q["status"], Within: c.readRange(authz.PermRead)}
	if f.Status != "" && !slices.Contains(statuses, f.Status) {
		return httpapi.Response{}, badRequest("invalid_status", "status must be one of active, rotating, expired, revoked.")
	}
	page, err := a.store.ListKeys(ctx, f, limit, q["cursor"], c.now)
	if err != nil {
		return httpapi.Response{}, cursorError(err)
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

// keyEvents answers one key's trail, to a caller whose audit:read covers the key's
// owner: the owner now, or for a deleted key the owner its last event recorded.
func (a *API) keyEvents(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req, "limit", "cursor"); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	limit, err := queryLimit(c.req.QueryStringParameters)
	if err != nil {
		return httpapi.Response{}, err
	}
	owner, err := a.trailOwner(ctx, id)
	if err != nil {
		return httpapi.Response{}, err
	}
	switch {
	case owner != "":
		if err := c.decide(authz.ReadEvents, id, &store.Key{Owner: owner}, nil); err != nil {
			return httpapi.Response{}, err
		}
	case c.readRange(authz.PermAudit) != nil:
		// A trail of no known owner is shown only to callers who may read every owner.
		return httpapi.Response{}, notFound(id)
	}
	// A key that changed owners shows a narrowed reader only its own owners' events.
	page, err := a.store.ListKeyEvents(ctx, id, c.readRange(authz.PermAudit), limit, c.req.QueryStringParameters["cursor"])
	if err != nil {
		return httpapi.Response{}, cursorError(err)
	}
	if len(page.Items) == 0 && c.req.QueryStringParameters["cursor"] == "" {
		// A key that never had an event never existed (a deleted key keeps its trail).
		return httpapi.Response{}, notFound(id)
	}
	return httpapi.JSON(http.StatusOK, eventsPage(page)), nil
}

// trailPages bounds how far back trailOwner looks past owner-less events.
const trailPages = 10

// trailOwner is the owner a key's trail belongs to: the key's, or for a deleted key
// the one its newest event that records an owner recorded ("" when none does).
// Owner-less events (auth.failed, which anyone can cause for any key id) are looked
// past, so they cannot take a deleted key's trail away from its owner's readers.
func (a *API) trailOwner(ctx context.Context, id string) (string, error) {
	k, err := a.store.GetKey(ctx, id)
	if err == nil {
		return k.Owner, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	cursor := ""
	for range trailPages {
		page, err := a.store.ListEvents(ctx, id, maxLimit, cursor)
		if err != nil {
			return "", err
		}
		for _, e := range page.Items {
			if e.Owner != "" {
				return e.Owner, nil
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	return "", nil
}

func (a *API) audit(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req, "limit", "cursor", "type"); err != nil {
		return httpapi.Response{}, err
	}
	q := c.req.QueryStringParameters
	limit, err := queryLimit(q)
	if err != nil {
		return httpapi.Response{}, err
	}
	if t := q["type"]; t != "" && !eventTypePattern.MatchString(t) {
		return httpapi.Response{}, badRequest("invalid_type", "type must be an event type such as key.created.")
	}
	page, err := a.store.ListAudit(ctx, q["type"], c.readRange(authz.PermAudit), limit, q["cursor"], c.now)
	if err != nil {
		return httpapi.Response{}, cursorError(err)
	}
	return httpapi.JSON(http.StatusOK, eventsPage(page)), nil
}
