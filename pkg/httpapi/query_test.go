package httpapi

import (
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestCheckQuery(t *testing.T) {
	allowed := []string{"limit", "cursor", "owner"}
	cases := []struct {
		name   string
		raw    string
		params map[string]string
		code   string
		field  string
	}{
		{"none", "", nil, "", ""},
		{"allowed", "limit=5&cursor=abc%3D%3D", nil, "", ""},
		{"empty value and empty pairs", "limit=&&owner&", nil, "", ""},
		{"plus is a space", "owner=a+b", nil, "", ""},
		{"map only", "", map[string]string{"limit": "5", "owner": "x"}, "", ""},

		{"unknown", "limit=5&colour=red", nil, "unknown_parameter", "colour"},
		{"first unknown in sorted order", "zeta=1&alpha=2&limit=1", nil, "unknown_parameter", "alpha"},
		{"unknown in the map", "", map[string]string{"zz": "1", "bb": "2", "limit": "1"}, "unknown_parameter", "bb"},
		{"unknown decoded name", "lim%69t=1&c%75rsor=2&own%65=1", nil, "unknown_parameter", "owne"},
		{"unknown before duplicate", "limit=1&limit=2&extra=1", nil, "unknown_parameter", "extra"},
		{"duplicate", "limit=1&limit=2", nil, "duplicate_parameter", "limit"},
		{"duplicate once decoded", "limit=1&l%69mit=2", nil, "duplicate_parameter", "limit"},
		{"first duplicate in sorted order", "owner=a&limit=1&owner=b&limit=2", nil, "duplicate_parameter", "limit"},

		{"bad percent", "cursor=%%%garbage", nil, "malformed_query", "cursor"},
		{"bad percent in a name", "li%zzmit=1", nil, "malformed_query", ""},
		{"truncated percent", "cursor=abc%4", nil, "malformed_query", "cursor"},
		{"not utf8", "owner=%ff", nil, "malformed_query", "owner"},
		{"not utf8 raw", "owner=\xff", nil, "malformed_query", "owner"},
		{"semicolon", "limit=1;owner=x", nil, "malformed_query", ""},
		{"no name", "=1", nil, "malformed_query", ""},
		{"malformed before unknown", "zzz=1&cursor=%", nil, "malformed_query", "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &events.APIGatewayV2HTTPRequest{RawQueryString: c.raw, QueryStringParameters: c.params}
			err := CheckQuery(req, allowed...)
			if c.code == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != c.code || e.Field != c.field {
				t.Fatalf("err = %v (field %q), want 400 %s field %q", err, fieldOf(err), c.code, c.field)
			}
			for range 5 {
				if again := CheckQuery(req, allowed...); !reflect.DeepEqual(again, err) {
					t.Fatalf("second check %v, first %v", again, err)
				}
			}
		})
	}
}

func TestCheckQueryNothingAllowed(t *testing.T) {
	err := CheckQuery(&events.APIGatewayV2HTTPRequest{RawQueryString: "x=1"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "unknown_parameter" {
		t.Fatalf("err = %v", err)
	}
}

func TestParseParams(t *testing.T) {
	got, err := ParseParams("a=1&b=&c&a=x%20y+z&e=%3D%26&&f=a=b")
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"a", "1"}, {"b", ""}, {"c", ""}, {"a", "x y z"}, {"e", "=&"}, {"f", "a=b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if p, err := ParseParams(""); err != nil || len(p) != 0 {
		t.Fatalf("empty: %v %v", p, err)
	}
}
