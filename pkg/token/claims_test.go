package token

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	josejson "github.com/go-jose/go-jose/v4/json"

	"github.com/keyward/keyward/pkg/scope"
)

// TestDecodeClaimsAsGoJose: the fast decoder reads every payload of the signer's
// claim names go-jose's own decoder reads, the same way, and refuses what it refuses: dates out of range (an
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

// TestSignerWritesOnlyFixedClaimNames: every claim name in a signed payload is one of
// the fixed names decodeClaims reads, once each and in lower case, whatever the grant
// holds; a scope written to smuggle a claim ("sv", "SCOPE") stays inside the scope
// string. decodeClaims relies on it: go-json matches names regardless of case.
func TestSignerWritesOnlyFixedClaimNames(t *testing.T) {
	now := time.Now()
	keys, _ := testKeys(t, now)
	g := grant(1)
	g.Scopes = scope.MustParseList([]string{`orders:read@x","sv":99,"SCOPE":"orders:write`, `a:b@\",\"Sv\":9`})
	a, err := (&Signer{Keys: keys, Issuer: testIssuer, Audience: "keyward", Lifetime: time.Minute}).Sign(context.Background(), g, now)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(a.Token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]josejson.RawMessage
	if err := josejson.Unmarshal(payload, &claims); err != nil { // go-jose's decoder refuses duplicates
		t.Fatal(err)
	}
	fixed := map[string]bool{"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true,
		"jti": true, "client_id": true, "scope": true, "sv": true}
	for name := range claims {
		if !fixed[name] {
			t.Errorf("signed claim %q is not one decodeClaims reads", name)
		}
	}
	c, err := decodeClaims(payload)
	if err != nil || c.SecretN != 1 || c.Scope != g.Scopes.Join() {
		t.Fatalf("decoded %+v, %v", c, err)
	}
}
