package oauth

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/auth"
	"github.com/keyward/keyward/pkg/httpapi"
	"github.com/keyward/keyward/pkg/jwks"
	"github.com/keyward/keyward/pkg/store"
	"github.com/keyward/keyward/pkg/token"
)

// Config holds the deployment settings of the OAuth routes. The issuer is not one of
// them: it is the token Verifier's (ISSUER), so the iss that tokens are
// signed with, published under and checked against is one value.
type Config struct {
	Audience        string
	AccessLifetime  time.Duration
	RefreshLifetime time.Duration
}

// Families is the refresh-token storage contract (see token.Dynamo).
type Families interface {
	// Create writes a new family and its event.
	Create(ctx context.Context, f *token.Family, e *store.Event) error
	// Rotate swaps the current token for next if presented is current and usable, and
	// returns the family as rotated; ErrReused if presented was used before,
	// ErrInvalidGrant otherwise. It records no event.
	Rotate(ctx context.Context, keyID string, presented, next token.Refresh, secretNs []int64, now, expires time.Time) (*token.Family, error)
	// PutEvent records an event in the key's log.
	PutEvent(ctx context.Context, e *store.Event) error
	// Get returns the family with id, or store.ErrNotFound.
	Get(ctx context.Context, id string) (*token.Family, error)
	// RevokeFamily revokes the family of presented if it is keyID's; reports whether it did.
	RevokeFamily(ctx context.Context, keyID string, presented token.Refresh, e *store.Event) (bool, error)
	// RevokeAccess records key k's access token jti (issued at iat, expiring at exp)
	// as revoked on the key, in bounded memory (token.Dynamo.RevokeAccess).
	RevokeAccess(ctx context.Context, k *store.Key, jti string, iat, exp, now time.Time, e *store.Event) error
}

var _ Families = (*token.Dynamo)(nil)

// API serves the OAuth routes.
type API struct {
	Verifier *auth.Verifier // clients and introspecting callers
	Keys     auth.KeyReader
	Families Families
	Signer   *token.Signer
	Tokens   *token.Verifier
	JWKS     *jwks.Cache
	Config   Config
	Log      *slog.Logger
	Now      func() time.Time
}

// Router returns the OAuth routes keyed as template.yaml declares them.
func (a *API) Router() *httpapi.Router {
	r := &httpapi.Router{Log: a.Log, Errors: renderError}
	r.Handle("POST /v1/oauth/token", a.oauth(a.token))
	r.Handle("POST /v1/users/oidc/token", a.oauth(a.token))
	r.Handle("POST /v1/oauth/revoke", a.oauth(a.revoke))
	r.Handle("POST /v1/oauth/introspect", a.oauth(a.introspect))
	r.Handle("GET /.well-known/openid-configuration", a.oauth(a.discovery))
	r.Handle("GET /.well-known/jwks.json", a.oauth(a.jwks))
	return r
}

// request is one OAuth request: its form, the time and where it came from.
type request struct {
	req  *events.APIGatewayV2HTTPRequest
	form map[string]string
	now  time.Time
	// caller is the authenticated client or introspector, once known: its use is
	// recorded only if the request succeeds.
	caller *auth.Principal
}

func (r *request) ip() string { return r.req.RequestContext.HTTP.SourceIP }

type handler func(ctx context.Context, r *request) (httpapi.Response, error)

// oauth runs h on one request, and records the caller's use once it has succeeded.
// Its errors are answered by renderError (see Router).
func (a *API) oauth(h handler) httpapi.Handler {
	return func(ctx context.Context, req *events.APIGatewayV2HTTPRequest) (httpapi.Response, error) {
		r := &request{req: req, now: a.Now().UTC()}
		resp, err := h(ctx, r)
		if err == nil && r.caller != nil {
			a.Verifier.RecordUse(ctx, *r.caller, r.ip())
		}
		return resp, err
	}
}

// parseForm reads the form body into r.form (see decodeForm).
func parseForm(r *request) error {
	ct := header(r.req.Headers, "content-type")
	if err := checkFormType(ct); err != nil {
		return err
	}
	raw, err := httpapi.Body(r.req)
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) && he.Status == 413 {
			return errTooLarge.with(he.Detail)
		}
		return errInvalidRequest.with("The body could not be read.")
	}
	form, err := decodeForm(ct, raw)
	if err != nil {
		return err
	}
	r.form = form
	return nil
}

// checkFormType accepts application/x-www-form-urlencoded, in UTF-8.
func checkFormType(contentType string) error {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return errInvalidRequest.with("The body must be application/x-www-form-urlencoded.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errInvalidRequest.with("The form must be UTF-8.")
	}
	return nil
}

// decodeForm decodes an OAuth request body: application/x-www-form-urlencoded only
// (a charset, if given, must be utf-8), decoded strictly by httpapi.ParseParams
// (every name and value UTF-8), each parameter at most once (RFC 6749 §3.2), empty
// values treated as absent. Anything else is invalid_request, naming the first
// problem in the body's order.
func decodeForm(contentType string, raw []byte) (map[string]string, error) {
	if err := checkFormType(contentType); err != nil {
		return nil, err
	}
	pairs, err := httpapi.ParseParams(string(raw))
	if err != nil {
		var he *httpapi.Error
		if errors.As(err, &he) {
			return nil, errInvalidRequest.with(describe("The body is not a valid form: " + he.Detail))
		}
		return nil, errInvalidRequest.with("The body is not a valid form.")
	}
	form := make(map[string]string, len(pairs))
	seen := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		if seen[p.Name] {
			return nil, errInvalidRequest.with(describe("Parameter " + p.Name + " is repeated."))
		}
		seen[p.Name] = true
		if p.Value != "" {
			form[p.Name] = p.Value
		}
	}
	return form, nil
}

// describe keeps an error_description within the characters RFC 6749 §5.2 allows
// (printable ASCII but '"' and '\\'), since it may quote a client's parameter name.
func describe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// header returns a header's value, whatever its case; among several spellings the
// greatest name in byte order (the lowercase one) wins, never the map's order.
func header(h map[string]string, name string) string {
	var value, got string
	for k, v := range h {
		if strings.EqualFold(k, name) && k >= got {
			value, got = v, k
		}
	}
	return value
}

// authenticateClient checks the client's credentials, from HTTP Basic or the body
// (never both), for the use u, and returns the key it is. A failed Basic attempt is
// answered with WWW-Authenticate (RFC 6749 §5.2); a key over its limits with 429.
func (a *API) authenticateClient(ctx context.Context, r *request, u auth.Use) (auth.Principal, error) {
	id, secret, basic, err := clientCredentials(r)
	if err != nil {
		return auth.Principal{}, err
	}
	fail := func(desc string) error {
		e := errInvalidClient.with(desc)
		if basic {
			e.Header = map[string]string{"WWW-Authenticate": `Basic realm="keyward"`}
		}
		return e
	}
	if id == "" || secret == "" {
		if basic {
			return auth.Principal{}, fail("Client authentication failed.")
		}
		return auth.Principal{}, fail("Client authentication is required: client_id and client_secret, or HTTP Basic.")
	}
	// Only client id's own API key is its secret: anything else (another key, a
	// token, the root credential) is refused before it is verified, so it spends nothing.
	if k, err := apikey.Parse(secret, a.Verifier.Prefix); err != nil || k.ID != id {
		return auth.Principal{}, fail("Client authentication failed.")
	}
	d, err := a.Verifier.VerifyUse(ctx, secret, r.ip(), u)
	if err != nil {
		return auth.Principal{}, err
	}
	switch d.Reason {
	case auth.TooManyAttempts:
		e := errTooManyAttempts.with("Too many failed attempts for this client from this address; retry later.")
		e.Header = map[string]string{"Retry-After": strconv.Itoa(d.RetryAfterSeconds())}
		return auth.Principal{}, e
	case auth.RateLimited, auth.UsageExceeded:
		return auth.Principal{}, overLimits(d)
	}
	// Only an API key is a client: not the root credential, not an access token.
	if !d.OK() || d.Principal.Kind != auth.KindAPIKey || d.Principal.KeyID != id {
		return auth.Principal{}, fail("Client authentication failed.")
	}
	r.caller = &d.Principal
	return d.Principal, nil
}

// overLimits is the 429 of a client over its limits, with Retry-After the seconds to
// the window's end or the next refill (none for credits never refilled).
func overLimits(d auth.Decision) error {
	e := errUsageExceeded.with("The client has no credits left.")
	if d.Reason == auth.RateLimited {
		e = errRateLimited.with("The client's rate limit is reached; retry when the window ends.")
	}
	if d.Reason == auth.RateLimited || d.RetryAfter > 0 {
		e.Header = map[string]string{"Retry-After": strconv.Itoa(d.RetryAfterSeconds())}
	}
	return e
}

// clientCredentials returns the presented client id and secret and whether they came
// by HTTP Basic.
func clientCredentials(r *request) (id, secret string, basic bool, err error) {
	authz := strings.TrimSpace(header(r.req.Headers, "authorization"))
	scheme, rest, _ := strings.Cut(authz, " ")
	if authz != "" && strings.EqualFold(scheme, "basic") {
		if _, ok := r.form["client_secret"]; ok {
			return "", "", true, errInvalidRequest.with("Use one client authentication method, not both Basic and client_secret.")
		}
		raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		u, p, ok := strings.Cut(string(raw), ":")
		if derr != nil || !ok {
			return "", "", true, nil
		}
		// RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
		uid, err1 := url.QueryUnescape(u)
		pw, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return "", "", true, nil
		}
		if bodyID, ok := r.form["client_id"]; ok && bodyID != uid {
			return "", "", true, errInvalidRequest.with("client_id differs from the Basic user.")
		}
		return uid, pw, true, nil
	}
	return r.form["client_id"], r.form["client_secret"], false, nil
}

// issuer is the deployment's configured issuer: the Signer's, never the request's
// Host or domain (which a caller chooses).
func (a *API) issuer() (string, error) {
	if a.Signer == nil || a.Signer.Issuer == "" {
		return "", errors.New("oauth: no issuer configured")
	}
	return a.Signer.Issuer, nil
}
