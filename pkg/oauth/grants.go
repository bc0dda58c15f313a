package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/scope"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
)

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	Scope            string `json:"scope"`
}

// token serves POST /v1/oauth/token and /v1/users/oidc/token.
func (a *API) token(ctx context.Context, r *request) (httpapi.Response, error) {
	if err := parseForm(r); err != nil {
		return httpapi.Response{}, err
	}
	grant := r.form["grant_type"]
	switch grant {
	case "":
		return httpapi.Response{}, errInvalidRequest.with("grant_type is required.")
	case GrantClientCredentials, GrantRefreshToken:
	default:
		return httpapi.Response{}, errUnsupportedGrantType.with("Supported grant types: client_credentials, refresh_token.")
	}
	if grant == GrantRefreshToken {
		return a.refresh(ctx, r)
	}
	p, err := a.authenticateClient(ctx, r, auth.Use{})
	if err != nil {
		return httpapi.Response{}, err
	}
	scopes := p.Scopes
	if s, ok := r.form["scope"]; ok {
		want, err := parseScope(s)
		if err != nil {
			return httpapi.Response{}, err
		}
		if !p.Scopes.Covers(want) {
			return httpapi.Response{}, errInvalidScope.with("The requested scope exceeds the client's scopes.")
		}
		scopes = want
	}
	return a.issue(ctx, r, p, scopes)
}

func parseScope(s string) (scope.Set, error) {
	want, err := scope.ParseList(strings.Fields(s))
	if err != nil || len(want) == 0 {
		return nil, errInvalidScope.with("The scope parameter is malformed.")
	}
	return want, nil
}

// refreshExpiry is when a refresh token issued at now expires: its lifetime, but
// never after the key itself.
func (a *API) refreshExpiry(k *store.Key, now time.Time) time.Time {
	exp := now.Add(a.Config.RefreshLifetime)
	if k != nil && k.ExpiresAt.Before(exp) {
		exp = k.ExpiresAt
	}
	return exp.UTC().Truncate(time.Second)
}

// issue starts a refresh-token family and signs its first access token. The writes
// (family + token.issued) and the signature run side by side.
func (a *API) issue(ctx context.Context, r *request, p auth.Principal, scopes scope.Set) (httpapi.Response, error) {
	now := r.now.Truncate(time.Second)
	rt := token.NewRefresh(apikey.NewID())
	jti := token.NewJTI()
	fam := &token.Family{
		ID: rt.Family, KeyID: p.KeyID, Hash: rt.Hash(), SecretN: p.SecretN, Scope: scopes.Join(),
		Status: token.FamilyActive, CreatedAt: now, ExpiresAt: a.refreshExpiry(p.Key, now),
	}
	ev := &store.Event{Time: now, Type: store.EventTokenIssued, KeyID: p.KeyID, Owner: p.Owner, Actor: p.KeyID, IP: r.ip(),
		Detail: map[string]any{"grant_type": GrantClientCredentials, "jti": jti, "family": rt.Family, "scope": fam.Scope}}
	g := token.Grant{KeyID: p.KeyID, JTI: jti, Scopes: scopes, SecretN: p.SecretN}
	acc, err := a.signAlongside(ctx, g, now, func() error { return a.Families.Create(ctx, fam, ev) })
	if err != nil {
		return httpapi.Response{}, err
	}
	return a.tokenAnswer(acc, rt, fam.ExpiresAt, scopes, now), nil
}

// signAlongside signs the access token of g while write runs, and fails if either does.
func (a *API) signAlongside(ctx context.Context, g token.Grant, now time.Time, write func() error) (token.Access, error) {
	done := make(chan error, 1)
	go func() { done <- write() }()
	acc, serr := a.Signer.Sign(ctx, g, now)
	if werr := <-done; werr != nil {
		return token.Access{}, werr
	}
	return acc, serr
}

func (a *API) tokenAnswer(acc token.Access, rt token.Refresh, rtExp time.Time, scopes scope.Set, now time.Time) httpapi.Response {
	return answer(http.StatusOK, tokenResponse{
		AccessToken: acc.Token, TokenType: "Bearer", ExpiresIn: int64(acc.ExpiresAt.Sub(acc.IssuedAt) / time.Second),
		RefreshToken: rt.String(), RefreshExpiresIn: int64(rtExp.Sub(now) / time.Second), Scope: scopes.Join(),
	})
}

// errBadRefresh answers a refresh token that is malformed, unknown, expired, revoked
// or another client's: RFC 6749 tells none of these apart.
var errBadRefresh = errInvalidGrant.with("The refresh token is invalid, expired or revoked.")

// refresh serves grant_type=refresh_token. The client is authenticated, then one
// conditional update consumes the presented token and returns its family; the event
// and the signature follow side by side. The family is read first only to check a
// narrowing `scope` before the token is spent.
func (a *API) refresh(ctx context.Context, r *request) (httpapi.Response, error) {
	raw, ok := r.form["refresh_token"]
	if !ok {
		return httpapi.Response{}, errInvalidRequest.with("refresh_token is required.")
	}
	var want scope.Set
	if s, ok := r.form["scope"]; ok {
		var err error
		if want, err = parseScope(s); err != nil {
			return httpapi.Response{}, err
		}
	}
	presented, wellFormed := token.ParseRefresh(raw)
	p, err := a.authenticateClient(ctx, r, auth.Use{})
	if err != nil {
		return httpapi.Response{}, err
	}
	if !wellFormed {
		return httpapi.Response{}, errBadRefresh
	}
	now := r.now.Truncate(time.Second)
	if err := a.checkNarrowing(ctx, p, presented, want); err != nil {
		return httpapi.Response{}, err
	}
	next := token.NewRefresh(presented.Family)
	exp := a.refreshExpiry(p.Key, now)
	f, err := a.Families.Rotate(ctx, p.KeyID, presented, next, secretVersions(p.Key, now), now, exp)
	if err != nil {
		return httpapi.Response{}, a.rotateError(ctx, r, p, presented, now, err)
	}
	scopes, err := refreshedScopes(p, f, want)
	if err != nil {
		return httpapi.Response{}, err
	}
	acc, err := a.signRefreshed(ctx, r, p, presented.Family, f, scopes, now)
	if err != nil {
		return httpapi.Response{}, err
	}
	return a.tokenAnswer(acc, next, exp, scopes, now), nil
}

// checkNarrowing refuses, before the presented token is spent, a `scope` (want, when
// given) beyond what its family was granted; a family that is not the client's is
// errBadRefresh.
func (a *API) checkNarrowing(ctx context.Context, p auth.Principal, presented token.Refresh, want scope.Set) error {
	if want == nil {
		return nil
	}
	f, err := a.Families.Get(ctx, presented.Family)
	if errors.Is(err, store.ErrNotFound) || err == nil && f.KeyID != p.KeyID {
		return errBadRefresh
	}
	if err != nil {
		return err
	}
	if !scope.MustParseList(strings.Fields(f.Scope)).Covers(want) {
		return errInvalidScope.with("The requested scope exceeds the scope originally granted.")
	}
	return nil
}

// rotateError answers a failed rotation of the presented token: a reused token
// revokes its family, an unusable one is errBadRefresh.
func (a *API) rotateError(ctx context.Context, r *request, p auth.Principal, presented token.Refresh, now time.Time, err error) error {
	switch {
	case errors.Is(err, token.ErrReused):
		return a.reused(ctx, r, p, presented, now)
	case errors.Is(err, token.ErrInvalidGrant), errors.Is(err, store.ErrNotFound):
		return errBadRefresh
	}
	return err
}

// refreshedScopes are the scopes a refreshed token carries: the family's grant, or
// the narrower want, within what the key holds now.
func refreshedScopes(p auth.Principal, f *token.Family, want scope.Set) (scope.Set, error) {
	granted := want
	if granted == nil {
		granted = scope.MustParseList(strings.Fields(f.Scope))
	}
	scopes := p.Scopes.Intersect(granted)
	if len(scopes) == 0 {
		return nil, errInvalidScope.with("The key no longer holds any of the granted scopes.")
	}
	return scopes, nil
}

// signRefreshed signs the refreshed access token of family f while its
// token.refreshed event is written. The token keeps the family's binding: the secret version of the original
// grant, whichever live secret the client authenticated with now, so it dies with
// that version as the family does.
func (a *API) signRefreshed(ctx context.Context, r *request, p auth.Principal, family string, f *token.Family, scopes scope.Set, now time.Time) (token.Access, error) {
	jti := token.NewJTI()
	ev := &store.Event{Time: now, Type: store.EventTokenRefreshed, KeyID: p.KeyID, Owner: p.Owner, Actor: p.KeyID, IP: r.ip(),
		Detail: map[string]any{"grant_type": GrantRefreshToken, "jti": jti, "family": family, "scope": scopes.Join()}}
	g := token.Grant{KeyID: p.KeyID, JTI: jti, Scopes: scopes, SecretN: f.SecretN}
	return a.signAlongside(ctx, g, now, func() error {
		if err := a.Families.PutEvent(ctx, ev); err != nil {
			// The old token is spent: the new one must still reach the client.
			a.Log.ErrorContext(ctx, "token.refreshed event not recorded", "key_id", p.KeyID, "err", err)
		}
		return nil
	})
}

// reused revokes the family of a refresh token presented a second time (OAuth 2.0
// Security BCP: one of the two holders is not the client) and refuses the request.
func (a *API) reused(ctx context.Context, r *request, p auth.Principal, presented token.Refresh, now time.Time) error {
	ev := &store.Event{Time: now, Type: store.EventTokenRevoked, KeyID: p.KeyID, Owner: p.Owner, Actor: p.KeyID, IP: r.ip(),
		Detail: map[string]any{"family": presented.Family, "reason": "refresh_token_reused"}}
	if _, err := a.Families.RevokeFamily(ctx, p.KeyID, presented, ev); err != nil {
		return err
	}
	a.Log.WarnContext(ctx, "refresh token reused: family revoked", "key_id", p.KeyID, "family", presented.Family)
	return errInvalidGrant.with("The refresh token was already used; its grant is revoked.")
}

// secretVersions are the key's secret versions a refresh family may be bound to:
// the current one, and the previous one while its grace lasts.
func secretVersions(k *store.Key, now time.Time) []int64 {
	if k == nil {
		return nil
	}
	ns := []int64{k.Secret.N}
	if k.PreviousValid(now) {
		ns = append(ns, k.Previous.N)
	}
	return ns
}
