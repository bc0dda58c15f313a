package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The raw runtime reads a request as aws-lambda-go sends its answer (chunked, with
// trailers declared) and as it sends everything else (sized, or no body), each up to
// its last byte: the next request on the connection starts where it ends.
func TestReadRequestAsTheClientWritesIt(t *testing.T) {
	var wire bytes.Buffer
	answer, _ := http.NewRequest("POST", "http://127.0.0.1:9001/2018-06-01/runtime/invocation/r1/response",
		io.MultiReader(strings.NewReader(`{"isAuthorized":`), strings.NewReader(`true}`)))
	answer.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": {"Runtime.Test"}}
	sized, _ := http.NewRequest("POST", "http://127.0.0.1:9001/2020-01-01/extension/register", strings.NewReader(`{"events":[]}`))
	next, _ := http.NewRequest("GET", "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next", nil)
	for _, r := range []*http.Request{answer, sized, next} {
		if err := r.Write(&wire); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(wire.String(), "Transfer-Encoding: chunked") || !strings.Contains(wire.String(), "\r\n0\r\nLambda-Runtime-Function-Error-Type: Runtime.Test\r\n") {
		t.Fatalf("the answer was not sent chunked, with its trailer:\n%s", wire.String())
	}
	in := bufio.NewReader(&wire)
	for _, want := range []struct{ method, path, body string }{
		{"POST", "/2018-06-01/runtime/invocation/r1/response", `{"isAuthorized":true}`},
		{"POST", "/2020-01-01/extension/register", `{"events":[]}`},
		{"GET", "/2018-06-01/runtime/invocation/next", ""},
	} {
		method, path, body, err := readRequest(in)
		if err != nil || method != want.method || path != want.path || string(body) != want.body {
			t.Fatalf("read %s %s %q (%v), want %s %s %q", method, path, body, err, want.method, want.path, want.body)
		}
	}
	if _, _, _, err := readRequest(in); err != io.EOF {
		t.Errorf("after the last request: %v, want EOF", err)
	}
}
