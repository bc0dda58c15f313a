package keysapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/store"
)

// patchField parses one field of a merge patch into its part of the store.Patch.
type patchField struct {
	name  string
	parse func(raw json.RawMessage, now time.Time, p *store.Patch) error
}

// patchFields are the fields PATCH accepts, in the fixed order they are checked, so
// the same bad body always gets the same error.
var patchFields = []patchField{
	{"name", parseName},
	{"description", parseDescription},
	{"owner", parseOwner},
	{"scopes", parseScopes},
	{"expires_at", parseExpiresAt},
	{"metadata", parseMetadata},
	{"allowed_cidrs", parseCIDRs},
	{"ratelimit", parseRateLimit},
	{"remaining", parseRemaining},
	{"refill", parseRefill},
}

func (a *API) patch(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	id, err := a.pathID(c)
	if err != nil {
		return httpapi.Response{}, err
	}
	var fields map[string]json.RawMessage
	if err := httpapi.DecodeJSON(c.req, &fields, false); err != nil {
		return httpapi.Response{}, err
	}
	if fields == nil {
		return httpapi.Response{}, badRequest("malformed_json", "A merge-patch body must be a JSON object.")
	}
	p, err := parsePatch(fields, c.now)
	if err != nil {
		return httpapi.Response{}, err
	}
	k, err := a.store.Apply(ctx, id, func(k *store.Key) (*store.Event, error) {
		// The key as it is decides first (404 before 409 before 403), then as it would be.
		before := *k
		if err := c.decide(authz.Patch, id, &before, &before); err != nil {
			return nil, err
		}
		changed, err := k.ApplyPatch(p)
		if err != nil {
			return nil, err
		}
		if err := checkPatched(k, p, changed, c.now); err != nil {
			return nil, err
		}
		if err := c.decide(authz.Patch, id, &before, k); err != nil || len(changed) == 0 {
			return nil, err
		}
		return c.event(store.EventKeyUpdated, k.ID, k.Owner, map[string]any{"fields": changed}), nil
	})
	if err != nil {
		return httpapi.Response{}, keyError(id, err)
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}

// checkPatched validates what only the key as read makes known: the merged metadata,
// and the limits as they will be stored.
func checkPatched(k *store.Key, p store.Patch, changed []string, now time.Time) error {
	if slices.Contains(changed, "metadata") {
		if err := checkMetadata(k.Metadata); err != nil {
			return err
		}
	}
	if k.LimitsSet {
		return checkLimits(k, p.Remaining != nil || p.Refill != nil, now)
	}
	return nil
}

// parsePatch validates a merge patch completely, before anything is read or written:
// an unknown field first (the first in sorted order), then each field in the order of
// patchFields.
func parsePatch(fields map[string]json.RawMessage, now time.Time) (store.Patch, error) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.ContainsFunc(patchFields, func(f patchField) bool { return f.name == name }) {
			return store.Patch{}, badRequest("unknown_field", "Field %q cannot be patched.", name)
		}
	}
	var p store.Patch
	for _, f := range patchFields {
		raw, ok := fields[f.name]
		if !ok {
			continue
		}
		if err := f.parse(raw, now, &p); err != nil {
			return store.Patch{}, err
		}
	}
	return p, nil
}

func notNull(name string, raw json.RawMessage) error {
	if isNull(raw) {
		return badRequest("invalid_"+name, "%s cannot be null.", name)
	}
	return nil
}

// parseText decodes a string field; null is an error unless nullable (then "").
func parseText(name string, raw json.RawMessage, nullable bool) (string, error) {
	var s string
	if isNull(raw) {
		if !nullable {
			return "", notNull(name, raw)
		}
		return "", nil
	}
	err := decodeField(name, raw, &s)
	return s, err
}

func parseName(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	s, err := parseText("name", raw, false)
	if err != nil {
		return err
	}
	if err := checkName(s); err != nil {
		return err
	}
	p.Name = &s
	return nil
}

func parseDescription(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	s, err := parseText("description", raw, true) // null clears it
	if err != nil {
		return err
	}
	if err := checkText("description", s, maxDescription); err != nil {
		return err
	}
	p.Description = &s
	return nil
}

func parseOwner(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	s, err := parseText("owner", raw, false)
	if err != nil {
		return err
	}
	if err := checkOwner(s); err != nil {
		return err
	}
	p.Owner = &s
	return nil
}

func parseScopes(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	var list []string
	if err := notNull("scopes", raw); err != nil {
		return err
	}
	if err := decodeField("scopes", raw, &list); err != nil {
		return err
	}
	set, err := checkScopes(list)
	if err != nil {
		return err
	}
	scopes := set.Strings()
	p.Scopes = &scopes
	return nil
}

func parseExpiresAt(raw json.RawMessage, now time.Time, p *store.Patch) error {
	var t time.Time
	if err := notNull("expires_at", raw); err != nil {
		return err
	}
	if err := decodeField("expires_at", raw, &t); err != nil {
		return err
	}
	t, err := checkExpiry(t, now)
	if err != nil {
		return err
	}
	p.ExpiresAt = &t
	return nil
}

func parseMetadata(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	var m map[string]any // null clears it
	if !isNull(raw) {
		if err := decodeField("metadata", raw, &m); err != nil {
			return err
		}
		if m == nil {
			m = map[string]any{} // {} merges nothing; only null clears
		}
	}
	p.Metadata = &m
	return nil
}

func parseCIDRs(raw json.RawMessage, _ time.Time, p *store.Patch) error {
	var list []string // null clears them
	if !isNull(raw) {
		if err := decodeField("allowed_cidrs", raw, &list); err != nil {
			return err
		}
	}
	cidrs, err := checkCIDRs(list)
	if err != nil {
		return err
	}
	p.AllowedCIDRs = &cidrs
	return nil
}

// parseNullable decodes a limit field; null gives a pointer to nil (clear the limit).
func parseNullable[T any](name string, raw json.RawMessage) (**T, error) {
	var v *T
	if !isNull(raw) {
		v = new(T)
		if err := decodeField(name, raw, v); err != nil {
			return nil, err
		}
	}
	return &v, nil
}

func parseRateLimit(raw json.RawMessage, _ time.Time, p *store.Patch) (err error) {
	p.RateLimit, err = parseNullable[limits.RateLimit]("ratelimit", raw)
	return err
}

func parseRemaining(raw json.RawMessage, _ time.Time, p *store.Patch) (err error) {
	p.Remaining, err = parseNullable[int64]("remaining", raw)
	return err
}

func parseRefill(raw json.RawMessage, _ time.Time, p *store.Patch) (err error) {
	p.Refill, err = parseNullable[limits.Refill]("refill", raw)
	return err
}
