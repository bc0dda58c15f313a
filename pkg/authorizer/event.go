package authorizer

import (
	"errors"
	"fmt"
	"strings"

	// The event is decoded on every request of every protected API: go-json decodes it
	// in a third of encoding/json's time (make bench, authorizer_cpu_per_verify).
	json "github.com/goccy/go-json"
	"github.com/keyward/keyward/pkg/auth"
)

// Kind is the kind of API Gateway authorizer event.
type Kind int

// Event kinds, detected from the event itself.
const (
	RESTRequest Kind = iota + 1 // REST API REQUEST authorizer (also HTTP API payload 1.0)
	RESTToken                   // REST API TOKEN authorizer
	HTTPSimple                  // HTTP API payload 2.0, simple responses
)

func (k Kind) String() string {
	switch k {
	case RESTRequest:
		return "rest_request"
	case RESTToken:
		return "rest_token"
	case HTTPSimple:
		return "http_v2"
	}
	return "unknown"
}

// rawEvent is the union of the fields Keyward reads from the three event kinds; it is
// decoded in one pass, which also tells the kinds apart.
type rawEvent struct {
	Version            string            `json:"version"`
	Type               string            `json:"type"`
	MethodArn          string            `json:"methodArn"`
	RouteArn           string            `json:"routeArn"`
	RouteKey           string            `json:"routeKey"`
	RawPath            string            `json:"rawPath"`
	AuthorizationToken string            `json:"authorizationToken"`
	Resource           string            `json:"resource"`
	Path               string            `json:"path"`
	HTTPMethod         string            `json:"httpMethod"`
	Headers            map[string]string `json:"headers"`
	RequestContext     struct {
		HTTP struct {
			Method   string `json:"method"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
		Identity struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"`
		ResourcePath string `json:"resourcePath"`
		HTTPMethod   string `json:"httpMethod"`
	} `json:"requestContext"`
}

// request is what the authorizer decides on, whatever the event kind.
type request struct {
	kind       Kind
	credential string
	sourceIP   string // "" for TOKEN events, which carry none
	method     string
	path       string // route template where the event has one, else the concrete path
	arn        string // methodArn or routeArn
}

var errUnknownEvent = errors.New("authorizer: not an API Gateway authorizer event")

var errMalformedEvent = errors.New("authorizer: decode event: not one JSON object")

// parseEvent decodes raw and tells which kind of event it is.
//
// go-json trusts its input more than encoding/json: on a document that ends inside
// a key's escape (`{"\`) it reads past the buffer and panics (a known go-json bug,
// found by FuzzParseEvent). API Gateway only sends whole JSON objects, so anything
// that does not end with '}' is refused before go-json sees it, which rules that
// case out at O(1) cost; and a panic inside the decoder is an error, so the
// authorizer fails closed instead of crashing.
func parseEvent(raw []byte) (request, error) {
	if !endsObject(raw) {
		return request{}, errMalformedEvent
	}
	var ev rawEvent
	if err := decodeEvent(raw, &ev); err != nil {
		return request{}, err
	}
	switch {
	case ev.Version == "2.0" && ev.RouteArn != "":
		r := request{kind: HTTPSimple, credential: auth.Credential(ev.Headers), sourceIP: ev.RequestContext.HTTP.SourceIP, arn: ev.RouteArn}
		// The method is the request's: an ANY route's routeKey says "ANY". The routeKey
		// gives the path template; $default has none, so the concrete path is matched.
		r.method, r.path = ev.RequestContext.HTTP.Method, ev.RawPath
		if m, p, ok := strings.Cut(ev.RouteKey, " "); ok {
			if r.method == "" {
				r.method = m
			}
			r.path = p
		}
		return r, nil
	case strings.EqualFold(ev.Type, "TOKEN"):
		r := request{kind: RESTToken, credential: tokenCredential(ev.AuthorizationToken), arn: ev.MethodArn}
		r.method, r.path = arnRoute(ev.MethodArn)
		return r, nil
	case strings.EqualFold(ev.Type, "REQUEST") && ev.MethodArn != "":
		r := request{kind: RESTRequest, credential: auth.Credential(ev.Headers), sourceIP: ev.RequestContext.Identity.SourceIP, arn: ev.MethodArn}
		r.method = first(ev.HTTPMethod, ev.RequestContext.HTTPMethod)
		r.path = first(ev.Resource, ev.RequestContext.ResourcePath, ev.Path)
		if r.method == "" || r.path == "" {
			r.method, r.path = arnRoute(ev.MethodArn)
		}
		return r, nil
	}
	return request{}, errUnknownEvent
}

// endsObject reports whether raw ends with '}' before any trailing JSON whitespace.
func endsObject(raw []byte) bool {
	i := len(raw) - 1
	for i >= 0 && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n') {
		i--
	}
	return i >= 0 && raw[i] == '}'
}

// decodeEvent is go-json's Unmarshal, with its panics turned into errors.
func decodeEvent(raw []byte, ev *rawEvent) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("authorizer: decode event: decoder panic: %v", p)
		}
	}()
	if err := json.Unmarshal(raw, ev); err != nil {
		return fmt.Errorf("authorizer: decode event: %w", err)
	}
	return nil
}

// tokenCredential reads a TOKEN event's token: the Authorization header's value
// ("Bearer x", "ApiKey x"), or a bare key when the token source is X-API-Key.
func tokenCredential(token string) string {
	if c := auth.Credential(map[string]string{"authorization": token}); c != "" {
		return c
	}
	token = strings.TrimSpace(token)
	if strings.ContainsAny(token, " \t") {
		return ""
	}
	return token
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// arnRoute reads method and path from an execute-api ARN:
// arn:aws:execute-api:region:account:api/stage/METHOD/path...
func arnRoute(arn string) (method, path string) {
	_, base, ok := arnBase(arn)
	if !ok {
		return "", ""
	}
	method, rest, _ := strings.Cut(base, "/")
	return method, "/" + rest
}

// arnBase splits an execute-api ARN into its "arn:…:api/stage/" prefix and the
// "METHOD/path" tail.
func arnBase(arn string) (prefix, tail string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return "", "", false
	}
	res := strings.SplitN(parts[5], "/", 3) // api, stage, METHOD/path
	if len(res) != 3 {
		return "", "", false
	}
	tail = res[2]
	return arn[:len(arn)-len(tail)], tail, true
}
