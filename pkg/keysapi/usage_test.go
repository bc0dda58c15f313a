package keysapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/keyward/keyward/pkg/client"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/meter"
	"github.com/keyward/keyward/pkg/store"
)

// rawQuery sets the request's query string, raw and decoded, as API Gateway does.
func rawQuery(q string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		r.RawQueryString = q
		r.QueryStringParameters = map[string]string{}
		v, _ := url.ParseQuery(q)
		for k := range v {
			r.QueryStringParameters[k] = v.Get(k)
		}
	}
}

// owner sets the {owner} of an owners route, percent-encoded in the raw path.
func owner(o string) opt {
	return func(r *events.APIGatewayV2HTTPRequest) {
		r.PathParameters = map[string]string{"owner": o}
		r.RawPath = "/v1/owners/" + url.PathEscape(o) + "/limits"
	}
}

func decodeUsage(t *testing.T, r response) client.Usage {
	t.Helper()
	var u client.Usage
	if err := json.Unmarshal([]byte(r.raw), &u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestKeyUsage: the counts two instances wrote for a key are summed per day, oldest
// day first, zero days included; bad days and unknown parameters are 400s naming the
// field; an unknown key, and a key the caller may not read, are 404s.
func TestKeyUsage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	kid, _ := h.createKey(map[string]any{"owner": "team-b"})
	now := h.clock.Now()
	a, b := meter.New(h.deps.Store, nil, h.deps.Log), meter.New(h.deps.Store, nil, h.deps.Log)
	for i := range 5 {
		a.ObserveUse(ctx, kid, "team-b", limits.CodeValid, now)
		b.ObserveUse(ctx, kid, "team-b", limits.CodeValid, now)
		if i < 2 {
			b.ObserveUse(ctx, kid, "team-b", limits.CodeRateLimited, now.AddDate(0, 0, -2))
		}
	}
	for _, m := range []*meter.Meter{a, b} {
		if err := m.FlushAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u := decodeUsage(t, h.call("keys-usage", id(kid), rawQuery("days=3")).must(t, 200))
	if u.KeyID != kid || len(u.Days) != 3 {
		t.Fatalf("usage %+v", u)
	}
	day := func(back int) string { return now.UTC().AddDate(0, 0, -back).Format(time.DateOnly) }
	want := []string{day(2) + " 0 map[RATE_LIMITED:2]", day(1) + " 0 map[]", day(0) + " 10 map[]"}
	for i, d := range u.Days {
		if got := d.Day + " " + itoa(d.Accepted) + " " + fmtMap(d.Refused); got != want[i] || d.Refused == nil {
			t.Errorf("day %d = %s, want %s", i, got, want[i])
		}
	}
	if u := decodeUsage(t, h.call("keys-usage", id(kid), rawQuery("")).must(t, 200)); len(u.Days) != 30 || u.Days[29].Day != day(0) || u.Days[29].Accepted != 10 {
		t.Errorf("default range: %d days, last %+v", len(u.Days), u.Days[len(u.Days)-1])
	}
	for _, q := range []struct{ query, code, field string }{
		{"days=0", "invalid_days", "days"},
		{"days=91", "invalid_days", "days"},
		{"days=abc", "invalid_days", "days"},
		{"days=+3", "invalid_days", "days"},
		{"day=3", "unknown_parameter", "day"},
	} {
		h.refused(t, 400, q.code, func() response {
			r := h.call("keys-usage", id(kid), rawQuery(q.query))
			if r.str("field") != q.field {
				t.Errorf("%s: field %q, want %q", q.query, r.str("field"), q.field)
			}
			return r
		})
	}
	h.refused(t, 404, "key_not_found", func() response { return h.call("keys-usage", id("aaaaaaaaaaaaaaaa")) })
	// A reader narrowed to team-a does not learn of team-b's key, nor of its use.
	_, reader := h.createKey(map[string]any{"owner": "team-a", "scopes": []string{"keys:read@owner:team-a"}})
	h.refused(t, 404, "key_not_found", func() response { return h.call("keys-usage", id(kid), cred(reader), rawQuery("days=3")) })
	own, _ := h.createKey(map[string]any{"owner": "team-a"})
	if u := decodeUsage(t, h.call("keys-usage", id(own), cred(reader), rawQuery("days=1")).must(t, 200)); len(u.Days) != 1 || u.Days[0].Accepted != 0 {
		t.Errorf("own key's usage %+v", u)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func fmtMap(m map[string]int64) string {
	var parts []string
	for _, code := range []string{limits.CodeRateLimited, limits.CodeUsageExceeded} {
		if n, ok := m[code]; ok {
			parts = append(parts, code+":"+itoa(n))
		}
	}
	if len(parts) != len(m) {
		return "unexpected codes"
	}
	return "map[" + strings.Join(parts, " ") + "]"
}

// TestOwnerLimits: an owner with a slash in its name gets, shows and loses a limit,
// with an owner.limits_updated event per change in the audit log; bad bodies are
// 400s that change nothing; a caller narrowed to team-a can neither raise nor read
// team-b's limit, nor can a key without keys:write set its own owner's.
func TestOwnerLimits(t *testing.T) {
	h := newHarness(t)
	const o = "team-a/billing@example.com"
	if r := h.call("owners-limits-get", owner(o)).must(t, 200); r.str("owner") != o || r.body["ratelimit"] != nil {
		t.Fatalf("limits of an owner without any: %s", r.raw)
	}
	r := h.call("owners-limits-put", owner(o), body(`{"ratelimit": {"limit": 100, "window_seconds": 60}}`)).must(t, 200)
	if b, _ := json.Marshal(r.body); string(b) != `{"owner":"team-a/billing@example.com","ratelimit":{"limit":100,"window_seconds":60}}` {
		t.Errorf("put answered %s", b)
	}
	if r := h.call("owners-limits-get", owner(o)).must(t, 200); r.raw != `{"owner":"team-a/billing@example.com","ratelimit":{"limit":100,"window_seconds":60}}` {
		t.Errorf("get answered %s", r.raw)
	}
	if s, err := h.deps.Store.OwnerLimits(context.Background(), o); err != nil || s.RateLimit == nil || s.RateLimit.Limit != 100 {
		t.Fatalf("stored %+v, %v", s, err)
	}
	for _, c := range []struct{ body, code, field string }{
		{`{"ratelimit": {"limit": 0, "window_seconds": 60}}`, limits.CodeInvalidRateLimit, "ratelimit.limit"},
		{`{"ratelimit": {"limit": 10, "window_seconds": 86401}}`, limits.CodeInvalidRateLimit, "ratelimit.window_seconds"},
		{`{"ratelimit": {"limit": 10, "window_seconds": 60, "burst": 3}}`, "unknown_field", "ratelimit.burst"},
		{`{"ratelimit": 5}`, "invalid_type", "ratelimit"},
		{`{"ratelimit": null, "ratelimit": null}`, "duplicate_field", "ratelimit"},
		{``, "malformed_json", ""},
	} {
		h.refused(t, 400, c.code, func() response {
			r := h.call("owners-limits-put", owner(o), body(c.body))
			if r.str("field") != c.field {
				t.Errorf("%s: field %q, want %q", c.body, r.str("field"), c.field)
			}
			return r
		})
	}
	h.refused(t, 400, "invalid_owner", func() response {
		return h.call("owners-limits-put", owner("team a"), body(`{"ratelimit": null}`))
	})

	// The attack: a caller narrowed to team-a raising team-b's limit, or reading it.
	_, narrowed := h.createKey(map[string]any{"owner": "team-a", "scopes": []string{"keys:read@owner:team-a*", "keys:write@owner:team-a*"}})
	h.call("owners-limits-put", owner("team-b"), body(`{"ratelimit": {"limit": 5, "window_seconds": 60}}`)).must(t, 200)
	h.refused(t, 403, "owner_not_allowed", func() response {
		return h.call("owners-limits-put", owner("team-b"), cred(narrowed), body(`{"ratelimit": {"limit": 1000000, "window_seconds": 1}}`))
	})
	h.refused(t, 403, "owner_not_allowed", func() response {
		return h.call("owners-limits-put", owner("team-b"), cred(narrowed), body(`{"ratelimit": null}`))
	})
	h.refused(t, 403, "owner_not_allowed", func() response { return h.call("owners-limits-get", owner("team-b"), cred(narrowed)) })
	_, readOnly := h.createKey(map[string]any{"owner": "team-a", "scopes": []string{"keys:read"}})
	h.refused(t, 403, "insufficient_scope", func() response {
		return h.call("owners-limits-put", owner("team-a"), cred(readOnly), body(`{"ratelimit": null}`))
	})
	// Within its range the narrowed caller may.
	h.call("owners-limits-put", owner(o), cred(narrowed), body(`{"ratelimit": null}`)).must(t, 200)
	if r := h.call("owners-limits-get", owner(o), cred(narrowed)).must(t, 200); r.body["ratelimit"] != nil {
		t.Errorf("removed limit shows %s", r.raw)
	}

	audit := h.call("audit", rawQuery("type="+store.EventOwnerLimitsUpdated)).must(t, 200)
	var got []string
	for _, it := range audit.body["items"].([]any) {
		e := it.(map[string]any)
		d, _ := json.Marshal(e["detail"])
		got = append(got, e["key_id"].(string)+" "+string(d))
	}
	want := []string{
		` {"owner":"team-a/billing@example.com","ratelimit":null}`,
		` {"owner":"team-b","ratelimit":{"limit":5,"window_seconds":60}}`,
		` {"owner":"team-a/billing@example.com","ratelimit":{"limit":100,"window_seconds":60}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
