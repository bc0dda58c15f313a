package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// acceptClientEnv makes the test binary a bootstrap that takes one invocation,
// posts its answer as aws-lambda-go does (chunked: the body's length is hidden from
// net/http) and writes what the 202 looked like to the file the variable names.
const acceptClientEnv = "GATEWAY_TEST_ACCEPT_FILE"

// acceptShape is how the Runtime API's 202 came over the wire.
type acceptShape struct {
	Status           int
	ContentLength    int64
	TransferEncoding []string
}

func acceptClient(file string) error {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/invocation/"
	next, err := http.Get(api + "next")
	if err != nil {
		return err
	}
	event, err := io.ReadAll(next.Body)
	_ = next.Body.Close()
	if err != nil {
		return err
	}
	id := next.Header.Get("Lambda-Runtime-Aws-Request-Id")
	body := io.MultiReader(strings.NewReader(`{"echo":`), strings.NewReader(string(event)+`}`))
	resp, err := http.Post(api+id+"/response", "application/json", body)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	out, _ := json.Marshal(acceptShape{resp.StatusCode, resp.ContentLength, resp.TransferEncoding})
	if err := os.WriteFile(file+".tmp", out, 0o600); err != nil {
		return err
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		return err
	}
	select {} // as a bootstrap waits for its next invocation
}

// The 202 that acknowledges an answer is sized (Content-Length: 0) and whole in
// its headers: the emulator flushes it before it hands the answer on, and a flush of
// an unsized response would send it chunked, with a terminating chunk the bootstrap
// must wait for and read as well.
func TestResponseAcceptedIsSizedAndWhole(t *testing.T) {
	file := t.TempDir() + "/accept.json"
	f := newFunction(t, "Accept")
	f.Binary = os.Args[0]
	f.Env = append(f.Env, acceptClientEnv+"="+file)
	got, err := f.Invoke(context.Background(), []byte(`{"n":1}`))
	if err != nil || string(got) != `{"echo":{"n":1}}` {
		t.Fatalf("invoke = %s, %v", got, err)
	}
	var shape acceptShape
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(file)
		if err == nil {
			if err := json.Unmarshal(data, &shape); err != nil {
				t.Fatal(err)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("the bootstrap did not report the 202 within 10 s of its answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want := (acceptShape{Status: http.StatusAccepted}); fmt.Sprint(shape) != fmt.Sprint(want) {
		t.Errorf("the 202 came as %+v, want %+v", shape, want)
	}
}
