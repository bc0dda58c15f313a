package oauth

import (
	"errors"
	"net/url"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeForm: any content type and body at the token, revocation and
// introspection endpoints. decodeForm never panics and is deterministic; a refusal
// is invalid_request with a description RFC 6749 allows; an accepted form holds only
// UTF-8, each parameter once, agrees with net/url, and survives re-encoding.
func FuzzDecodeForm(f *testing.F) {
	f.Add(formType, []byte("grant_type=client_credentials&client_id=abc&client_secret=kw_live_x&scope=a+b"))
	f.Add(formType+"; charset=utf-8", []byte("grant_type=refresh_token&refresh_token=x%2By"))
	f.Add(formType, []byte("scope=a&scope=b"))
	f.Add(formType, []byte("scope=&scope="))
	f.Add(formType, []byte("token=%ff"))
	f.Add(formType, []byte("a=1;b=2"))
	f.Add("application/json", []byte(`{"grant_type":"client_credentials"}`))
	f.Add("", []byte("a=1"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		form, err := decodeForm(ct, body)
		if again, err2 := decodeForm(ct, body); !reflect.DeepEqual(again, form) || !reflect.DeepEqual(err2, err) {
			t.Fatalf("decodeForm is not deterministic: %v %v / %v %v", form, err, again, err2)
		}
		if err != nil {
			var e *oauthError
			if !errors.As(err, &e) || e.Code != "invalid_request" || e.Status != 400 || describe(e.Description) != e.Description {
				t.Fatalf("decodeForm(%q, %q) = %v", ct, body, err)
			}
			return
		}
		std, err := url.ParseQuery(string(body))
		if err != nil {
			t.Fatalf("decodeForm accepted %q, which net/url refuses: %v", body, err)
		}
		for name, values := range std {
			if len(values) != 1 {
				t.Fatalf("decodeForm accepted %q, repeating %q", body, name)
			}
			if got, ok := form[name]; values[0] != "" && (!ok || got != values[0]) || values[0] == "" && ok {
				t.Fatalf("decodeForm(%q)[%q] = %q, net/url %q", body, name, got, values[0])
			}
		}
		enc := url.Values{}
		for k, v := range form {
			if !utf8.ValidString(k) || !utf8.ValidString(v) || v == "" {
				t.Fatalf("decodeForm(%q) holds %q=%q", body, k, v)
			}
			enc.Set(k, v)
		}
		back, err := decodeForm(formType, []byte(enc.Encode()))
		if err != nil || !reflect.DeepEqual(back, form) {
			t.Fatalf("re-encoded %q decodes to %v, %v; want %v", enc.Encode(), back, err, form)
		}
	})
}
