// Package gateway is Keyward's local stand-in for API Gateway (HTTP API, payload 2.0)
// and the Lambda service: it serves the template's HttpApi routes on loopback, turns
// each request into an events.APIGatewayV2HTTPRequest, runs Lambda authorizers first
// where a route names one, and invokes the function's real bootstrap binary over the
// Lambda Runtime API, which it implements for each child process on its own port.
//
// Like Lambda, a function keeps warm processes and reuses an idle one; it starts
// another only when all are busy, up to a bound. Every child runs in its own process
// group and Close stops them all.
package gateway
