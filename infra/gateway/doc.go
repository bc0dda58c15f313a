// Package gateway is Keyward's local stand-in for API Gateway (HTTP API, payload 2.0)
// and the Lambda service: it serves the template's HttpApi routes on loopback, turns
// each request into an events.APIGatewayV2HTTPRequest, runs Lambda authorizers first
// where a route names one, and invokes the function's real bootstrap binary over the
// Lambda Runtime API, which it implements for each child process on its own port.
//
// Like API Gateway, every answer carries a request id (Request-Id, the event's
// requestContext.requestId), the raw query string reaches the function untouched
// (rawQueryString; queryStringParameters holds what decodes), and an authorizer is
// refused before it runs only when one of its declared identity sources is missing:
// with none declared (caching off), every request reaches it. The gateway logs one
// line per request (method, path, status, duration, key id, error code, request id),
// folding in the function's own JSON request line, which it does not print again.
//
// Like Lambda, a function keeps warm processes and reuses an idle one; it starts
// another only when all are busy, up to a bound. Every child runs in its own process
// group and Close stops them all, as Lambda ends an environment: SIGTERM, then SIGKILL
// after 2 s, so a function that registered for SIGTERM (the Extensions API's register
// and event/next, as far as lambda.WithEnableSIGTERM uses them) flushes what it holds
// and exits first. A process the gateway stops is no error in its log.
//
// A process that runs the gateway sets GOMAXPROCS to Procs and GODEBUG to Godebug
// (ExecWithGodebug, first in main), the settings its CPU per proxied invocation is
// measured with (make bench).
package gateway
