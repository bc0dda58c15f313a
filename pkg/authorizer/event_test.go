package authorizer

import (
	"testing"

	"github.com/keyward/keyward/pkg/testenv"
)

func TestParseHTTPEventMethodAndPath(t *testing.T) {
	cases := []struct {
		name, routeKey, method, rawPath string
		wantMethod, wantPath            string
	}{
		// An ANY route's routeKey says ANY: the decision needs the request's method.
		{"any route", "ANY /orders/{proxy+}", "DELETE", "/orders/1/items", "DELETE", "/orders/{proxy+}"},
		{"plain route", "GET /orders/{id}", "GET", "/orders/1", "GET", "/orders/{id}"},
		{"default route", "$default", "PUT", "/orders/1", "PUT", "/orders/1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := `{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:us-east-1:1:api/$default/` + c.method + c.rawPath +
				`","routeKey":"` + c.routeKey + `","rawPath":"` + c.rawPath + `","headers":{"authorization":"Bearer x"},` +
				`"requestContext":{"http":{"method":"` + c.method + `","sourceIp":"203.0.113.1"}}}`
			r, err := parseEvent([]byte(raw))
			if err != nil {
				t.Fatal(err)
			}
			if r.kind != HTTPSimple || r.method != c.wantMethod || r.path != c.wantPath {
				t.Fatalf("parsed %+v, want %s %s", r, c.wantMethod, c.wantPath)
			}
		})
	}
}

// TestParseEventTruncated: go-json reads past the end of a document that stops in a
// key's escape once an earlier, larger event has been decoded (found by
// FuzzParseEvent). Such events are errors, never a panic or a read of another
// request's bytes.
func TestParseEventTruncated(t *testing.T) {
	sample := testenv.FixtureBytes(t, "authorizer-http")
	// The crash needs a sequence: a whole event, then several truncated shapes.
	for range 3 {
		if _, err := parseEvent(sample); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{`{"\`, `{"a\`, `{"\u`, `{"headers":{"\`, `{"version":"2.0","\`} {
			if r, err := parseEvent([]byte(bad)); err == nil {
				t.Fatalf("parseEvent(%q) = %+v, want an error", bad, r)
			}
		}
	}
	for _, bad := range []string{`{"\}`, ``, ` `, `[]`, `{"version":"2.0"} x`} {
		if r, err := parseEvent([]byte(bad)); err == nil {
			t.Fatalf("parseEvent(%q) = %+v, want an error", bad, r)
		}
	}
}
