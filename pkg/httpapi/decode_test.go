package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// target is shaped like the management API's request bodies.
type target struct {
	Name     string         `json:"name"`
	N        int            `json:"n"`
	Grace    *int64         `json:"grace_seconds"`
	Days     *int           `json:"days"`
	Small    int8           `json:"small"`
	Count    uint16         `json:"count"`
	Ratio    float64        `json:"ratio"`
	On       bool           `json:"on"`
	Scopes   []string       `json:"scopes"`
	Metadata map[string]any `json:"metadata"`
	When     *time.Time     `json:"when"`
	Exact    json.Number    `json:"exact"`
	Inner    *struct {
		Limit int `json:"limit"`
	} `json:"inner"`
}

func jsonReq(body string) *events.APIGatewayV2HTTPRequest {
	return &events.APIGatewayV2HTTPRequest{Body: body, Headers: map[string]string{"content-type": "application/json"}}
}

func TestDecodeJSONStrict(t *testing.T) {
	// The body, metadata and 62 more objects: 64 levels, the most allowed.
	deepest := `{"metadata":` + strings.Repeat(`{"a":`, maxDepth-2) + `1` + strings.Repeat(`}`, maxDepth-2) + `}`
	deep := strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat(`}`, maxDepth)
	tooDeep := `{"metadata":{"l":` + strings.Repeat(`[`, maxDepth-1) + strings.Repeat(`]`, maxDepth-1) + `}}`
	cases := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"ok", `{"name":"a","n":1,"scopes":["x"],"metadata":{"a":{"b":[1,"x",null,true]}}}`, 0, "", ""},
		{"whitespace around", " \r\n\t{\"name\" : \"a\" }\n ", 0, "", ""},
		{"null fields", `{"grace_seconds":null,"when":null,"metadata":null,"inner":null}`, 0, "", ""},
		{"escapes", `{"name":"\u00e9\ud83d\ude00\n\"\\\/"}`, 0, "", ""},
		{"int64 bounds", `{"grace_seconds":-9223372036854775808}`, 0, "", ""},
		{"int8 bound", `{"small":127}`, 0, "", ""},
		{"dynamodb max", `{"metadata":{"x":9.9999999999999999999999999999999999999E+125}}`, 0, "", ""},
		{"dynamodb min", `{"metadata":{"x":-1E-130}}`, 0, "", ""},
		{"zero with exponent", `{"metadata":{"x":0.000e-999999999}}`, 0, "", ""},
		{"38 digits", `{"metadata":{"x":12345678901234567890123456789012345678}}`, 0, "", ""},
		{"trailing zeros are not digits", `{"metadata":{"x":1.000000000000000000000000000000000000000000000}}`, 0, "", ""},
		{"time", `{"when":"2027-01-02T03:04:05Z"}`, 0, "", ""},
		{"json.Number", `{"exact":1.50}`, 0, "", ""},
		{"json.Number DynamoDB cannot store", `{"exact":1e126}`, 400, "number_out_of_range", "exact"},

		{"syntax", `{"name":`, 400, "malformed_json", "name"},
		{"syntax nested", `{"metadata":{"a":[1,}}`, 400, "malformed_json", "metadata.a[1]"},
		{"not an object", `[1]`, 400, "malformed_json", ""},
		{"null body", `null`, 400, "malformed_json", ""},
		{"trailing data", `{"name":"a"} {}`, 400, "malformed_json", ""},
		{"trailing comma", `{"name":"a",}`, 400, "malformed_json", ""},
		{"leading zero", `{"n":01}`, 400, "malformed_json", ""},
		{"bad escape", `{"name":"\x"}`, 400, "malformed_json", "name"},
		{"control character", "{\"name\":\"a\tb\"}", 400, "malformed_json", "name"},
		{"byte order mark", "\ufeff{}", 400, "malformed_json", ""},

		{"invalid utf8 in a string", "{\"metadata\":{\"a\":\"x\xff\"}}", 400, "invalid_utf8", "metadata.a"},
		{"invalid utf8 in a key", "{\"metadata\":{\"\xc3\x28\":1}}", 400, "invalid_utf8", "metadata"},
		{"invalid utf8 outside strings", "{\"name\":\"a\"}\xff", 400, "invalid_utf8", ""},
		{"utf8 surrogate", "{\"name\":\"\xed\xa0\x80\"}", 400, "invalid_utf8", "name"},
		{"overlong utf8", "{\"name\":\"\xc0\xaf\"}", 400, "invalid_utf8", "name"},
		{"escaped lone high surrogate", `{"name":"\ud800"}`, 400, "invalid_utf8", "name"},
		{"escaped lone low surrogate", `{"metadata":{"k":["\udc00"]}}`, 400, "invalid_utf8", "metadata.k[0]"},
		{"escaped reversed pair", `{"name":"\ude00\ud83d"}`, 400, "invalid_utf8", "name"},

		{"duplicate", `{"name":"a","name":"b"}`, 400, "duplicate_field", "name"},
		{"duplicate after unescaping", `{"name":"a","n\u0061me":"b"}`, 400, "duplicate_field", "name"},
		{"duplicate deep", `{"metadata":{"a":{"b":1,"c":2,"b":3}}}`, 400, "duplicate_field", "metadata.a.b"},
		{"duplicate in array", `{"metadata":{"l":[{},{"x":1,"x":1}]}}`, 400, "duplicate_field", "metadata.l[1].x"},
		{"case is not a duplicate in metadata", `{"metadata":{"a":1,"A":2}}`, 0, "", ""},

		{"unknown", `{"nom":"a"}`, 400, "unknown_field", "nom"},
		{"unknown by case", `{"Name":"a"}`, 400, "unknown_field", "Name"},
		{"unknown by unicode fold", `{"ſcopes":["a"]}`, 400, "unknown_field", `["ſcopes"]`},
		{"unknown nested", `{"inner":{"limit":1,"lim":2}}`, 400, "unknown_field", "inner.lim"},

		{"wrong type", `{"n":"1"}`, 400, "invalid_type", "n"},
		{"wrong element type", `{"scopes":["a",2]}`, 400, "invalid_type", "scopes[1]"},
		{"fraction for int", `{"n":1.5}`, 400, "invalid_type", "n"},
		{"exponent for int", `{"n":1e2}`, 400, "invalid_type", "n"},
		{"bad time", `{"when":"tomorrow"}`, 400, "invalid_type", "when"},
		{"time as number", `{"when":5}`, 400, "invalid_type", "when"},
		{"string for bool", `{"on":"true"}`, 400, "invalid_type", "on"},

		{"int64 overflow", `{"grace_seconds":9223372036854775808}`, 400, "number_out_of_range", "grace_seconds"},
		{"int overflow", `{"days":-9223372036854775809}`, 400, "number_out_of_range", "days"},
		{"int8 overflow", `{"small":128}`, 400, "number_out_of_range", "small"},
		{"uint negative", `{"count":-1}`, 400, "number_out_of_range", "count"},
		{"uint16 overflow", `{"count":65536}`, 400, "number_out_of_range", "count"},
		{"huge float", `{"ratio":1e200}`, 400, "number_out_of_range", "ratio"},
		{"metadata 1e200", `{"metadata":{"a":{"b":1e200}}}`, 400, "number_out_of_range", "metadata.a.b"},
		{"metadata too small", `{"metadata":{"x":1e-131}}`, 400, "number_out_of_range", "metadata.x"},
		{"metadata overflow", `{"metadata":{"x":1e126}}`, 400, "number_out_of_range", "metadata.x"},
		{"metadata 39 digits", `{"metadata":{"x":123456789012345678901234567890123456789}}`, 400, "number_out_of_range", "metadata.x"},
		{"metadata in array", `{"metadata":{"l":[1,2,-1e999]}}`, 400, "number_out_of_range", "metadata.l[2]"},
		{"exponent DynamoDB cannot parse", `{"metadata":{"x":0e1000000000}}`, 400, "number_out_of_range", "metadata.x"},
		{"odd key quoted in path", `{"metadata":{"a b":{"c.d":1e999}}}`, 400, "number_out_of_range", `metadata["a b"]["c.d"]`},

		{"deepest allowed", deepest, 0, "", ""},
		{"too deep objects", `{"metadata":` + deep + `}`, 400, "nesting_too_deep", "metadata" + strings.Repeat(".a", maxDepth-1)},
		{"too deep", tooDeep, 400, "nesting_too_deep", "metadata.l" + strings.Repeat("[0]", maxDepth-2)},
		{"first problem wins", `{"metadata":{"a":1e999},"name":"a","name":"b","zzz":1}`, 400, "number_out_of_range", "metadata.a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v target
			err := DecodeJSON(jsonReq(c.body), &v, false)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code || e.Field != c.field {
				t.Fatalf("err = %v (field %q), want %d %s field %q", err, fieldOf(err), c.status, c.code, c.field)
			}
			if c.field != "" && !strings.Contains(e.Detail, c.field) {
				t.Errorf("detail %q does not name the field %q", e.Detail, c.field)
			}
			// The same bad input always gets the same error.
			for range 5 {
				var again target
				if err2 := DecodeJSON(jsonReq(c.body), &again, false); !reflect.DeepEqual(err2, err) {
					t.Fatalf("second decode: %v, first: %v", err2, err)
				}
			}
		})
	}
}

func fieldOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func TestDecodeJSONKeepsNumbers(t *testing.T) {
	var v target
	body := `{"metadata":{"big":12345678901234567890123456789012345678,"f":0.1,"e":1E+5}}`
	if err := DecodeJSON(jsonReq(body), &v, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"big": json.Number("12345678901234567890123456789012345678"), "f": json.Number("0.1"), "e": json.Number("1E+5")}
	if !reflect.DeepEqual(v.Metadata, want) {
		t.Fatalf("metadata = %#v, want %#v", v.Metadata, want)
	}
	out, _ := json.Marshal(v.Metadata)
	if !strings.Contains(string(out), "12345678901234567890123456789012345678") {
		t.Fatalf("re-encoded metadata lost digits: %s", out)
	}
}

func TestDecodeJSONContentType(t *testing.T) {
	cases := []struct {
		name   string
		header map[string]string
		body   string
		empty  bool
		b64    bool
		status int
		code   string
	}{
		{"json", map[string]string{"content-type": "application/json"}, `{}`, false, false, 0, ""},
		{"charset", map[string]string{"content-type": "application/json; charset=UTF-8"}, `{}`, false, false, 0, ""},
		{"upper case", map[string]string{"Content-Type": "Application/JSON"}, `{}`, false, false, 0, ""},
		{"merge patch", map[string]string{"content-type": "application/merge-patch+json"}, `{}`, false, false, 0, ""},
		{"base64", map[string]string{"content-type": "application/json"}, base64.StdEncoding.EncodeToString([]byte(`{"name":"a"}`)), false, true, 0, ""},
		{"no type, empty, optional", nil, ``, true, false, 0, ""},
		{"json type, empty, optional", map[string]string{"content-type": "application/json"}, ``, true, false, 0, ""},
		{"no type, empty, required", nil, ` `, false, false, 400, "malformed_json"},
		{"no type with a body", nil, `{}`, true, false, 415, "unsupported_media_type"},
		{"empty type, empty, optional", map[string]string{"content-type": " "}, ``, true, false, 0, ""},
		{"empty type with a body", map[string]string{"content-type": ""}, `{}`, true, false, 415, "unsupported_media_type"},
		{"form", map[string]string{"content-type": "application/x-www-form-urlencoded"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"form, empty, optional", map[string]string{"content-type": "application/x-www-form-urlencoded"}, ``, true, false, 415, "unsupported_media_type"},
		{"text", map[string]string{"content-type": "text/plain"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"json-ish text", map[string]string{"content-type": "text/json"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"bare suffix", map[string]string{"content-type": "application/+json"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"latin-1", map[string]string{"content-type": "application/json; charset=iso-8859-1"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"two types joined", map[string]string{"content-type": "application/json,text/plain"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"malformed type", map[string]string{"content-type": "application/json; charset"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"lowercase spelling wins", map[string]string{"content-type": "text/plain", "Content-Type": "application/json"}, `{}`, false, false, 415, "unsupported_media_type"},
		{"too big", map[string]string{"content-type": "application/json"}, `{"name":"` + strings.Repeat("x", MaxBody) + `"}`, false, false, 413, "body_too_large"},
		{"bad base64", map[string]string{"content-type": "application/json"}, `!!!`, false, true, 400, "malformed_body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v target
			req := &events.APIGatewayV2HTTPRequest{Headers: c.header, Body: c.body, IsBase64Encoded: c.b64}
			err := DecodeJSON(req, &v, c.empty)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code {
				t.Fatalf("err = %v, want %d %s", err, c.status, c.code)
			}
		})
	}
}

func TestDecodeField(t *testing.T) {
	var m map[string]any
	if err := DecodeField("metadata", []byte(` {"a":[1e-5]} `), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, map[string]any{"a": []any{json.Number("1e-5")}}) {
		t.Fatalf("m = %#v", m)
	}
	for _, c := range []struct {
		raw         string
		v           any
		code, field string
	}{
		{`{"a":{"b":1e200}}`, &m, "number_out_of_range", "metadata.a.b"},
		{`{"a":1,"a":2}`, &m, "duplicate_field", "metadata.a"},
		{`[1]`, &m, "invalid_type", "metadata"},
		{`1 2`, new(int), "malformed_json", "metadata"},
		{`9223372036854775808`, new(int64), "number_out_of_range", "metadata"},
		{`"x"` + "\xff", new(string), "invalid_utf8", "metadata"},
	} {
		err := DecodeField("metadata", []byte(c.raw), c.v)
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || e.Field != c.field {
			t.Errorf("DecodeField(%s) = %v (field %q), want %s %q", c.raw, err, fieldOf(err), c.code, c.field)
		}
	}
}

func TestDynamoNumber(t *testing.T) {
	ok := []string{"0", "-0", "0.0", "0e0", "0E+999999999", "1", "-1", "1e125", "1E-130", "9.9999999999999999999999999999999999999E+125",
		"0.0000000001e-120", "10000000000000000000000000000000000000000", "123.456", "1e0000000000000000000000000000000005"}
	bad := []string{"1e126", "10e125", "0.1e127", "1e-131", "0.1e-130", "1e1000000000", "0e-1000000000",
		"1234567890123456789012345678901234567891", "1.234567890123456789012345678901234567891"}
	for _, n := range ok {
		if r := dynamoNumber(n); r != "" {
			t.Errorf("dynamoNumber(%s) = %q, want storable", n, r)
		}
	}
	for _, n := range bad {
		if dynamoNumber(n) == "" {
			t.Errorf("dynamoNumber(%s) = storable, want refused", n)
		}
	}
}
