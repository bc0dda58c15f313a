package keysapi

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/limits"
	"github.com/keyward/keyward/pkg/scope"
)

// verifyRequest is the body of POST /v1/keys/verify.
type verifyRequest struct {
	Key   string  `json:"key"`
	Scope *string `json:"scope"`
	IP    *string `json:"ip"`
	Cost  *int64  `json:"cost"`
}

// verifyAnswer is the answer of POST /v1/keys/verify: every field is always there,
// null where it does not apply (see docs/limits.md).
type verifyAnswer struct {
	Valid     bool           `json:"valid"`
	Code      string         `json:"code"`
	KeyID     *string        `json:"key_id"`
	Owner     *string        `json:"owner"`
	Scopes    []string       `json:"scopes"`
	Remaining *int64         `json:"remaining"`
	RateLimit *limits.Window `json:"ratelimit"`
}

// verify serves POST /v1/keys/verify: one use of the presented key, as the
// authorizer would make it, answered as a result (200, valid or not), never as the
// caller's 401. A key whose owner the caller's keys:verify does not cover is
// NOT_FOUND, like an unknown one, and is not counted.
func (a *API) verify(ctx context.Context, c *call) (httpapi.Response, error) {
	if err := checkQuery(c.req); err != nil {
		return httpapi.Response{}, err
	}
	var in verifyRequest
	if err := httpapi.DecodeJSON(c.req, &in, false); err != nil {
		return httpapi.Response{}, err
	}
	u, ip, err := checkVerify(in)
	if err != nil {
		return httpapi.Response{}, err
	}
	if ip != "" {
		// Failed attempts are counted per (key, address it names, caller): a caller can
		// lock out only its own verifications, never the key's users at that address.
		u.LockAs = ip + " via " + c.caller.KeyID
	}
	u.Owners = func(owner string) bool {
		return authz.Decide(c.who, authz.Verify, &authz.Target{Owner: owner}, nil) == authz.Allowed
	}
	d, err := a.verifier.VerifyUse(ctx, in.Key, ip, u)
	if err != nil {
		return httpapi.Response{}, err
	}
	if d.OK() && d.Principal.Kind == auth.KindRoot {
		// The root credential is no key: it is not for services to accept.
		d = auth.Decision{Reason: auth.Unknown}
	}
	if d.OK() {
		a.verifier.RecordUse(ctx, d.Principal, ip)
	}
	return httpapi.JSON(http.StatusOK, verifyAnswerOf(d)), nil
}

// checkVerify validates a verify body in a fixed order (key, scope, ip, cost) and
// returns the use it asks for and the address it is made from ("" for none).
func checkVerify(in verifyRequest) (auth.Use, string, error) {
	field := func(code, name, format string, args ...any) error {
		e := badRequest(code, format, args...)
		e.Field = name
		return e
	}
	var u auth.Use
	if in.Key == "" {
		return u, "", field("invalid_key", "key", "key is required: the API key to verify.")
	}
	if in.Scope != nil {
		if _, err := scope.Parse(*in.Scope); err != nil {
			return u, "", field("invalid_scope", "scope", "scope is not a valid scope.")
		}
		u.Scope = *in.Scope
	}
	ip := ""
	if in.IP != nil {
		addr, err := netip.ParseAddr(*in.IP)
		if err != nil {
			return u, "", field("invalid_ip", "ip", "ip must be an IPv4 or IPv6 address.")
		}
		ip = addr.Unmap().String()
	}
	u.Cost = 1
	if in.Cost != nil {
		if fe := limits.ValidateCost(*in.Cost); fe != nil {
			return u, "", field(fe.Code, fe.Field, "%s %s.", fe.Field, fe.Message)
		}
		u.Cost = *in.Cost
	}
	return u, ip, nil
}

func verifyAnswerOf(d auth.Decision) verifyAnswer {
	v := verifyAnswer{Valid: d.OK(), Code: d.Reason.Code()}
	if p := d.Principal; p.Key != nil {
		v.KeyID, v.Owner, v.Scopes = &p.KeyID, &p.Owner, p.Scopes.Strings()
	}
	if l := d.Limits; l != nil {
		v.Remaining, v.RateLimit = l.Remaining, l.RateLimit
	}
	return v
}
