// Package httpapi is the one place where Keyward's HTTP API turns results and errors
// into API Gateway payload 2.0 responses, and where request input is read strictly.
//
// Router.Serve answers every request with Request-Id, API Gateway's request id
// (requestContext.requestId), and logs it once as JSON: route, status, key_id (the
// key the credential named, see NoteKeyID), code (the error code, "" on success)
// and request_id, the same id the caller got.
//
// A Handler returns a Response (a status and a value, rendered as JSON, or raw bytes)
// or an error, and Router.Serve renders either, once: the Response with its headers
// (application/json and Cache-Control: no-store unless it says otherwise), an error
// by the Router's ErrorRenderer. Management errors are RFC 9457 problem details
// with a stable snake_case code (Problem, the default renderer); package oauth
// renders RFC 6749 errors instead. A handler returns an *Error for anything the
// caller did wrong and a plain error for anything that failed inside. Invariant: a
// 5xx body is always the same generic text; the internal error goes to the log
// only, never to the caller.
//
// Input invariants (DecodeJSON, Decode, DecodeField, CheckQuery, ParseParams):
//   - A JSON route takes application/json or application/*+json (415 otherwise); no
//     Content-Type is accepted only with an empty body.
//   - A JSON body is walked once, in document order, against the Go type it decodes
//     into, before anything is converted: invalid UTF-8 (or an escaped lone
//     surrogate), a duplicate key at any depth, an unknown or mis-cased field, a
//     value of the wrong type, an integer outside its Go type, a number DynamoDB
//     cannot store, nesting over 64 levels and trailing data are each a 400 with a
//     stable code and the field's path (metadata.a.b, scopes[2]) in Error.Field.
//     The first problem in the document is the one answered, so the same bad input
//     always gets the same error.
//   - Numbers decoded into an interface are json.Number: no digit is lost.
//   - A query string is decoded strictly (malformed_query); an unknown or repeated
//     parameter is a 400 naming the first one in sorted order.
package httpapi
