package authorizer

import (
	stdjson "encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward/pkg/testenv"
)

// FuzzParseEvent: any bytes as an authorizer event. parseEvent never panics and is
// deterministic; what it accepts is one of the three kinds, with the ARN the event
// carries; and the fast decoder (go-json) reads every event encoding/json reads, the
// same way, so its speed never changes a decision.
func FuzzParseEvent(f *testing.F) {
	for _, name := range []string{"authorizer-http", "authorizer-rest-request", "authorizer-rest-token"} {
		f.Add(testenv.FixtureBytes(f, name))
	}
	f.Add([]byte(`{"type":"TOKEN","authorizationToken":"ApiKey  kw_x ","methodArn":"arn:aws:execute-api:r:1:api/stage/GET/a/b"}`))
	f.Add([]byte(`{"version":"2.0","routeArn":"x","routeKey":"$default","headers":{"Authorization":"Bearer a","x-api-key":"b"}}`))
	f.Add([]byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:r:1:api/s/POST/","headers":{"authorization":"bearer \u00e9"}}`))
	f.Add([]byte(`{"version":"2.0","routeArn":"a","headers":{"authorization":"Bearer a","Authorization":"Bearer b"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := parseEvent(raw)
		for range 3 {
			again, err2 := parseEvent(raw)
			if (err == nil) != (err2 == nil) || !reflect.DeepEqual(again, r) {
				t.Fatalf("parseEvent is not deterministic: %+v %v / %+v %v", r, err, again, err2)
			}
		}
		if err == nil {
			if r.kind < RESTRequest || r.kind > HTTPSimple || r.arn == "" && r.kind != RESTToken {
				t.Fatalf("parsed %+v", r)
			}
			if strings.TrimSpace(r.credential) != r.credential {
				t.Fatalf("credential %q has surrounding space", r.credential)
			}
		}
		if !utf8.Valid(raw) {
			return // encoding/json replaces bad bytes; API Gateway never sends them
		}
		var std rawEvent
		if stdjson.Unmarshal(raw, &std) != nil {
			return
		}
		var fast rawEvent
		if err := decodeEvent(raw, &fast); err != nil {
			t.Fatalf("go-json refuses an event encoding/json reads: %v", err)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("go-json reads %+v, encoding/json %+v", fast, std)
		}
	})
}
