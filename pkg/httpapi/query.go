package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Param is one decoded name=value pair of a query string or a form body.
type Param struct {
	Name, Value string
}

// ParseParams decodes s, in application/x-www-form-urlencoded syntax (a raw query
// string or a form body), strictly and in order. Pairs are separated by '&' (empty
// pairs are skipped), a pair without '=' has the empty value, and '+' is a space.
// A pair is a 400 malformed_query when it holds ';' (Go's net/url refuses it as a
// separator, so it would mean different things to different parsers), has bad
// percent-encoding, no name, or a name or value that is not UTF-8 once decoded.
// The first bad pair in the string is the one named. Repeats are kept: the caller
// decides (CheckQuery refuses them).
func ParseParams(s string) ([]Param, error) {
	var out []Param
	n := 0
	for rest := s; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		n++
		bad := func(detail string) error {
			return Errorf(http.StatusBadRequest, "malformed_query", "Parameter %d: %s.", n, detail)
		}
		if strings.Contains(pair, ";") {
			return nil, bad("';' is not a separator; encode it as %3B")
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, bad("its name has bad percent-encoding")
		}
		if name == "" {
			return nil, bad("it has no name")
		}
		if !utf8.ValidString(name) {
			return nil, bad("its name is not UTF-8")
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil || !utf8.ValidString(value) {
			e := Errorf(http.StatusBadRequest, "malformed_query", "Parameter %s: its value has bad percent-encoding or is not UTF-8.", name)
			e.Field = name
			return nil, e
		}
		out = append(out, Param{Name: name, Value: value})
	}
	return out, nil
}

// CheckQuery refuses a query string that a route does not expect, with a 400:
// malformed_query when the raw query does not decode (see ParseParams),
// unknown_parameter for a name not in allowed, duplicate_parameter for a name given
// more than once (API Gateway would join the values with commas). Unknown and
// repeated names are reported first in sorted order, so the answer never depends on
// map order. It reads req.RawQueryString when set (as API Gateway always sets it),
// else the names of req.QueryStringParameters.
func CheckQuery(req *events.APIGatewayV2HTTPRequest, allowed ...string) error {
	var names []string
	if req.RawQueryString != "" {
		params, err := ParseParams(req.RawQueryString)
		if err != nil {
			return err
		}
		for _, p := range params {
			names = append(names, p.Name)
		}
	} else {
		for k := range req.QueryStringParameters {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			e := Errorf(http.StatusBadRequest, "unknown_parameter", "Unknown query parameter %q; this route takes %s.", n, takes(allowed))
			e.Field = n
			return e
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			e := Errorf(http.StatusBadRequest, "duplicate_parameter", "Query parameter %q is given more than once.", names[i])
			e.Field = names[i]
			return e
		}
	}
	return nil
}

func takes(allowed []string) string {
	if len(allowed) == 0 {
		return "none"
	}
	s := slices.Clone(allowed)
	slices.Sort(s)
	return strings.Join(s, ", ")
}
