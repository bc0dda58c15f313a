package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	fastjson "github.com/goccy/go-json"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/routeconfig"
)

// ErrUnauthorized is the REST answer to an invalid credential: API Gateway maps exactly
// this message to 401.
var ErrUnauthorized = errors.New("Unauthorized")

// ErrUnavailable is the answer when the infrastructure fails. API Gateway maps it to
// 500 and does not cache it: the request fails closed, and a caller is not left
// refused for the cache TTL once the failure is over.
var ErrUnavailable = errors.New("keyward authorizer: unavailable")

// Routes gives the route table in force.
type Routes interface {
	// Current returns the table, reloading it when due; an error means no table at all.
	Current(ctx context.Context) (*routeconfig.Table, error)
}

// Authorizer answers API Gateway authorizer events. Verifier and Routes are required.
// Last use and failed attempts are recorded by the Verifier (its Usage and Guard), as
// for every other route.
type Authorizer struct {
	Verifier *auth.Verifier
	Routes   Routes
	Log      *slog.Logger
	// AcceptsRoot lets the root credential through; false refuses it as invalid,
	// whatever the Verifier recognises.
	AcceptsRoot bool
}

// Why a request is refused, in the answer's context and the logs.
const (
	codeInvalid      = "invalid_credential"
	codeScope        = "insufficient_scope"
	codeIP           = "ip_not_allowed"
	codeTooMany      = "too_many_attempts"
	codeUnknownRoute = "unknown_route"
	// The key's (or its owner's) rate limit, or its credits, refuse the use.
	codeRateLimited   = "rate_limited"
	codeUsageExceeded = "usage_exceeded"
)

// outcome is the decision for one request, before it is shaped for its event kind.
type outcome struct {
	principal auth.Principal
	allowed   bool
	invalid   bool   // the credential itself is refused: REST 401
	code      string // why not allowed
}

var _ lambda.Handler = (*Authorizer)(nil)

// Invoke is the Lambda entry point (lambda.Handler): the raw event in, the raw answer
// out. On this hot path the event is decoded once, by parseEvent, instead of first
// through the runtime's reflection into a json.RawMessage, and an HTTP API's simple
// response is written directly (appendSimple): the same JSON as Handle's answer.
func (a *Authorizer) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, table, out, err := a.handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	if req.kind == HTTPSimple {
		return appendSimple(make([]byte, 0, 192), out), nil
	}
	answer, err := a.answer(req, table, out)
	if err != nil {
		return nil, err
	}
	return fastjson.Marshal(answer)
}

// Handle answers one authorizer event of any kind.
func (a *Authorizer) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	req, table, out, err := a.handle(ctx, raw)
	if err != nil {
		return nil, err
	}
	return a.answer(req, table, out)
}

// handle decides on one event, before the answer is shaped for its kind.
func (a *Authorizer) handle(ctx context.Context, raw []byte) (request, *routeconfig.Table, outcome, error) {
	req, err := parseEvent(raw)
	if err != nil {
		a.Log.ErrorContext(ctx, "authorizer: bad event", "err", err)
		return request{}, nil, outcome{}, ErrUnavailable
	}
	table, err := a.Routes.Current(ctx)
	if err != nil {
		a.Log.ErrorContext(ctx, "authorizer: route table", "err", err)
		return request{}, nil, outcome{}, ErrUnavailable
	}
	out, err := a.decide(ctx, req, table)
	if err != nil {
		a.Log.ErrorContext(ctx, "authorizer: failing closed", "kind", req.kind.String(), "err", err)
		return request{}, nil, outcome{}, ErrUnavailable
	}
	if !out.allowed {
		a.Log.InfoContext(ctx, "authorizer: refused", "kind", req.kind.String(), "code", out.code,
			"key_id", out.principal.KeyID, "ip", req.sourceIP, "route", req.method+" "+req.path)
	}
	return req, table, out, nil
}

// decide verifies the credential for the route's scope, counting one use of a key
// with limits. The scope is checked before the use is counted, and a call of an
// unconfigured route counts nothing: a refused request spends nothing.
func (a *Authorizer) decide(ctx context.Context, req request, table *routeconfig.Table) (outcome, error) {
	rule, known := table.Match(req.method, req.path)
	d, err := a.Verifier.VerifyUse(ctx, req.credential, req.sourceIP, auth.Use{Scope: rule.Scope, Free: !known})
	if err != nil {
		return outcome{}, err
	}
	switch {
	case d.Reason == auth.Accepted && d.Principal.Kind == auth.KindRoot && !a.AcceptsRoot:
		// The root credential is for the management API: another team's route never
		// takes it unless the deployment says so.
		return outcome{invalid: true, code: codeInvalid}, nil
	case d.Reason == auth.Accepted:
	case d.Reason == auth.IPNotAllowed:
		return outcome{code: codeIP}, nil
	case d.Reason == auth.TooManyAttempts:
		return outcome{code: codeTooMany}, nil
	case d.Reason == auth.InsufficientScope:
		return outcome{principal: d.Principal, code: codeScope}, nil
	case d.Reason == auth.RateLimited:
		return outcome{principal: d.Principal, code: codeRateLimited}, nil
	case d.Reason == auth.UsageExceeded:
		return outcome{principal: d.Principal, code: codeUsageExceeded}, nil
	default:
		return outcome{invalid: true, code: codeInvalid}, nil
	}
	p := d.Principal
	if !known {
		return outcome{principal: p, code: codeUnknownRoute}, nil
	}
	a.Verifier.RecordUse(ctx, p, req.sourceIP)
	return outcome{principal: p, allowed: true}, nil
}

// contextOf is the answer's context: strings only, as API Gateway requires.
func contextOf(out outcome) map[string]any {
	if out.principal.KeyID == "" {
		if out.code == "" {
			return nil
		}
		return map[string]any{"error": out.code}
	}
	c := map[string]any{
		"key_id": out.principal.KeyID,
		"owner":  out.principal.Owner,
		"scopes": out.principal.Scopes.Join(),
		"auth":   out.principal.Kind,
	}
	if out.code != "" {
		c["error"] = out.code
	}
	return c
}

// answer shapes the outcome for the event kind.
func (a *Authorizer) answer(req request, table *routeconfig.Table, out outcome) (any, error) {
	if req.kind == HTTPSimple {
		// Simple responses have no status: every refusal is a 403 from API Gateway
		// (a missing identity source is its own 401, before this function runs).
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: out.allowed, Context: contextOf(out)}, nil
	}
	if out.invalid {
		return nil, ErrUnauthorized
	}
	principal := out.principal.KeyID
	if principal == "" {
		principal = "anonymous"
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    principal,
		PolicyDocument: policy(req, table, out),
		Context:        contextOf(out),
	}, nil
}

// policy is the IAM policy of a REST answer. It decides the called route only: the
// methodArn, and the matched route's pattern with its path parameters as wildcards
// (GET/orders/*), so a policy API Gateway caches is right for every request of that
// route. It must never be reused for another route, because an ARN wildcard also
// matches deeper paths (GET/orders/* matches GET/orders/1/refunds): when caching, the
// identity sources must include the method and the resource path (see doc.go).
func policy(req request, table *routeconfig.Table, out outcome) events.APIGatewayCustomAuthorizerPolicy {
	resources := []string{req.arn}
	if prefix, _, ok := arnBase(req.arn); ok {
		if r, ok := table.Match(req.method, req.path); ok {
			if p := prefix + r.ARNPath(); p != req.arn {
				resources = append(resources, p)
			}
		}
	}
	effect := "Deny"
	if out.allowed {
		effect = "Allow"
	}
	return events.APIGatewayCustomAuthorizerPolicy{
		Version:   "2012-10-17",
		Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: resources}},
	}
}
