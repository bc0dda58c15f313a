package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/infra/stack"
)

// authorize runs the route's Lambda authorizer for ev. It reports whether the request
// may proceed, and otherwise the status API Gateway answers: 401 when a declared
// identity source is missing (the authorizer is not called; with none declared,
// nothing is refused before the function), 403 when the authorizer refuses, 500 when
// it fails. On success the authorizer's context is in ev.RequestContext.Authorizer.Lambda;
// either way authCtx is the context it answered (key_id and error, for the log).
func (g *Gateway) authorize(ctx context.Context, rt *route, ev *events.APIGatewayV2HTTPRequest) (ok bool, status int, authCtx map[string]any) {
	a, ok := g.authorizers[rt.Authorizer]
	if !ok {
		g.log.Error("route names an unknown authorizer", "route", rt.Key(), "authorizer", rt.Authorizer)
		return false, http.StatusInternalServerError, nil
	}
	identity, ok := identitySource(a, ev)
	if !ok {
		return false, http.StatusUnauthorized, nil
	}
	fn, ok := g.functions[a.Function]
	if !ok {
		g.log.Error("authorizer function not available", "function", a.Function)
		return false, http.StatusInternalServerError, nil
	}
	method, path, _ := strings.Cut(rt.Key(), " ")
	req := events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              "arn:aws:execute-api:us-east-1:000000000000:local/$default/" + method + path,
		IdentitySource:        identity,
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
		StageVariables:        ev.StageVariables,
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return false, http.StatusInternalServerError, nil
	}
	out, err := fn.Invoke(ctx, payload)
	if err != nil && ctx.Err() != nil {
		g.log.Info("request abandoned by the client", "function", a.Function)
		return false, statusClientClosed, nil
	}
	if err != nil {
		g.log.Error("authorizer failed", "function", a.Function, "err", err)
		return false, http.StatusInternalServerError, nil
	}
	allowed, authCtx, err := parseAuthorizerResponse(out, a.SimpleResponses)
	if err != nil {
		g.log.Error("authorizer answered an invalid response", "function", a.Function, "err", err)
		return false, http.StatusInternalServerError, nil
	}
	if !allowed {
		return false, http.StatusForbidden, authCtx
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authCtx}
	return true, 0, authCtx
}

// identitySource collects the authorizer's identity sources from ev; ok is false when
// one of them is missing or empty, which is when API Gateway answers 401 without
// calling the authorizer. An authorizer with no identity source (possible with caching
// off) is always called: every way of presenting a credential reaches it.
func identitySource(a stack.Authorizer, ev *events.APIGatewayV2HTTPRequest) ([]string, bool) {
	var out []string
	for _, src := range a.IdentitySource {
		var v string
		switch {
		case strings.HasPrefix(src, "$request.header."):
			v = ev.Headers[strings.ToLower(strings.TrimPrefix(src, "$request.header."))]
		case strings.HasPrefix(src, "$request.querystring."):
			v = ev.QueryStringParameters[strings.TrimPrefix(src, "$request.querystring.")]
		}
		if v == "" {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// parseAuthorizerResponse reads a simple response ({"isAuthorized", "context"}) or,
// without simple responses, an IAM policy response that allows when it has an Allow
// statement and no Deny.
func parseAuthorizerResponse(out []byte, simple bool) (bool, map[string]any, error) {
	if simple {
		var r events.APIGatewayV2CustomAuthorizerSimpleResponse
		if err := json.Unmarshal(out, &r); err != nil {
			return false, nil, err
		}
		return r.IsAuthorized, r.Context, nil
	}
	var r events.APIGatewayV2CustomAuthorizerIAMPolicyResponse
	if err := json.Unmarshal(out, &r); err != nil {
		return false, nil, err
	}
	allowed := false
	for _, s := range r.PolicyDocument.Statement {
		switch strings.ToLower(s.Effect) {
		case "deny":
			return false, r.Context, nil
		case "allow":
			allowed = true
		}
	}
	return allowed, r.Context, nil
}
