package gateway

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStopDeliversSIGTERM: a function registered for SIGTERM (lambda.WithEnableSIGTERM,
// as Keyward's functions flush their usage counts with it) gets it when the gateway
// stops, runs its handler and exits by itself, well before the SIGKILL; and nothing
// of it is left running.
func TestStopDeliversSIGTERM(t *testing.T) {
	f := newFunction(t, "Flushing")
	file := filepath.Join(t.TempDir(), "flushed")
	f.Env = append(f.Env, "FAKE_SIGTERM_FILE="+file)
	out := &lockedBuffer{}
	f.Stderr = out
	if _, err := f.Invoke(context.Background(), []byte(`{"routeKey":"GET /x","body":""}`)); err != nil {
		t.Fatal(err)
	}
	live := f.Processes()
	start := time.Now()
	f.Close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("stop took %s: the process did not exit on SIGTERM", took)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "flushed" {
		t.Errorf("SIGTERM handler did not run: %q, %v", b, err)
	}
	for _, pid := range live {
		if processAlive(pid) {
			t.Errorf("pid %d still running after Close", pid)
		}
	}
	// The runtime registered its extension (Lambda sends SIGTERM only then).
	if strings.Contains(out.String(), "WARNING") {
		t.Errorf("function output: %s", out.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPercentEncodedPathParameter: an owner holding '/' and '@', sent percent-encoded
// in one path segment, matches the one-segment route and reaches the function decoded
// in pathParameters, with the raw path as sent.
func TestPercentEncodedPathParameter(t *testing.T) {
	srv, _, _ := newTestGateway(t)
	const owner = "team-a/billing@example.com"
	raw := "/v1/keys/" + url.PathEscape(owner)
	resp, body := do(t, "GET", srv.URL+raw, "", nil)
	if resp.StatusCode != 201 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatal(err)
	}
	if e.Event.PathParameters["id"] != owner || e.Event.RawPath != "/v1/keys/team-a%2Fbilling@example.com" || e.Event.RouteKey != "GET /v1/keys/{id}" {
		t.Errorf("pathParameters %v, rawPath %q, route %q", e.Event.PathParameters, e.Event.RawPath, e.Event.RouteKey)
	}
}
