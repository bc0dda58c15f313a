package oauth

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"

	"github.com/keyward/keyward/pkg/httpapi"
)

// oauthError is an RFC 6749 §5.2 error answer. The package's values are sentinels:
// with returns a copy with a description, never mutating them (as fosite does).
type oauthError struct {
	Status      int
	Code        string
	Description string
	Header      map[string]string
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func (e *oauthError) with(desc string) *oauthError {
	c := *e
	c.Description = desc
	return &c
}

var (
	errInvalidRequest       = &oauthError{Status: http.StatusBadRequest, Code: "invalid_request"}
	errInvalidClient        = &oauthError{Status: http.StatusUnauthorized, Code: "invalid_client"}
	errInvalidGrant         = &oauthError{Status: http.StatusBadRequest, Code: "invalid_grant"}
	errInvalidScope         = &oauthError{Status: http.StatusBadRequest, Code: "invalid_scope"}
	errUnsupportedGrantType = &oauthError{Status: http.StatusBadRequest, Code: "unsupported_grant_type"}
	// errTooManyAttempts: RFC 6749 has no code for a throttled client; invalid_client
	// keeps libraries on their failure path, and the 429 says it is temporary.
	errTooManyAttempts   = &oauthError{Status: http.StatusTooManyRequests, Code: "invalid_client"}
	errInsufficientScope = &oauthError{Status: http.StatusForbidden, Code: "insufficient_scope"}
	// errRateLimited, errUsageExceeded: the client's key is over its usage limits (its
	// or its owner's rate limit, its credits). Extension codes (RFC 6749 §8.5), in the
	// spirit of RFC 8628's slow_down: the 429 and Retry-After say when to come back.
	errRateLimited   = &oauthError{Status: http.StatusTooManyRequests, Code: "rate_limited"}
	errUsageExceeded = &oauthError{Status: http.StatusTooManyRequests, Code: "usage_exceeded"}
	errTooLarge      = &oauthError{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request"}
	errServer        = &oauthError{Status: http.StatusInternalServerError, Code: "server_error",
		Description: "An internal error occurred; it has been logged."}
)

// jsonType is the Content-Type of every OAuth JSON answer.
const jsonType = "application/json;charset=UTF-8"

// noCache is the header a token-bearing answer adds to Cache-Control: no-store (RFC
// 6749 §5.1). It is shared: a Response's Header is only read.
var noCache = map[string]string{"Pragma": "no-cache"}

// answer is v as a token-bearing JSON answer: not to be stored or cached.
func answer(status int, v any) httpapi.Response {
	return httpapi.Response{Status: status, Body: v, Type: jsonType, Header: noCache}
}

// renderError is the OAuth routes' httpapi.ErrorRenderer, the one place their errors
// are answered: err as its RFC 6749 §5.2 body. Anything but an *oauthError is logged
// and answered server_error, without its text.
func renderError(ctx context.Context, log *slog.Logger, err error) (httpapi.Response, string) {
	var e *oauthError
	if !errors.As(err, &e) {
		log.ErrorContext(ctx, "internal error", "err", err)
		e = errServer
	}
	body := map[string]string{"error": e.Code}
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	resp := answer(e.Status, body)
	if len(e.Header) > 0 {
		resp.Header = maps.Clone(noCache)
		maps.Copy(resp.Header, e.Header)
	}
	return resp, e.Code
}
