package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
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
	errTooLarge          = &oauthError{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request"}
	errServer            = &oauthError{Status: http.StatusInternalServerError, Code: "server_error",
		Description: "An internal error occurred; it has been logged."}
)

// noStore are the headers of every token-bearing answer (RFC 6749 §5.1).
func noStore(contentType string) map[string]string {
	return map[string]string{"Content-Type": contentType, "Cache-Control": "no-store", "Pragma": "no-cache"}
}

func answer(status int, v any) events.APIGatewayV2HTTPResponse {
	body, err := json.Marshal(v)
	if err != nil {
		panic("oauth: marshal response: " + err.Error()) // only our own types reach here
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: noStore("application/json;charset=UTF-8"), Body: string(body)}
}

// errorAnswer maps err to its RFC 6749 §5.2 answer; anything but an *oauthError is
// logged and answered server_error, without its text.
func errorAnswer(ctx context.Context, log *slog.Logger, err error) events.APIGatewayV2HTTPResponse {
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
	for k, v := range e.Header {
		resp.Headers[k] = v
	}
	return resp
}
