package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/authz"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
)

// IntrospectScope is the permission POST /v1/oauth/introspect needs.
const IntrospectScope = "tokens:introspect"

// revoke serves RFC 7009: 200 whatever the token, but only the calling client's
// tokens are revoked. A refresh token revokes its family; an access token's jti is
// refused until the token would have expired.
func (a *API) revoke(ctx context.Context, r *request) (httpapi.Response, error) {
	if err := parseForm(r); err != nil {
		return httpapi.Response{}, err
	}
	// Revoking is housekeeping, not a use: a client out of credits can still log out.
	p, err := a.authenticateClient(ctx, r, auth.Use{Free: true})
	if err != nil {
		return httpapi.Response{}, err
	}
	tok, ok := r.form["token"]
	if !ok {
		return httpapi.Response{}, errInvalidRequest.with("token is required.")
	}
	ev := func(detail map[string]any) *store.Event {
		return &store.Event{Time: r.now, Type: store.EventTokenRevoked, KeyID: p.KeyID, Owner: p.Owner, Actor: p.KeyID, IP: r.ip(), Detail: detail}
	}
	if rt, ok := token.ParseRefresh(tok); ok {
		if _, err := a.Families.RevokeFamily(ctx, p.KeyID, rt, ev(map[string]any{"family": rt.Family, "reason": "revoked_by_client"})); err != nil {
			return httpapi.Response{}, err
		}
	} else if a.Tokens.LooksLikeToken(tok) {
		c, ok, err := a.Tokens.ParseUnexpired(ctx, tok)
		if err != nil {
			return httpapi.Response{}, err
		}
		if ok && c.Subject == p.KeyID && c.Expiry != nil && r.now.Before(c.Expiry.Time()) {
			if err := a.Families.RevokeAccess(ctx, p.Key, c.ID, c.IssuedAt.Time(), c.Expiry.Time(), r.now, ev(map[string]any{"jti": c.ID, "reason": "revoked_by_client"})); err != nil {
				return httpapi.Response{}, err
			}
		}
	}
	return answer(http.StatusOK, struct{}{}), nil
}

// introspection is the RFC 7662 answer; an inactive token is {"active": false} only.
type introspection struct {
	Active    bool     `json:"active"`
	TokenType string   `json:"token_type,omitempty"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	JTI       string   `json:"jti,omitempty"`
}

// introspect serves RFC 7662. The caller presents an API key or access token (or
// HTTP Basic client credentials) holding tokens:introspect.
func (a *API) introspect(ctx context.Context, r *request) (httpapi.Response, error) {
	if err := parseForm(r); err != nil {
		return httpapi.Response{}, err
	}
	caller, err := a.introspector(ctx, r)
	if err != nil {
		return httpapi.Response{}, err
	}
	who := authz.CallerOf(caller)
	if !authz.Holds(who, authz.Introspect) {
		return httpapi.Response{}, errInsufficientScope.with("This credential lacks the " + IntrospectScope + " permission.")
	}
	tok, ok := r.form["token"]
	if !ok {
		return httpapi.Response{}, errInvalidRequest.with("token is required.")
	}
	var out introspection
	if rt, ok := token.ParseRefresh(tok); ok {
		out, err = a.introspectRefresh(ctx, r, rt, who)
	} else if a.Tokens.LooksLikeToken(tok) {
		out, err = a.introspectAccess(ctx, r, tok, who)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return answer(http.StatusOK, out), nil
}

// introspector authenticates the introspecting caller: HTTP Basic as a client, or
// a bearer credential as on the management routes.
func (a *API) introspector(ctx context.Context, r *request) (auth.Principal, error) {
	authorization := strings.TrimSpace(header(r.req.Headers, "authorization"))
	if scheme, _, _ := strings.Cut(authorization, " "); strings.EqualFold(scheme, "basic") || r.form["client_secret"] != "" {
		return a.authenticateClient(ctx, r, auth.Use{Free: true})
	}
	// Introspection checks other tokens; it spends nothing of the caller's key.
	d, err := a.Verifier.VerifyUse(ctx, auth.Credential(r.req.Headers), r.ip(), auth.Use{Free: true})
	if err != nil {
		return auth.Principal{}, err
	}
	if !d.OK() {
		e := errInvalidClient.with("A valid credential with " + IntrospectScope + " is required.")
		e.Header = map[string]string{"WWW-Authenticate": `Bearer realm="keyward"`}
		return auth.Principal{}, e
	}
	r.caller = &d.Principal
	return d.Principal, nil
}

// usableKey reads the key behind a token and reports whether its tokens still count,
// and may be introspected by who: a token of a key outside who's tokens:introspect
// owners is inactive to it, as an unknown one is.
func (a *API) usableKey(ctx context.Context, id string, r *request, who authz.Caller) (*store.Key, bool, error) {
	k, err := a.Keys.GetKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if authz.Decide(who, authz.Introspect, authz.TargetOf(k), nil) != authz.Allowed {
		return nil, false, nil
	}
	switch k.EffectiveStatus(r.now) {
	case store.StatusActive, store.StatusRotating:
		return k, true, nil
	}
	return nil, false, nil
}

func (a *API) introspectAccess(ctx context.Context, r *request, tok string, who authz.Caller) (introspection, error) {
	c, reason, err := a.Tokens.Parse(ctx, tok, r.now)
	if err != nil || reason != auth.Accepted {
		return introspection{}, err
	}
	k, ok, err := a.usableKey(ctx, c.Subject, r, who)
	if err != nil || !ok || k.TokenRevoked(c.ID, c.IssuedAt.Time()) || !k.SecretLive(c.SecretN, r.now) {
		return introspection{}, err
	}
	scopes, err := scope.ParseList(strings.Fields(c.Scope))
	if err != nil {
		return introspection{}, nil
	}
	return introspection{
		Active: true, TokenType: "Bearer", Scope: scope.MustParseList(k.Scopes).Intersect(scopes).Join(),
		ClientID: c.ClientID, Sub: c.Subject, Exp: c.Expiry.Time().Unix(), Iat: c.IssuedAt.Time().Unix(),
		Nbf: c.NotBefore.Time().Unix(), Iss: c.Issuer, Aud: c.Audience, JTI: c.ID,
	}, nil
}

func (a *API) introspectRefresh(ctx context.Context, r *request, rt token.Refresh, who authz.Caller) (introspection, error) {
	f, err := a.Families.Get(ctx, rt.Family)
	if errors.Is(err, store.ErrNotFound) {
		return introspection{}, nil
	}
	if err != nil || subtle.ConstantTimeCompare([]byte(f.Hash), []byte(rt.Hash())) != 1 {
		return introspection{}, err
	}
	k, ok, err := a.usableKey(ctx, f.KeyID, r, who)
	if err != nil || !ok || !f.Valid(r.now, secretVersions(k, r.now)) {
		return introspection{}, err
	}
	granted, err := scope.ParseList(strings.Fields(f.Scope))
	if err != nil {
		return introspection{}, nil
	}
	return introspection{
		Active: true, TokenType: "refresh_token", Scope: scope.MustParseList(k.Scopes).Intersect(granted).Join(),
		ClientID: f.KeyID, Sub: f.KeyID, Exp: f.ExpiresAt.Unix(), Iat: f.CreatedAt.Unix(),
	}, nil
}

// discovery serves the RFC 8414 metadata, at the OpenID Connect path the API names.
func (a *API) discovery(ctx context.Context, r *request) (httpapi.Response, error) {
	iss, err := a.issuer()
	if err != nil {
		return httpapi.Response{}, err
	}
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	doc := map[string]any{
		"issuer":                                        iss,
		"token_endpoint":                                iss + "/v1/oauth/token",
		"revocation_endpoint":                           iss + "/v1/oauth/revoke",
		"introspection_endpoint":                        iss + "/v1/oauth/introspect",
		"jwks_uri":                                      iss + "/.well-known/jwks.json",
		"grant_types_supported":                         []string{GrantClientCredentials, GrantRefreshToken},
		"token_endpoint_auth_methods_supported":         authMethods,
		"revocation_endpoint_auth_methods_supported":    authMethods,
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "bearer"},
		// No authorization endpoint: tokens come straight from the token endpoint.
		"response_types_supported":                         []string{"token"},
		"subject_types_supported":                          []string{"public"},
		"id_token_signing_alg_values_supported":            []string{jwks.RS256},
		"token_endpoint_auth_signing_alg_values_supported": []string{jwks.RS256},
		"scopes_supported":                                 []string{"keys:read", "keys:write", "audit:read", IntrospectScope},
	}
	// Public and cacheable: it holds no token.
	return httpapi.Response{Status: http.StatusOK, Body: doc, Type: jsonType, Cache: "public, max-age=300"}, nil
}

// jwks serves the public keys: the signing key and the retired ones still kept.
func (a *API) jwks(ctx context.Context, r *request) (httpapi.Response, error) {
	set, err := a.JWKS.Set(ctx)
	if errors.Is(err, jwks.ErrNoKeys) {
		return answer(http.StatusOK, map[string]any{"keys": []any{}}), nil
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	body, err := set.PublicJSON()
	if err != nil {
		return httpapi.Response{}, err
	}
	// Short enough that a rotation's new kid is fetched soon; clients refetch on an
	// unknown kid anyway.
	return httpapi.Response{Status: http.StatusOK, Raw: body, Cache: "public, max-age=300"}, nil
}
