package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/pkg/apikey"
)

// keyBodyLen is how much of an API key follows its prefix: id, secret and checksum.
const keyBodyLen = apikey.IDLen + apikey.SecretLen + apikey.ChecksumLen

// KeyID returns the key id (the OAuth client_id) of an API key string, whatever the
// deployment's prefix; ok is false for anything that is not a well-formed key.
func KeyID(key string) (id string, ok bool) {
	if len(key) <= keyBodyLen {
		return "", false
	}
	k, err := apikey.Parse(key, key[:len(key)-keyBodyLen])
	if err != nil {
		return "", false
	}
	return k.ID, true
}

// ClientCredentialsToken trades an API key for an access token (grant_type
// client_credentials; scopes, if any, a subset of the key's). Retried like a read: a
// repeated grant only issues one more token.
func (c *Client) ClientCredentialsToken(ctx context.Context, clientID, secret string, scopes []string) (*Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	return c.token(ctx, form, repeatable)
}

// RefreshToken redeems a refresh token for new tokens. It is sent once and never
// retried: refresh tokens rotate on use, and presenting a spent one revokes its family.
func (c *Client) RefreshToken(ctx context.Context, clientID, secret, refreshToken string) (*Token, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}, "client_id": {clientID}, "client_secret": {secret}}
	return c.token(ctx, form, once)
}

func (c *Client) token(ctx context.Context, form url.Values, retry retryPolicy) (*Token, error) {
	var out Token
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/oauth/token", form: form, anonymous: true, retry: retry, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	out.Expiry = time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
	return &out, nil
}

// RevokeToken revokes an access or refresh token (RFC 7009); hint may be empty.
func (c *Client) RevokeToken(ctx context.Context, clientID, secret, token, hint string) error {
	form := url.Values{"token": {token}, "client_id": {clientID}, "client_secret": {secret}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return c.do(ctx, call{method: http.MethodPost, path: "/v1/oauth/revoke", form: form, anonymous: true, retry: repeatable, want: http.StatusOK})
}

// Introspect reads a token's state (RFC 7662); the client's credential needs
// tokens:introspect.
func (c *Client) Introspect(ctx context.Context, token string) (*Introspection, error) {
	var out Introspection
	if err := c.do(ctx, call{method: http.MethodPost, path: "/v1/oauth/introspect", form: url.Values{"token": {token}}, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// Discovery reads the authorization server metadata (RFC 8414).
func (c *Client) Discovery(ctx context.Context) (*Discovery, error) {
	var out Discovery
	if err := c.do(ctx, call{method: http.MethodGet, path: "/.well-known/openid-configuration", anonymous: true, retry: repeatable, want: http.StatusOK, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// TokenSource hands out an access token for one API key, fetching a new one only
// when the cached one is about to expire. It is safe for concurrent use.
type TokenSource struct {
	c                *Client
	clientID, secret string
	scopes           []string
	now              func() time.Time

	mu  sync.Mutex // held while fetching, so that one fetch runs at a time
	tok *Token
}

// TokenSource returns a TokenSource for the API key secret (client_id is its key id).
func (c *Client) TokenSource(secret string, scopes ...string) (*TokenSource, error) {
	id, ok := KeyID(secret)
	if !ok {
		return nil, errors.New("client: not an API key (an access token needs a key, not the root credential)")
	}
	return &TokenSource{c: c, clientID: id, secret: secret, scopes: scopes, now: time.Now}, nil
}

// Token returns the cached token while it has more than a fifth of its lifetime (at
// most 30 s) left, and a new one otherwise.
func (ts *TokenSource) Token(ctx context.Context) (*Token, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tok != nil && ts.now().Before(ts.tok.Expiry.Add(-earlyBy(ts.tok))) {
		return ts.tok, nil
	}
	tok, err := ts.c.ClientCredentialsToken(ctx, ts.clientID, ts.secret, ts.scopes)
	if err != nil {
		return nil, err
	}
	tok.Expiry = ts.now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	ts.tok = tok
	return tok, nil
}

// Credential presents the source's access token: New(base, ts.Credential(), opts).
func (ts *TokenSource) Credential() Credential {
	return func(ctx context.Context) (string, error) {
		tok, err := ts.Token(ctx)
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}
}

// earlyBy is how long before its expiry a token is replaced: a fifth of its
// lifetime, at most 30 s, so that a token handed out still has time to be used.
func earlyBy(t *Token) time.Duration {
	return min(time.Duration(t.ExpiresIn)*time.Second/5, 30*time.Second)
}
