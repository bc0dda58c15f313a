package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
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

// fakeBootstrap plays aws-lambda-go's part against the raw runtime at addr for n
// invocations: a next, then the answer, posted chunked (its length hidden, as
// aws-lambda-go's reader hides it) with a trailer declared. It checks each event and
// its headers, and stops early when leave says so after an invocation.
func fakeBootstrap(addr string, n int, payload []byte, answer string, leave func(i int) bool) error {
	c := &http.Client{}
	defer c.CloseIdleConnections()
	api := "http://" + addr + "/2018-06-01/runtime/invocation/"
	for i := range n {
		resp, err := c.Get(api + "next")
		if err != nil {
			return err
		}
		event, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		id, deadline := resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), resp.Header.Get("Lambda-Runtime-Deadline-Ms")
		if err != nil || !bytes.Equal(event, payload) || len(id) != 32 || deadline == "" || resp.ContentLength != int64(len(payload)) {
			return fmt.Errorf("next %d: %q (%v), id %q, deadline %q, length %d", i, event, err, id, deadline, resp.ContentLength)
		}
		req, _ := http.NewRequest("POST", api+id+"/response", io.MultiReader(strings.NewReader(answer)))
		req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil}
		resp, err = c.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || resp.ContentLength != 0 {
			return fmt.Errorf("response %d: %s, length %d", i, resp.Status, resp.ContentLength)
		}
		if leave(i) {
			return nil
		}
	}
	return nil
}

// runRaw has r serve blocks of block invocations to a fake bootstrap, and returns
// run's errors and the bootstrap's; each wait is bounded, and says what was slow.
func runRaw(t *testing.T, blocks, block int, answer string, leave func(i int) bool) (r *rawRuntime, runErr, fakeErr error) {
	t.Helper()
	payload := []byte(`{"type":"REQUEST","routeKey":"GET /v1/whoami"}`)
	r, err := newRawRuntime("AuthorizerFunction", payload, `"isAuthorized":true`, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.pid = os.Getpid()
	t.Cleanup(r.close)
	fake := make(chan error, 1)
	go func() { fake <- fakeBootstrap(r.ln.Addr().String(), blocks*block, payload, answer, leave) }()
	runs := make(chan error, 1)
	go func() {
		var errs []error
		for range blocks {
			err := r.run(block, true)
			if errs = append(errs, err); err != nil {
				break
			}
		}
		runs <- errors.Join(errs...)
	}()
	for _, wait := range []struct {
		phase string
		ch    chan error
		err   *error
	}{{"the fake bootstrap's invocations", fake, &fakeErr}, {"the raw runtime's blocks", runs, &runErr}} {
		select {
		case *wait.err = <-wait.ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not end within 30 s", wait.phase)
		}
	}
	return r, runErr, fakeErr
}

func TestRawRuntimeServesBlocks(t *testing.T) {
	r, runErr, fakeErr := runRaw(t, 3, 4, `{"isAuthorized":true}`, func(int) bool { return false })
	if runErr != nil || fakeErr != nil {
		t.Fatalf("run: %v; bootstrap: %v", runErr, fakeErr)
	}
	if r.units != 12 || r.id != 12 {
		t.Errorf("measured %d units over %d invocations, want 12 and 12", r.units, r.id)
	}
}

func TestRawRuntimeRefusesAWrongAnswer(t *testing.T) {
	_, runErr, _ := runRaw(t, 1, 2, `{"isAuthorized":false}`, func(int) bool { return false })
	if runErr == nil || !strings.Contains(runErr.Error(), "answer without") {
		t.Fatalf("run: %v, want an answer without the success", runErr)
	}
}

func TestRawRuntimeReportsABootstrapThatLeaves(t *testing.T) {
	_, runErr, fakeErr := runRaw(t, 1, 3, `{"isAuthorized":true}`, func(i int) bool { return i == 0 })
	if fakeErr != nil || runErr == nil || !strings.Contains(runErr.Error(), "middle of a block") {
		t.Fatalf("run: %v; bootstrap: %v; want the block's end reported", runErr, fakeErr)
	}
}
