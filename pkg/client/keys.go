package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// CreateKey creates a key (keys:write). It is sent once and never retried: a lost
// answer would otherwise leave a second key, whose secret nobody has.
func (c *Client) CreateKey(ctx context.Context, in KeyCreate) (*KeyWithSecret, error) {
	var out KeyWithSecret
	err := c.do(ctx, call{method: http.MethodPost, path: "/v1/keys", json: in, retry: once, want: http.StatusCreated, out: &out})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ListKeys reads one page of keys (keys:read).
func (c *Client) ListKeys(ctx context.Context, p ListKeys) (*KeyPage, error) {
	q := url.Values{}
	set(q, "owner", p.Owner)
	set(q, "status", p.Status)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out KeyPage
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/keys", query: q, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Keys yields every key from p.Cursor on, page by page; it stops at the first error,
// which it yields.
func (c *Client) Keys(ctx context.Context, p ListKeys) iter.Seq2[Key, error] {
	return pages(func(cursor string) (*KeyPage, error) {
		p.Cursor = cursor
		return c.ListKeys(ctx, p)
	}, p.Cursor)
}

// GetKey reads a key (keys:read covering its owner; else 404).
func (c *Client) GetKey(ctx context.Context, id string) (*Key, error) {
	var out Key
	if err := c.do(ctx, call{method: http.MethodGet, path: keyPath(id), retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateKey changes a key with a merge patch (keys:write).
func (c *Client) UpdateKey(ctx context.Context, id string, in KeyPatch) (*Key, error) {
	var out Key
	if err := c.do(ctx, call{method: http.MethodPatch, path: keyPath(id), json: in, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateKey issues a new secret (keys:write). It is sent once and never retried: a
// second rotation would drop the secret still in grace.
func (c *Client) RotateKey(ctx context.Context, id string, in Rotate) (*KeyWithSecret, error) {
	var out KeyWithSecret
	if err := c.do(ctx, call{method: http.MethodPost, path: keyPath(id) + "/rotate", json: in, retry: once, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// FinishRotation ends a rotation now (keys:write): the previous secret is invalid.
func (c *Client) FinishRotation(ctx context.Context, id string) (*Key, error) {
	var out Key
	if err := c.do(ctx, call{method: http.MethodPost, path: keyPath(id) + "/rotate/finish", retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeKey revokes a key (keys:write or keys:revoke); irreversible and idempotent.
func (c *Client) RevokeKey(ctx context.Context, id string) (*Key, error) {
	var out Key
	if err := c.do(ctx, call{method: http.MethodPost, path: keyPath(id) + "/revoke", retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteKey deletes a key (keys:write); its audit trail stays.
func (c *Client) DeleteKey(ctx context.Context, id string) error {
	return c.do(ctx, call{method: http.MethodDelete, path: keyPath(id), retry: repeatable, want: http.StatusNoContent})
}

// BatchDelete deletes up to MaxBatchDelete keys (keys:write).
func (c *Client) BatchDelete(ctx context.Context, ids []string) (*BatchDeleteResult, error) {
	var out BatchDeleteResult
	body := struct {
		IDs []string `json:"ids"`
	}{ids}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/keys/batch-delete", json: body, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// KeyEvents reads one page of a key's events, newest first (audit:read).
func (c *Client) KeyEvents(ctx context.Context, id string, p ListEvents) (*EventPage, error) {
	q := url.Values{}
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out EventPage
	if err := c.do(ctx, call{method: http.MethodGet, path: keyPath(id) + "/events", query: q, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Audit reads one page of the audit log, newest first (audit:read).
func (c *Client) Audit(ctx context.Context, p ListEvents) (*EventPage, error) {
	q := url.Values{}
	set(q, "type", p.Type)
	setInt(q, "limit", p.Limit)
	set(q, "cursor", p.Cursor)
	var out EventPage
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/audit", query: q, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// AllEvents yields every event of a page function from cursor on, page by page.
func AllEvents(next func(cursor string) (*EventPage, error), cursor string) iter.Seq2[Event, error] {
	return pages(next, cursor)
}

// Whoami reads the caller's identity through the Lambda authorizer.
func (c *Client) Whoami(ctx context.Context) (*Whoami, error) {
	var out Whoami
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v1/whoami", retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

func pages[T any](next func(cursor string) (*Page[T], error), cursor string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			p, err := next(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == nil || *p.NextCursor == "" {
				return
			}
			cursor = *p.NextCursor
		}
	}
}

func keyPath(id string) string { return "/v1/keys/" + url.PathEscape(id) }

func set(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func setInt(q url.Values, k string, v int) {
	if v != 0 {
		q.Set(k, strconv.Itoa(v))
	}
}

// VerifyKey verifies an API key and counts one use (or in.Cost) of it (keys:verify
// covering its owner). An invalid key is a result (Valid false, with its Code), not
// an error. It is never retried: each call is a use.
func (c *Client) VerifyKey(ctx context.Context, in VerifyRequest) (*Verification, error) {
	var out Verification
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/keys/verify", json: in, retry: once, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}
