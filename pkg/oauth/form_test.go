package oauth

import (
	"errors"
	"reflect"
	"testing"
)

const formType = "application/x-www-form-urlencoded"

func TestDecodeForm(t *testing.T) {
	cases := []struct {
		name, ct, body string
		want           map[string]string // nil: invalid_request
	}{
		{"ok", formType, "grant_type=client_credentials&scope=a+b%3Ac", map[string]string{"grant_type": "client_credentials", "scope": "a b:c"}},
		{"charset", formType + "; charset=UTF-8", "a=1", map[string]string{"a": "1"}},
		{"empty value is absent", formType, "a=&b=2&", map[string]string{"b": "2"}},
		{"empty body", formType, "", map[string]string{}},

		{"repeated", formType, "scope=a&grant_type=x&scope=b", nil},
		{"repeated empty", formType, "scope=&scope=", nil},
		{"repeated once decoded", formType, "scope=a&sc%6Fpe=b", nil},
		{"bad percent", formType, "client_secret=%zz", nil},
		{"invalid utf8 encoded", formType, "client_id=%ff", nil},
		{"invalid utf8 raw", formType, "client_id=\xc3\x28", nil},
		{"semicolon", formType, "a=1;b=2", nil},
		{"no name", formType, "=x", nil},
		{"json", "application/json", `{"grant_type":"client_credentials"}`, nil},
		{"no content type", "", "a=1", nil},
		{"latin-1", formType + "; charset=iso-8859-1", "a=1", nil},
		{"multipart", "multipart/form-data; boundary=x", "a=1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeForm(c.ct, []byte(c.body))
			if c.want != nil {
				if err != nil || !reflect.DeepEqual(got, c.want) {
					t.Fatalf("decodeForm = %v, %v; want %v", got, err, c.want)
				}
				return
			}
			var e *oauthError
			if !errors.As(err, &e) || e.Code != "invalid_request" || e.Status != 400 {
				t.Fatalf("decodeForm = %v, %v; want invalid_request", got, err)
			}
			if d := describe(e.Description); d != e.Description {
				t.Errorf("description %q has characters RFC 6749 does not allow", e.Description)
			}
		})
	}
}

func TestRepeatedParameterNamedSafely(t *testing.T) {
	_, err := decodeForm(formType, []byte(`%22%5C%0A%C3%A9=1&%22%5C%0A%C3%A9=2`))
	var e *oauthError
	if !errors.As(err, &e) || e.Description != "Parameter ????? is repeated." {
		t.Fatalf("err = %v", err)
	}
}

func TestHeaderSpellings(t *testing.T) {
	h := map[string]string{"Content-Type": "application/json", "content-type": formType, "CONTENT-TYPE": "text/plain"}
	for range 20 { // map order varies from call to call
		if got := header(h, "content-type"); got != formType {
			t.Fatalf("header = %q, want the lowercase spelling's %q", got, formType)
		}
	}
}
