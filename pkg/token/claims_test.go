package token

import (
	"reflect"
	"testing"

	josejson "github.com/go-jose/go-jose/v4/json"
)

// TestDecodeClaimsAsGoJose: the fast decoder reads every payload go-jose's own
// decoder reads, the same way, and refuses what it refuses: dates out of range (an
// nbf wrapped into the past), an audience that is not strings.
func TestDecodeClaimsAsGoJose(t *testing.T) {
	for _, p := range []string{
		`{"iss":"https://a","sub":"k","aud":"keyward","exp":1795428300,"nbf":1795428000,"iat":1795428000,"jti":"j","client_id":"k","scope":"a:b c:d","sv":3}`,
		`{"aud":["x","keyward"],"exp":1795428300.9,"nbf":-5.5,"sv":1}`,
		`{"aud":[],"iat":0}`,
		`{"sub":"k"}`,
		`{"exp":4611686018427387904}`,
		`{"nbf":-4611686018427387904}`,
		`{"exp":4611686018427387903}`,
		`{"aud":["keyward",1]}`,
		`{"aud":7}`,
		`{"aud":{"a":"b"}}`,
		`{"exp":"1795428300"}`,
		`{"sv":"1"}`,
		` {"jti":"a\u00e9\"b"} `,
		`{"jti":"j"} x`,
		`[]`,
	} {
		var want Claims
		werr := josejson.Unmarshal([]byte(p), &want)
		got, gerr := decodeClaims([]byte(p))
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: go-jose error %v, decodeClaims error %v", p, werr, gerr)
		}
		if werr == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("%s: decodeClaims read %+v, go-jose %+v", p, *got, want)
		}
	}
}
