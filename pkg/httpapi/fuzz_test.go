package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

var bodySeeds = []string{
	`{"name":"a","n":1,"scopes":["x"],"metadata":{"a":{"b":[1,"x",null,true,-0.5e-3]}}}`,
	`{"grace_seconds":9223372037}`, `{"grace_seconds":9223372036854775808}`, `{"metadata":{"a":1e200}}`,
	`{"name":"a","name":"b"}`, `{"n\u0061me":"a","name":"b"}`, "{\"name\":\"\xff\"}", `{"name":"\ud800"}`,
	`{"Name":"a"}`, `{"when":"2027-01-02T03:04:05Z"}`, `{"when":"x"}`, `{"inner":{"limit":1.5}}`,
	`{} {}`, `[]`, `{"metadata":{"x":0e1000000000}}`, `{"count":-0}`, `{"small":-129}`, "\t{ }\n",
	`{"metadata":{"deep":[[[[[[[[[[{"a":[]}]]]]]]]]]]}}`, `{"ratio":12345678901234567890123456789012345678}`,
}

// FuzzDecode: any bytes as a JSON body, into a free-form map and into a typed
// struct. Decode never panics, answers only 400s with a stable code, is
// deterministic, accepts nothing encoding/json would refuse, refuses valid JSON
// objects only for the reasons it documents, and what it accepts is exactly what
// encoding/json reads, and survives a round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range bodySeeds {
		f.Add([]byte(s))
	}
	codes := map[string]bool{"malformed_json": true, "invalid_utf8": true, "duplicate_field": true, "nesting_too_deep": true,
		"unknown_field": true, "invalid_type": true, "number_out_of_range": true}
	// Reasons a syntactically valid JSON object can still be refused.
	strictOnly := map[string]bool{"invalid_utf8": true, "duplicate_field": true, "nesting_too_deep": true, "number_out_of_range": true}
	f.Fuzz(func(t *testing.T, raw []byte) {
		check := func(err error) *Error {
			if err == nil {
				return nil
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || !codes[e.Code] {
				t.Fatalf("error %v is not a documented 400", err)
			}
			if e.Field != "" && !strings.Contains(e.Detail, e.Field) {
				t.Fatalf("detail %q does not name field %q", e.Detail, e.Field)
			}
			return e
		}
		var m map[string]any
		errM := Decode(raw, &m)
		em := check(errM)
		var m2 map[string]any
		if again := Decode(raw, &m2); !reflect.DeepEqual(again, errM) {
			t.Fatalf("Decode is not deterministic: %v / %v", errM, again)
		}
		isObject := bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{"))
		valid := json.Valid(raw)
		switch {
		case em == nil && (!valid || !utf8.Valid(raw) || !isObject):
			t.Fatalf("Decode accepted %q, which is not a UTF-8 JSON object", raw)
		case em != nil && valid && isObject && !strictOnly[em.Code]:
			t.Fatalf("Decode refused the valid JSON object %q: %v", raw, errM)
		}
		if em == nil {
			var std map[string]any
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&std); err != nil || !reflect.DeepEqual(std, m) {
				t.Fatalf("encoding/json reads %#v (%v), Decode %#v", std, err, m)
			}
			out, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("re-encode %#v: %v", m, err)
			}
			var back map[string]any
			if err := Decode(out, &back); err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("round trip of %s: %#v, %v", out, back, err)
			}
		}

		var v target
		errT := Decode(raw, &v)
		et := check(errT)
		var v2 target
		if again := Decode(raw, &v2); !reflect.DeepEqual(again, errT) {
			t.Fatalf("Decode is not deterministic: %v / %v", errT, again)
		}
		if et == nil {
			if em != nil {
				t.Fatalf("a typed decode accepted %q, the free-form one refused it: %v", raw, errM)
			}
			var std target
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			dec.DisallowUnknownFields()
			if err := dec.Decode(&std); err != nil || !reflect.DeepEqual(std, v) {
				t.Fatalf("encoding/json reads %+v (%v), Decode %+v", std, err, v)
			}
		}
	})
}

// FuzzParseParams: any query string or form body. ParseParams never panics, is
// deterministic, and reads exactly what net/url reads, in order, except that it
// refuses what net/url would pass on silently (a name-less pair, text that is not
// UTF-8); CheckQuery answers the same error every time.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"limit=1&cursor=abc%3D", "a=1&a=2", "cursor=%%%garbage", "a;b=1", "=x", "a+b=c+d&&e",
		"owner=%ff", "x=%e2%82%ac", "k=v=w&", "%zz=1", "a=%2", "limit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseParams(s)
		if again, err2 := ParseParams(s); !reflect.DeepEqual(again, got) || !reflect.DeepEqual(err2, err) {
			t.Fatalf("ParseParams(%q) is not deterministic", s)
		}
		std, stdErr := url.ParseQuery(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != "malformed_query" {
				t.Fatalf("ParseParams(%q) = %v", s, err)
			}
			if stdErr != nil {
				return
			}
			for name, values := range std {
				if name == "" || !utf8.ValidString(name) || !utf8.ValidString(strings.Join(values, "")) {
					return
				}
			}
			t.Fatalf("ParseParams(%q) refused what net/url reads cleanly: %v", s, err)
		}
		if stdErr != nil {
			t.Fatalf("ParseParams(%q) accepted what net/url refuses: %v", s, stdErr)
		}
		mine := url.Values{}
		for _, p := range got {
			if p.Name == "" || !utf8.ValidString(p.Name) || !utf8.ValidString(p.Value) {
				t.Fatalf("ParseParams(%q) gave %q", s, p)
			}
			mine[p.Name] = append(mine[p.Name], p.Value)
		}
		if !reflect.DeepEqual(mine, std) && !(len(mine) == 0 && len(std) == 0) {
			t.Fatalf("ParseParams(%q) = %v, net/url %v", s, mine, std)
		}
		req := jsonReq("")
		req.RawQueryString = s
		first := CheckQuery(req, "limit", "cursor")
		if again := CheckQuery(req, "limit", "cursor"); !reflect.DeepEqual(again, first) {
			t.Fatalf("CheckQuery(%q) is not deterministic", s)
		}
	})
}
