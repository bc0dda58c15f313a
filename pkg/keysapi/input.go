package keysapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/scope"
)

// Limits on key fields. They keep an item far below DynamoDB's 400 KB.
const (
	maxName        = 128
	maxDescription = 1024
	maxOwner       = 256
	maxMetadata    = 4 << 10
	maxCIDRs       = 100
	maxExpiryDays  = 3650
	maxGrace       = 30 * 24 * time.Hour
	defaultGrace   = 24 * time.Hour
	maxBatch       = 100
	defaultLimit   = 50
	maxLimit       = 100
)

func badRequest(code, format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusBadRequest, code, format, args...)
}

func checkName(name string) error {
	if n := utf8.RuneCountInString(name); n < 1 || n > maxName || !utf8.ValidString(name) {
		return badRequest("invalid_name", "name must be 1 to %d characters.", maxName)
	}
	return nil
}

func checkText(field, s string, max int) error {
	if utf8.RuneCountInString(s) > max || !utf8.ValidString(s) {
		return badRequest("invalid_"+field, "%s must be at most %d characters.", field, max)
	}
	return nil
}

// checkOwner: an owner is what a scope names (keys:read@owner:<owner>), so it is
// printable ASCII without spaces or '*', at most maxOwner bytes.
func checkOwner(owner string) error {
	ok := owner != "" && len(owner) <= maxOwner
	for i := 0; ok && i < len(owner); i++ {
		ok = owner[i] > ' ' && owner[i] < 0x7f && owner[i] != '*'
	}
	if !ok {
		return badRequest("invalid_owner", "owner must be 1 to %d printable ASCII characters, without spaces or '*'.", maxOwner)
	}
	return nil
}

// checkQuery refuses a query parameter the route does not take (the first one in
// sorted order), so a typo is never silently ignored.
func checkQuery(req *events.APIGatewayV2HTTPRequest, allowed ...string) error {
	return httpapi.CheckQuery(req, allowed...)
}

func checkScopes(list []string) (scope.Set, error) {
	set, err := scope.ParseList(list)
	if err != nil {
		return nil, badRequest("invalid_scopes", "%s", err.Error())
	}
	return set, nil
}

// maxMetadataDepth keeps metadata within DynamoDB's 32 nesting levels (the key item
// and the metadata map itself take two).
const maxMetadataDepth = 30

func checkMetadata(m map[string]any) error {
	b, _ := json.Marshal(m)
	if len(b) > maxMetadata {
		return badRequest("invalid_metadata", "metadata must be at most %d bytes of JSON.", maxMetadata)
	}
	if !storable(m, 1) {
		return badRequest("invalid_metadata", "metadata must nest at most %d levels and have no empty keys.", maxMetadataDepth)
	}
	return nil
}

// storable reports whether v is within the nesting limit and has no empty map key,
// which DynamoDB cannot store.
func storable(v any, depth int) bool {
	if depth > maxMetadataDepth {
		return false
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if k == "" || !storable(e, depth+1) {
				return false
			}
		}
	case []any:
		for _, e := range t {
			if !storable(e, depth+1) {
				return false
			}
		}
	}
	return true
}

// checkCIDRs validates and canonicalises allowed_cidrs (a bare address is a /32 or /128).
func checkCIDRs(list []string) ([]string, error) {
	if len(list) > maxCIDRs {
		return nil, badRequest("invalid_allowed_cidrs", "at most %d allowed_cidrs.", maxCIDRs)
	}
	out := make([]string, 0, len(list))
	for _, c := range list {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, badRequest("invalid_allowed_cidrs", "%q is not an IPv4 or IPv6 CIDR.", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked().String())
	}
	return out, nil
}

func checkExpiry(t time.Time, now time.Time) (time.Time, error) {
	t = t.UTC().Truncate(time.Second)
	if !t.After(now) {
		return time.Time{}, badRequest("invalid_expires_at", "expires_at must be in the future.")
	}
	if t.After(now.AddDate(0, 0, maxExpiryDays)) {
		return time.Time{}, badRequest("invalid_expires_at", "expires_at must be within %d days.", maxExpiryDays)
	}
	return t, nil
}

var (
	idPattern        = regexp.MustCompile(`^[a-z2-7]{16}$`)
	eventTypePattern = regexp.MustCompile(`^[a-z_]+\.[a-z_]+$`)
)

// queryLimit parses the limit query parameter (1–100, default 50).
func queryLimit(q map[string]string) (int, error) {
	s, ok := q["limit"]
	if !ok {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("invalid_limit", "limit must be an integer from 1 to %d.", maxLimit)
	}
	return n, nil
}

// isNull reports whether a raw JSON value is the literal null.
func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// decodeField decodes one field of a merge patch with the body's own strict rules
// (exact numbers, DynamoDB's number range), naming the field in the error.
func decodeField(name string, raw json.RawMessage, v any) error {
	return httpapi.DecodeField(name, raw, v)
}
