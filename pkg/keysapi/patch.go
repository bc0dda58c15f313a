package keysapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/store"
)

// edit applies one validated field of a merge patch to a key and reports whether it
// changed anything.
type edit func(k *store.Key) bool

// patchField parses one field of a merge patch into its edit.
type patchField struct {
	name  string
	parse func(raw json.RawMessage, now time.Time) (edit, error)
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
}

func (a *API) patch(ctx context.Context, c *call) (events.APIGatewayV2HTTPResponse, error) {
	if err := checkQuery(c.req); err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
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
	edits, err := parsePatch(fields, c.now)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	k, err := a.apply(ctx, c, id, func(k *store.Key) (*store.Event, error) {
		// The key as it is decides first (404 before 409 before 403), then as it would be.
		before := *k
		if err := c.decide(authz.Patch, id, &before, &before); err != nil {
			return nil, err
		}
		if err := refuseRevoked(k); err != nil {
			return nil, err
		}
		changed, err := applyPatch(k, edits)
		if err != nil {
			return nil, err
		}
		if err := c.decide(authz.Patch, id, &before, k); err != nil || len(changed) == 0 {
			return nil, err
		}
		return c.event(store.EventKeyUpdated, k.ID, k.Owner, map[string]any{"fields": changed}), nil
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return httpapi.JSON(http.StatusOK, viewOf(k, c.now)), nil
}

// parsePatch validates a merge patch completely, before anything is read or written:
// an unknown field first (the first in sorted order), then each field in the order of
// patchFields.
func parsePatch(fields map[string]json.RawMessage, now time.Time) ([]namedEdit, error) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !slices.ContainsFunc(patchFields, func(f patchField) bool { return f.name == name }) {
			return nil, badRequest("unknown_field", "Field %q cannot be patched.", name)
		}
	}
	var edits []namedEdit
	for _, f := range patchFields {
		raw, ok := fields[f.name]
		if !ok {
			continue
		}
		e, err := f.parse(raw, now)
		if err != nil {
			return nil, err
		}
		edits = append(edits, namedEdit{f.name, e})
	}
	return edits, nil
}

type namedEdit struct {
	name string
	edit edit
}

// applyPatch applies the edits to k and returns the fields that changed, sorted.
func applyPatch(k *store.Key, edits []namedEdit) ([]string, error) {
	var changed []string
	for _, e := range edits {
		if e.edit(k) {
			changed = append(changed, e.name)
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
}

func notNull(name string, raw json.RawMessage) error {
	if isNull(raw) {
		return badRequest("invalid_"+name, "%s cannot be null.", name)
	}
	return nil
}

func parseName(raw json.RawMessage, _ time.Time) (edit, error) {
	var s string
	if err := notNull("name", raw); err != nil {
		return nil, err
	}
	if err := decodeField("name", raw, &s); err != nil {
		return nil, err
	}
	if err := checkName(s); err != nil {
		return nil, err
	}
	return func(k *store.Key) bool { old := k.Name; k.Name = s; return old != s }, nil
}

func parseDescription(raw json.RawMessage, _ time.Time) (edit, error) {
	var s string // null clears it
	if !isNull(raw) {
		if err := decodeField("description", raw, &s); err != nil {
			return nil, err
		}
	}
	if err := checkText("description", s, maxDescription); err != nil {
		return nil, err
	}
	return func(k *store.Key) bool { old := k.Description; k.Description = s; return old != s }, nil
}

func parseOwner(raw json.RawMessage, _ time.Time) (edit, error) {
	var s string
	if err := notNull("owner", raw); err != nil {
		return nil, err
	}
	if err := decodeField("owner", raw, &s); err != nil {
		return nil, err
	}
	if err := checkOwner(s); err != nil {
		return nil, err
	}
	return func(k *store.Key) bool { old := k.Owner; k.Owner = s; return old != s }, nil
}

func parseScopes(raw json.RawMessage, _ time.Time) (edit, error) {
	var list []string
	if err := notNull("scopes", raw); err != nil {
		return nil, err
	}
	if err := decodeField("scopes", raw, &list); err != nil {
		return nil, err
	}
	set, err := checkScopes(list)
	if err != nil {
		return nil, err
	}
	return func(k *store.Key) bool {
		old := k.Scopes
		k.Scopes = set.Strings()
		return !slices.Equal(old, k.Scopes)
	}, nil
}

func parseExpiresAt(raw json.RawMessage, now time.Time) (edit, error) {
	var t time.Time
	if err := notNull("expires_at", raw); err != nil {
		return nil, err
	}
	if err := decodeField("expires_at", raw, &t); err != nil {
		return nil, err
	}
	t, err := checkExpiry(t, now)
	if err != nil {
		return nil, err
	}
	return func(k *store.Key) bool {
		old := k.ExpiresAt
		k.ExpiresAt = t
		if k.Status == store.StatusExpired {
			// Extending an expired key brings it back: expiry is a date, not a verdict.
			k.Status = store.StatusActive
		}
		return !old.Equal(t)
	}, nil
}

func parseMetadata(raw json.RawMessage, _ time.Time) (edit, error) {
	var m map[string]any // null clears it
	null := isNull(raw)
	if !null {
		if err := decodeField("metadata", raw, &m); err != nil {
			return nil, err
		}
	}
	return func(k *store.Key) bool {
		next := map[string]any{}
		if !null {
			next = mergePatch(k.Metadata, m)
		}
		old, _ := json.Marshal(k.Metadata)
		k.Metadata = next
		now, _ := json.Marshal(next)
		return string(old) != string(now)
	}, nil
}

func parseCIDRs(raw json.RawMessage, _ time.Time) (edit, error) {
	var list []string // null clears them
	if !isNull(raw) {
		if err := decodeField("allowed_cidrs", raw, &list); err != nil {
			return nil, err
		}
	}
	cidrs, err := checkCIDRs(list)
	if err != nil {
		return nil, err
	}
	return func(k *store.Key) bool {
		old := k.AllowedCIDRs
		k.AllowedCIDRs = cidrs
		return !slices.Equal(old, cidrs)
	}, nil
}
