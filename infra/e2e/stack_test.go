package e2e

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/infra/localstack"
	"github.com/keyward/keyward/pkg/testenv"
)

// localStack is infra/cmd/local serving, as make local runs it: `keyward-local serve`
// takes the port, then runs infra/services.sh around itself.
type localStack struct {
	base  string
	dir   string // KEYWARD_LOCAL_DIR
	root  string // the root credential
	tag   string // KEYWARD_STACK_TAG: every process that inherits the environment has it
	cmd   *exec.Cmd
	out   *testenv.Buffer
	p     *localstack.Project
	procs map[int]string // every descendant seen while running: pid -> start time
}

var localBin struct {
	once sync.Once
	path string
	err  string
}

// localBinary builds infra/cmd/local once per test binary.
func localBinary(t testing.TB, root string) string {
	t.Helper()
	localBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "keyward-local-bin")
		if err != nil {
			localBin.err = err.Error()
			return
		}
		localBin.path = filepath.Join(dir, "keyward-local")
		build := exec.Command("go", "build", "-trimpath", "-o", localBin.path, "./infra/cmd/local")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			localBin.err = fmt.Sprintf("build infra/cmd/local: %v\n%s", err, out)
		}
	})
	if localBin.err != "" {
		t.Fatal(localBin.err)
	}
	return localBin.path
}

// startStack launches the stack (launchStack) and waits until it is ready.
func startStack(t testing.TB) *localStack {
	t.Helper()
	s := launchStack(t, "", nil)
	s.waitReady(t)
	return s
}

// launchStack runs `keyward-local serve` on a free port with fresh services, its own
// state directory (dir, or a new one) and env added, and returns at once: the port is
// taken within moments, and requests wait until the stack is ready.
func launchStack(t testing.TB, dir string, env []string) *localStack {
	t.Helper()
	p, err := localstack.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	s := &localStack{dir: dir, out: &testenv.Buffer{}, p: p, procs: map[int]string{},
		tag: strings.ToLower(localstack.RandomString(9))}
	bin := localBinary(t, p.Root)
	port := freePort(t)
	s.base = "http://127.0.0.1:" + port
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Dir = p.Root
	s.cmd.Env = append(append(cleanEnv(), "PORT="+port, "KEYWARD_LOCAL_DIR="+s.dir, "KEYWARD_STACK_TAG="+s.tag), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil { // the test ended before stop: leave nothing behind
			s.snapshot()
			_ = s.cmd.Process.Signal(os.Interrupt)
			_ = s.wait(30 * time.Second)
		}
	})
	return s
}

// waitReady waits until the stack logs ready, and reads its root credential. The
// stack builds every bootstrap before it is ready, which on a loaded machine takes
// long: it waits as long as the stack makes progress (output, or one more bootstrap
// built), gives up after 60 s without any, and then names the last phase it logged.
func (s *localStack) waitReady(t testing.TB) {
	t.Helper()
	const stall = 60 * time.Second
	progress, lastOut, lastBuilt := time.Now(), 0, 0
	for !strings.Contains(s.out.String(), "msg=ready") {
		built, _ := filepath.Glob(filepath.Join(s.dir, "bin", "*", "bootstrap"))
		if n := len(s.out.String()); n != lastOut || len(built) != lastBuilt {
			progress, lastOut, lastBuilt = time.Now(), n, len(built)
		}
		if time.Since(progress) > stall {
			t.Fatalf("the local stack made no progress for %s after %s (%d bootstraps built):\n%s", stall, lastPhase(s.out.String()), lastBuilt, s.out.String())
		}
		if done(s.cmd) {
			t.Fatalf("the local stack exited:\n%s", s.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	key, err := os.ReadFile(filepath.Join(s.dir, "root-key"))
	if err != nil {
		t.Fatal(err)
	}
	s.root = strings.TrimSpace(string(key))
}

// lastPhase names the last startup phase the stack logged as done.
func lastPhase(out string) string {
	last := "the start (no phase done yet: the services start first)"
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "phase "); i >= 0 && strings.HasPrefix(line, "keyward: ") {
			last = "phase " + strings.Fields(line[i+len("phase "):])[0]
		}
		if i := strings.Index(line, "msg=phase name="); i >= 0 {
			last = "phase " + line[i+len("msg=phase "):]
		}
	}
	return last
}

// cleanEnv is this process's environment without the services of an enclosing
// infra/services.sh, so that the stack starts its own.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL") || strings.HasPrefix(k, "KEYWARD_") || k == "PORT" || k == "NOW" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func done(cmd *exec.Cmd) bool {
	return syscall.Kill(cmd.Process.Pid, 0) != nil
}

// snapshot records every live descendant of the stack's process (java, moto, the
// gateway, the bootstraps), which moved to their own process groups.
func (s *localStack) snapshot() {
	children := map[int][]int{}
	starts := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, start, ok := procStat(pid)
		if !ok {
			continue
		}
		children[ppid] = append(children[ppid], pid)
		starts[pid] = start
	}
	queue := []int{s.cmd.Process.Pid}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			s.procs[c] = starts[c]
			queue = append(queue, c)
		}
	}
}

// procStat reads a process's parent and start time; ok is false for a process gone
// or a zombie.
func procStat(pid int) (ppid int, start string, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[19], true
}

func (s *localStack) wait(d time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.cmd.Wait() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(d):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		for pid := range s.procs {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		<-errc
		return fmt.Errorf("did not exit within %s", d)
	}
}

// stop sends SIGINT, as Ctrl-C does, and checks that every process the stack started
// is gone.
func (s *localStack) stop(t *testing.T) {
	t.Helper()
	s.snapshot()
	if len(s.procs) == 0 {
		t.Error("no child processes seen while the stack ran")
	}
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(15 * time.Second); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() < 0 {
			t.Errorf("after SIGINT: %v\n%s", err, s.out.String())
		}
	}
	// The gateway stops its children as it exits; give the kernel a moment to reap.
	deadline := time.Now().Add(3 * time.Second)
	for {
		var left []string
		for pid, start := range s.procs {
			if _, st, ok := procStat(pid); ok && st == start {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				left = append(left, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			}
		}
		left = append(left, processesUnder(s.dir)...)
		left = append(left, processesTagged(s.tag)...)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left behind after SIGINT:\n%s", strings.Join(left, "\n"))
			for pid := range s.procs {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processesTagged lists live processes whose environment holds KEYWARD_STACK_TAG=tag:
// everything the stack started but the bootstraps, whose environment is the
// template's (processesUnder finds those).
func processesTagged(tag string) []string {
	var out []string
	want := "KEYWARD_STACK_TAG=" + tag
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), want) {
			continue
		}
		if _, _, ok := procStat(pid); ok {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			out = append(out, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// processesUnder lists live processes whose executable is under dir (the stack's
// bootstraps and gateway).
func processesUnder(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err != nil || !strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			continue
		}
		if _, _, ok := procStat(pid); ok {
			out = append(out, fmt.Sprintf("%d %s", pid, exe))
		}
	}
	return out
}

// hasRoute reports whether template.yaml routes key ("POST /v1/oauth/token").
func (s *localStack) hasRoute(key string) bool {
	for _, f := range s.p.Functions {
		for _, r := range f.Routes {
			if r.Key() == key {
				return true
			}
		}
	}
	return false
}

// call sends one request and decodes a JSON answer into out (if not nil).
func call(t testing.TB, method, u, credential, contentType, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, u, resp.StatusCode, data, err)
		}
	}
	t.Logf("%s %s -> %d %.300s", method, u, resp.StatusCode, data)
	return resp.StatusCode
}

// TestLocalStack starts `make local`'s program with its own services, drives it over
// HTTP (create, token, whoami, rotate, revoke), runs the README walkthrough against
// it, runs `make sweep NOW=…` against it, stops it with SIGINT, and checks
// that no process is left behind.
func TestLocalStack(t *testing.T) {
	needStackTools(t)
	start := time.Now()
	root := localstack.NewRootKey()
	s := launchStack(t, "", []string{"KEYWARD_ROOT_KEY=" + root})
	// Sixteen clients at once against the cold stack, sent before it is ready: each
	// creates a key, trades it for a token and calls the authorizer with it.
	wave := coldWave(t, s.base, root, 16)
	s.waitReady(t)
	t.Logf("ready in %s", time.Since(start).Round(time.Millisecond))
	if s.root != root {
		t.Fatalf("root-key holds %q, want KEYWARD_ROOT_KEY", s.root)
	}
	for i, err := range wave() {
		if err != nil {
			t.Errorf("cold client %d: %v", i, err)
		}
	}
	for _, p := range []string{"services", "tables", "secrets and first signing key", "build", "functions ready"} {
		if !strings.Contains(s.out.String(), "phase "+p) && !strings.Contains(s.out.String(), `phase name="`+p) &&
			!strings.Contains(s.out.String(), "phase name="+p) {
			t.Errorf("startup did not log phase %q with its time:\n%s", p, s.out.String())
		}
	}

	t.Run("flow", func(t *testing.T) { testFlow(t, s) })
	t.Run("issuer-and-root", func(t *testing.T) { testIssuerAndRoot(t, s) })
	t.Run("operations", func(t *testing.T) { testOperations(t, s) })
	t.Run("owner-limits", func(t *testing.T) { testOwnerLimits(t, s) })
	t.Run("enforcement", func(t *testing.T) { testEnforcement(t, s) })
	t.Run("readme", func(t *testing.T) { testWalkthrough(t, s) })
	if total, parts := stackRSS(s); total > 0 {
		t.Logf("the stack's RSS after the walkthrough: %d MB (%s)", total>>10, parts)
	}
	t.Run("cli", func(t *testing.T) { testCLI(t, s) })
	t.Run("curl-token-script", func(t *testing.T) { testTokenScript(t, s) })
	t.Run("sweep", func(t *testing.T) { testSweep(t, s) })

	s.stop(t)
	for _, bad := range []string{"level=ERROR", "level=WARN", "err=", "signal: terminated"} {
		if strings.Contains(s.out.String(), bad) {
			t.Errorf("the stack logged %q (a clean run and shutdown log no error):\n%s", bad, s.out.String())
		}
	}
	t.Logf("whole test in %s", time.Since(start).Round(time.Millisecond))
}

func testFlow(t *testing.T, s *localStack) {
	var key struct {
		ID     string   `json:"id"`
		Secret string   `json:"secret"`
		Status string   `json:"status"`
		Scopes []string `json:"scopes"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json",
		`{"name":"e2e","owner":"e2e@example.com","scopes":["keys:read","orders:read"]}`, &key); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if key.ID == "" || key.Secret == "" {
		t.Fatalf("create answered no id or secret: %+v", key)
	}

	const tokenRoute, whoamiRoute = "POST /v1/oauth/token", "GET /v1/whoami"
	// The token and whoami steps skip, by name, only while template.yaml lacks their
	// routes; once the routes exist they must work.
	steps := func(t *testing.T, secret string, wantOK bool) {
		t.Run("token", func(t *testing.T) {
			if !s.hasRoute(tokenRoute) {
				t.Skipf("template.yaml has no %s yet (TokenFunction)", tokenRoute)
			}
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {key.ID}, "client_secret": {secret}}
			var tok struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			code := call(t, "POST", s.base+"/v1/oauth/token", "", "application/x-www-form-urlencoded", form.Encode(), &tok)
			if !wantOK {
				if code != 400 && code != 401 {
					t.Errorf("token with a revoked key: %d, want 400 or 401", code)
				}
				return
			}
			if code != 200 || tok.AccessToken == "" || !strings.EqualFold(tok.TokenType, "Bearer") {
				t.Fatalf("token: %d %+v", code, tok)
			}
			t.Run("whoami", func(t *testing.T) {
				if !s.hasRoute(whoamiRoute) {
					t.Skipf("template.yaml has no %s yet (authorizer)", whoamiRoute)
				}
				var who struct {
					KeyID string `json:"key_id"`
					Auth  string `json:"auth"`
				}
				if code := call(t, "GET", s.base+"/v1/whoami", tok.AccessToken, "", "", &who); code != 200 || who.KeyID != key.ID || who.Auth != "access_token" {
					t.Errorf("whoami with the access token: %d %+v", code, who)
				}
			})
		})
		t.Run("whoami-key", func(t *testing.T) {
			if !s.hasRoute(whoamiRoute) {
				t.Skipf("template.yaml has no %s yet (authorizer)", whoamiRoute)
			}
			var who struct {
				KeyID string `json:"key_id"`
				Auth  string `json:"auth"`
			}
			code := call(t, "GET", s.base+"/v1/whoami", secret, "", "", &who)
			switch {
			case wantOK && (code != 200 || who.KeyID != key.ID || who.Auth != "api_key"):
				t.Errorf("whoami with the key: %d %+v", code, who)
			case !wantOK && code != 401 && code != 403:
				t.Errorf("whoami with a revoked key: %d, want 401 or 403", code)
			}
		})
	}
	t.Run("before-rotation", func(t *testing.T) { steps(t, key.Secret, true) })

	var rotated struct {
		Secret string `json:"secret"`
	}
	if code := call(t, "POST", s.base+"/v1/keys/"+key.ID+"/rotate", s.root, "application/json", `{"grace_seconds":0}`, &rotated); code != 200 || rotated.Secret == "" {
		t.Fatalf("rotate: %d", code)
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+key.ID, key.Secret, "", "", nil); code != 401 {
		t.Errorf("old secret after rotation with no grace: %d, want 401", code)
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+key.ID, rotated.Secret, "", "", nil); code != 200 {
		t.Errorf("new secret after rotation: %d, want 200", code)
	}
	t.Run("after-rotation", func(t *testing.T) { steps(t, rotated.Secret, true) })

	var revoked struct {
		Status string `json:"status"`
	}
	if code := call(t, "POST", s.base+"/v1/keys/"+key.ID+"/revoke", s.root, "", "", &revoked); code != 200 || revoked.Status != "revoked" {
		t.Fatalf("revoke: %d %+v", code, revoked)
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+key.ID, rotated.Secret, "", "", nil); code != 401 {
		t.Errorf("revoked key: %d, want 401", code)
	}
	t.Run("after-revocation", func(t *testing.T) { steps(t, rotated.Secret, false) })
}

// testIssuerAndRoot checks the template's settings as the local stack applies them:
// the issuer is the listen address (not the Host a client sends), and the root
// credential works at the management API only (AuthorizerAcceptsRoot defaults to
// false; the token function never knows root).
func testIssuerAndRoot(t *testing.T, s *localStack) {
	req, err := http.NewRequest("GET", s.base+"/.well-known/openid-configuration", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var disco struct {
		Issuer string `json:"issuer"`
	}
	err = json.NewDecoder(resp.Body).Decode(&disco)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || disco.Issuer != s.base {
		t.Errorf("discovery with Host attacker.example: %d issuer %q (%v), want %q", resp.StatusCode, disco.Issuer, err, s.base)
	}

	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json",
		`{"name":"issuer","scopes":["orders:read"]}`, &key); code != 201 {
		t.Fatalf("create with root at the management API: %d", code)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {key.ID}, "client_secret": {key.Secret}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := call(t, "POST", s.base+"/v1/oauth/token", "", "application/x-www-form-urlencoded", form.Encode(), &tok); code != 200 {
		t.Fatalf("token: %d", code)
	}
	parts := strings.Split(tok.AccessToken, ".")
	var claims struct {
		Iss string `json:"iss"`
	}
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWS: %q", tok.AccessToken)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Iss != s.base {
		t.Errorf("token iss %q (%v), want the listen address %q", claims.Iss, err, s.base)
	}

	// The root credential, everywhere but the management API.
	if code := call(t, "GET", s.base+"/v1/whoami", s.root, "", "", nil); code != 403 {
		t.Errorf("whoami with the root credential through the authorizer: %d, want 403", code)
	}
	intro := url.Values{"token": {tok.AccessToken}}
	if code := call(t, "POST", s.base+"/v1/oauth/introspect", s.root, "application/x-www-form-urlencoded", intro.Encode(), nil); code != 401 {
		t.Errorf("introspect with the root credential: %d, want 401", code)
	}
	rootClient := url.Values{"grant_type": {"client_credentials"}, "client_id": {"root"}, "client_secret": {s.root}}
	if code := call(t, "POST", s.base+"/v1/oauth/token", "", "application/x-www-form-urlencoded", rootClient.Encode(), nil); code != 401 {
		t.Errorf("a token for the root credential: %d, want 401", code)
	}
}

// testWalkthrough runs README.md's walkthrough block with bash against the stack.
func testWalkthrough(t testing.TB, s *localStack) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script := walkthrough(t, filepath.Join(s.p.Root, "README.md"))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".local"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".local", "root-key"), []byte(s.root), 0o600); err != nil {
		t.Fatal(err)
	}
	// No BASE: the walkthrough finds the running stack in .local/stack.json.
	state, err := os.ReadFile(filepath.Join(s.dir, "stack.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".local", "stack.json"), state, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README walkthrough: %v\n%s", err, out)
	}
	t.Logf("README walkthrough:\n%s", out)
}

// walkthrough returns the ```sh block that follows the `<!-- walkthrough: ... -->` line.
func walkthrough(t testing.TB, readme string) string {
	return markedBlock(t, readme, "<!-- walkthrough:")
}

// markedBlock returns the ```sh block that follows the line starting with marker.
func markedBlock(t testing.TB, readme, marker string) string {
	f, err := os.Open(readme)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	state := 0 // 0: before the marker, 1: before the fence, 2: in the block
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && strings.HasPrefix(line, marker):
			state = 1
		case state == 1 && strings.TrimSpace(line) == "```sh":
			state = 2
		case state == 1 && strings.TrimSpace(line) != "":
			t.Fatalf("README.md: the %s marker is not followed by a ```sh block", marker)
		case state == 2 && strings.TrimSpace(line) == "```":
			return b.String()
		case state == 2:
			b.WriteString(line + "\n")
		}
	}
	t.Fatalf("README.md: no ```sh block after a %s ... --> line", marker)
	return ""
}

// tokenScript is the curl | jq script a user wrote against the token endpoint, verbatim: it must work against `make local`
// once `https://$DOMAIN` is replaced by `http://$DOMAIN`, DOMAIN being 127.0.0.1:<port>.
const tokenScript = `TOKEN=$(curl --request POST "https://$DOMAIN/v1/users/oidc/token" \
  -d grant_type=client_credentials -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" | jq -r .access_token)
curl "https://$DOMAIN/v1/whoami" -H "authorization: Bearer $TOKEN"
`

// tokenRefreshScript is its refresh variant, in the same style: the grant is
// refresh_token, with the client authenticated by body parameters as before.
const tokenRefreshScript = `TOKEN=$(curl --request POST "https://$DOMAIN/v1/users/oidc/token" \
  -d grant_type=refresh_token -d refresh_token="$REFRESH_TOKEN" -d client_id="$CLIENT_ID" -d client_secret="$CLIENT_SECRET" | jq -r .access_token)
curl "https://$DOMAIN/v1/whoami" -H "authorization: Bearer $TOKEN"
`

// testTokenScript runs that script, as written and in its refresh variant, with
// bash against the running stack, and checks the whoami answer it prints.
func testTokenScript(t *testing.T, s *localStack) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is required to run the token script (curl | jq) and is not on PATH: %v", tool, err)
		}
	}
	var key struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json",
		`{"name":"token-script","owner":"script@example.com","scopes":["orders:read"]}`, &key); code != 201 || key.ID == "" || key.Secret == "" {
		t.Fatalf("create: %d %+v", code, key)
	}
	domain := strings.TrimPrefix(s.base, "http://")
	dir := t.TempDir()

	// run writes script, with only the documented substitution applied, to a file,
	// runs it with bash -euo pipefail and returns what it printed on stdout.
	run := func(t *testing.T, name, script string, env ...string) string {
		t.Helper()
		if !strings.Contains(script, "https://$DOMAIN") {
			t.Fatalf("%s: the script no longer contains https://$DOMAIN", name)
		}
		path := filepath.Join(dir, name+".sh")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(script, "https://$DOMAIN", "http://$DOMAIN")), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-euo", "pipefail", path)
		cmd.Dir = dir
		cmd.Env = append(cleanEnv(), append([]string{"DOMAIN=" + domain, "CLIENT_ID=" + key.ID, "CLIENT_SECRET=" + key.Secret}, env...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
		}
		t.Logf("%s printed: %s", name, stdout.String())
		return stdout.String()
	}
	checkWhoami := func(t *testing.T, out string) {
		t.Helper()
		var who struct {
			KeyID  string   `json:"key_id"`
			Owner  string   `json:"owner"`
			Scopes []string `json:"scopes"`
			Auth   string   `json:"auth"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &who); err != nil {
			t.Fatalf("whoami printed no JSON object: %v\n%s", err, out)
		}
		if who.KeyID != key.ID || who.Auth != "access_token" {
			t.Errorf("whoami: key_id %q auth %q, want %q and access_token\n%s", who.KeyID, who.Auth, key.ID, out)
		}
		if who.Owner != "script@example.com" || len(who.Scopes) != 1 || who.Scopes[0] != "orders:read" {
			t.Errorf("whoami: owner %q scopes %q, want script@example.com and [orders:read]", who.Owner, who.Scopes)
		}
	}

	t.Run("client-credentials", func(t *testing.T) {
		checkWhoami(t, run(t, "client-credentials", tokenScript))
	})
	t.Run("refresh", func(t *testing.T) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {key.ID}, "client_secret": {key.Secret}}
		var tok struct {
			RefreshToken string `json:"refresh_token"`
		}
		if code := call(t, "POST", s.base+"/v1/users/oidc/token", "", "application/x-www-form-urlencoded", form.Encode(), &tok); code != 200 || tok.RefreshToken == "" {
			t.Fatalf("client_credentials for a refresh token: %d, refresh_token %q", code, tok.RefreshToken)
		}
		checkWhoami(t, run(t, "refresh", tokenRefreshScript, "REFRESH_TOKEN="+tok.RefreshToken))
	})
}
