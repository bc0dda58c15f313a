// Package httpapi is the one place where Keyward's HTTP API turns results and errors
// into API Gateway payload 2.0 responses.
//
// Management errors are RFC 9457 problem details with a stable snake_case code; a
// handler returns an *Error for anything the caller did wrong and a plain error for
// anything that failed inside. Invariant: a 5xx body is always the same generic
// text; the internal error goes to the log only, never to the caller.
package httpapi
