package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/pkg/apikey"
)

// needStackTools skips (or, under make test, fails) when the stack cannot start here.
func needStackTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole local stack")
	}
	for _, tool := range []string{"java", "moto_server", "python3", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KEYWARD_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is required", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// coldWave starts n clients at once against the stack at base, which need not be
// ready yet: each creates a key with root, trades it for an access token and calls
// the authorizer (GET /v1/whoami) with the token and with the key in X-API-Key. The
// function returned waits for them and returns each client's error.
func coldWave(t *testing.T, base, root string, n int) func() []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	// Until the port is taken, a connection is refused: the stack takes it first
	// thing, so dial again for up to a minute. Once it is taken, a request waits
	// until the stack is ready (the caller's waitReady bounds that on progress).
	client := &http.Client{}
	send := func(method, path, credential, header, contentType, body string) (int, []byte, error) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if credential != "" {
			if header == "" {
				req.Header.Set("Authorization", "Bearer "+credential)
			} else {
				req.Header.Set(header, credential)
			}
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for tries := 0; ; tries++ {
			resp, err := client.Do(req)
			var op *net.OpError
			if err != nil && asOpError(err, &op) && op.Op == "dial" && tries < 3000 {
				time.Sleep(20 * time.Millisecond) // not listening yet
				if req.GetBody != nil {
					req.Body, _ = req.GetBody()
				}
				continue
			}
			if err != nil {
				return 0, nil, err
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, data, nil
		}
	}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = func() error {
				code, data, err := send("POST", "/v1/keys", root, "", "application/json",
					fmt.Sprintf(`{"name":"cold-%d","owner":"cold@example.com","scopes":["orders:read"]}`, i))
				if err != nil || code != 201 {
					return fmt.Errorf("create: %d %s %v", code, data, err)
				}
				var key struct{ ID, Secret string }
				if err := json.Unmarshal(data, &key); err != nil {
					return err
				}
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {key.ID}, "client_secret": {key.Secret}}
				code, data, err = send("POST", "/v1/oauth/token", "", "", "application/x-www-form-urlencoded", form.Encode())
				if err != nil || code != 200 {
					return fmt.Errorf("token: %d %s %v", code, data, err)
				}
				var tok struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" {
					return fmt.Errorf("token: %s %v", data, err)
				}
				for _, c := range []struct{ credential, header string }{{tok.AccessToken, ""}, {key.Secret, "X-API-Key"}} {
					code, data, err = send("GET", "/v1/whoami", c.credential, c.header, "", "")
					if err != nil || code != 200 || !bytes.Contains(data, []byte(key.ID)) {
						return fmt.Errorf("whoami (%s): %d %s %v", first(c.header, "bearer token"), code, data, err)
					}
				}
				return nil
			}()
		}()
	}
	close(start)
	return func() []error { wg.Wait(); return errs }
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func asOpError(err error, target **net.OpError) bool {
	for err != nil {
		if op, ok := err.(*net.OpError); ok {
			*target = op
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// testOperations checks what an operator relies on: every answer carries Request-Id,
// the stack logs one line per request with the method, path, status, duration, key
// id, error code and that id; an undecodable query string is a 400 problem, not
// dropped; and the authorizer takes every documented way to present a key.
func testOperations(t *testing.T, s *localStack) {
	get := func(path string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", s.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if len(resp.Header.Get("Request-Id")) < 16 {
			t.Errorf("GET %s: Request-Id %q, want one on every answer", path, resp.Header.Get("Request-Id"))
		}
		return resp, data
	}
	// logLine waits for the stack's line for request id and checks that it is the
	// only one that names it.
	logLine := func(id string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var lines []string
			for _, l := range strings.Split(s.out.String(), "\n") {
				if strings.Contains(l, id) {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 || time.Now().After(deadline) {
				if len(lines) != 1 {
					t.Errorf("request %s logged %d times, want once:\n%s", id, len(lines), strings.Join(lines, "\n"))
					return strings.Join(lines, "\n")
				}
				return lines[0]
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	resp, data := get("/v1/keys?cursor=%%%garbage", "Authorization", "Bearer "+s.root)
	if resp.StatusCode != 400 || !bytes.Contains(data, []byte(`"code":"malformed_query"`)) {
		t.Errorf("GET /v1/keys?cursor=%%%%%%garbage: %d %s, want a 400 malformed_query problem", resp.StatusCode, data)
	}
	line := logLine(resp.Header.Get("Request-Id"))
	for _, want := range []string{"method=GET", "path=/v1/keys", "status=400", "duration_ms=", "code=malformed_query"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q has no %s", line, want)
		}
	}

	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json", `{"name":"ops","scopes":["orders:read"]}`, &key); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for _, h := range [][2]string{{"X-API-Key", key.Secret}, {"Authorization", "ApiKey " + key.Secret}, {"Authorization", "Bearer " + key.Secret}} {
		resp, data := get("/v1/whoami", h[0], h[1])
		if resp.StatusCode != 200 || !bytes.Contains(data, []byte(key.ID)) {
			t.Errorf("whoami with %s: %d %s, want 200 for the key", h[0], resp.StatusCode, data)
			continue
		}
		line := logLine(resp.Header.Get("Request-Id"))
		if !strings.Contains(line, "key_id="+key.ID) || !strings.Contains(line, "status=200") {
			t.Errorf("whoami's log line %q: want key_id=%s and status=200", line, key.ID)
		}
	}
	// The keys function names the key too, and a refusal its code: a well-formed key
	// (its checksum holds) with the wrong secret.
	wrong := apikey.NewWithID(key.Secret[:strings.Index(key.Secret[3:], "_")+4], key.ID).String()
	resp, _ = get("/v1/keys/"+key.ID, "Authorization", "Bearer "+wrong)
	line = logLine(resp.Header.Get("Request-Id"))
	if resp.StatusCode != 401 || !strings.Contains(line, "key_id="+key.ID) || !strings.Contains(line, "code=") || strings.Contains(line, `code=""`) {
		t.Errorf("a wrong secret: %d, log line %q: want 401 with the key id and an error code", resp.StatusCode, line)
	}
	resp, _ = get("/nope")
	if line := logLine(resp.Header.Get("Request-Id")); resp.StatusCode != 404 || !strings.Contains(line, "status=404") {
		t.Errorf("unknown route: %d, log line %q", resp.StatusCode, line)
	}
}

// TestBusyPort checks that a second stack on a port in use fails at once, in one line,
// and leaves the running stack's files (root-key, stack.json) as they were.
func TestBusyPort(t *testing.T) {
	p, err := localstack.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	bin := localBinary(t, p.Root)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	files := map[string][]byte{
		"root-key":   []byte("kw_root_the-running-stacks-credential\n"),
		"stack.json": []byte(`{"base_url":"http://127.0.0.1:` + port + `","port":` + port + `,"pid":1}`),
	}
	stamps := map[string]time.Time{}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour).Truncate(time.Second)
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		stamps[name] = old
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = p.Root
	cmd.Env = append(cleanEnv(), "PORT="+port, "KEYWARD_LOCAL_DIR="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err == nil {
		t.Fatalf("serve on a busy port succeeded:\n%s", out.String())
	}
	if took > 2*time.Second {
		t.Errorf("serve on a busy port took %s to fail, want under 2 s", took)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "port "+port+" is in use") {
		t.Errorf("output %q, want one line saying port %s is in use", out.String(), port)
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s changed: %q (%v)", name, got, err)
		}
		if fi, err := os.Stat(path); err != nil || !fi.ModTime().Equal(stamps[name]) {
			t.Errorf("%s was touched", name)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(files) {
		t.Errorf("the state directory holds %d entries, want only the running stack's %d", len(entries), len(files))
	}
	t.Logf("failed in %s: %s", took.Round(time.Millisecond), strings.TrimSpace(out.String()))
}

// TestStopDuringStartup starts the stack 20 times and stops it each time at a random
// moment of its startup, the way a developer does: Ctrl-C or TERM to the process
// group, or TERM to the program alone. The moments cover every phase in turn: each
// run waits (on progress) for one phase to begin — the services, the tables, the
// secrets, the builds, the probes, ready — then a random fraction of a second more.
// Each time, once it has exited, no process it started may be left: not the
// services, not a compiler, not a bootstrap. The runs share one state directory, so
// the bootstraps built by the first are up to date for the others.
func TestStopDuringStartup(t *testing.T) {
	needStackTools(t)
	dir := t.TempDir()
	// What the output holds once each phase has begun ("" is the very start).
	phases := []struct{ name, begun string }{
		{"services", ""},
		{"tables", "keyward: phase services"},
		{"secrets", "name=tables"},
		{"builds", `name="secrets and first signing key"`},
		{"probes", `name="build `},
		{"ready", "msg=ready"},
	}
	signals := []struct {
		sig   syscall.Signal
		group bool
	}{{syscall.SIGINT, true}, {syscall.SIGTERM, true}, {syscall.SIGTERM, false}}
	began := time.Now()
	for i := 1; i <= 20; i++ {
		s := launchStack(t, dir, nil)
		ph := phases[(i-1)%len(phases)]
		s.waitFor(t, ph.begun)
		extra := time.Duration(rand.Int64N(int64(500 * time.Millisecond)))
		time.Sleep(extra)
		sg := signals[i%len(signals)]
		stopAndCheck(t, s, sg.sig, sg.group)
		t.Logf("run %d: stopped with %v (group %v) %s into %s (last phase done: %s)", i, sg.sig, sg.group,
			extra.Round(time.Millisecond), ph.name, lastPhase(s.out.String()))
		if t.Failed() {
			return
		}
	}
	t.Logf("20 starts and stops in %s", time.Since(began).Round(time.Second))
}

// waitFor waits until the stack's output holds marker, as long as it makes progress
// (60 s without new output is a failure naming the last phase done).
func (s *localStack) waitFor(t *testing.T, marker string) {
	t.Helper()
	const stall = 60 * time.Second
	progress, last := time.Now(), 0
	for !strings.Contains(s.out.String(), marker) {
		if n := len(s.out.String()); n != last {
			progress, last = time.Now(), n
		}
		if time.Since(progress) > stall {
			t.Fatalf("no progress for %s after %s, waiting for %q:\n%s", stall, lastPhase(s.out.String()), marker, s.out.String())
		}
		if done(s.cmd) {
			t.Fatalf("the stack exited before %q:\n%s", marker, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopAndCheck signals the stack (its process group, or the program alone), waits for
// it to exit, and fails if any process it started outlives it.
func stopAndCheck(t *testing.T, s *localStack, sig syscall.Signal, group bool) {
	t.Helper()
	pid := s.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(60 * time.Second); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Errorf("after %v: %v\n%s", sig, err, s.out.String())
		}
	}
	// services.sh waits for every service before it exits, and the program for
	// services.sh; allow the kernel a moment to reap.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := append(processesTagged(s.tag), processesUnder(s.dir)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left running after %v:\n%s\noutput:\n%s", sig, strings.Join(left, "\n"), s.out.String())
			for _, l := range left {
				var p int
				if _, err := fmt.Sscan(l, &p); err == nil {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
