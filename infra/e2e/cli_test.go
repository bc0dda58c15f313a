package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/pkg/client"
	"github.com/keyward/keyward/pkg/testenv"
)

// keywardCLI is the keyward binary with an environment of its own: a config dir in
// a temporary directory and no KEYWARD_* variable from this process.
type keywardCLI struct {
	bin string
	env []string
}

// buildCLI builds cmd/keyward as make cli does, into dir/.local/bin.
func buildCLI(t *testing.T, s *localStack, dir string) *keywardCLI {
	t.Helper()
	bin := filepath.Join(dir, ".local", "bin", "keyward")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/keyward")
	build.Dir = s.p.Root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/keyward: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	env := append(cleanEnv(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	return &keywardCLI{bin: bin, env: env}
}

// run runs keyward with args, stdin and extra environment, and returns its stdout,
// stderr and exit code.
func (k *keywardCLI) run(t *testing.T, stdin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(k.bin, args...)
	cmd.Env = append(append([]string(nil), k.env...), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("keyward %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("keyward %s -> %d\n%.400s%.400s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), code
}

// want runs keyward, checks its exit code, and decodes its JSON stdout into out (if
// not nil).
func (k *keywardCLI) want(t *testing.T, code int, out any, env []string, args ...string) string {
	t.Helper()
	stdout, stderr, got := k.run(t, "", env, args...)
	if got != code {
		t.Fatalf("keyward %s: exit %d, want %d\n%s", strings.Join(args, " "), got, code, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			t.Fatalf("keyward %s: stdout is not the JSON expected: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
	return stdout
}

// testCLI runs the whole key lifecycle through the keyward binary against the stack,
// checking JSON output and exit codes, then the README's CLI walkthrough.
func testCLI(t *testing.T, s *localStack) {
	dir := t.TempDir()
	k := buildCLI(t, s, dir)
	t.Run("lifecycle", func(t *testing.T) { testCLILifecycle(t, s, k, dir) })
	t.Run("readme", func(t *testing.T) { testCLIWalkthrough(t, s, k, dir) })
}

func testCLILifecycle(t *testing.T, s *localStack, k *keywardCLI, dir string) {
	as := func(cred string) []string { return []string{"KEYWARD_API_KEY=" + cred} }

	// login: the root credential on stdin; a profile file of mode 0600.
	var login struct {
		Name, URL, Credential string
		Current               bool
	}
	stdout, stderr, code := k.run(t, s.root+"\n", nil, "login", "--profile", "e2e", "--url", s.base, "-o", "json")
	if code != 0 || json.Unmarshal([]byte(stdout), &login) != nil || login.Name != "e2e" || login.URL != s.base || !login.Current {
		t.Fatalf("login: exit %d %q %s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, s.root) {
		t.Error("login printed the root credential")
	}
	cfg := filepath.Join(dir, "home", ".config", "keyward", "config.json")
	if st, err := os.Stat(cfg); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("profiles file: %v, want mode 0600", err)
	}
	if _, _, code := k.run(t, "not-a-credential\n", nil, "login", "--profile", "bad", "--url", s.base); code != 5 {
		t.Errorf("login with an unknown credential: exit %d, want 5", code)
	}

	// create: the secret once on stdout, with a warning; or only in --secret-file.
	var key client.KeyWithSecret
	stdout, stderr, code = k.run(t, "", nil, "keys", "create", "--name", "cli-e2e", "--owner", "cli@example.com",
		"--scope", "keys:read", "--scope", "orders:read", "--metadata", `{"team":"e2e"}`, "-o", "json")
	if code != 0 || json.Unmarshal([]byte(stdout), &key) != nil {
		t.Fatalf("create: exit %d\n%s%s", code, stdout, stderr)
	}
	if id, ok := client.KeyID(key.Secret); !ok || id != key.ID || key.Status != client.StatusActive || key.Owner != "cli@example.com" {
		t.Fatalf("create answered %+v", key.Key)
	}
	if !strings.Contains(stderr, "only time the secret is shown") {
		t.Errorf("create: no warning on stderr: %q", stderr)
	}
	narrowFile := filepath.Join(dir, "narrow.key")
	var narrow client.Key
	out := k.want(t, 0, &narrow, nil, "keys", "create", "--name", "cli-narrow", "--owner", "cli@example.com",
		"--scope", "keys:read@owner:cli@example.com", "--secret-file", narrowFile, "-o", "json")
	secretBytes, err := os.ReadFile(narrowFile)
	narrowSecret := strings.TrimSpace(string(secretBytes))
	if err != nil || strings.Contains(out, narrowSecret) {
		t.Fatalf("--secret-file: %v; or the secret was printed", err)
	}
	if st, _ := os.Stat(narrowFile); st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", st.Mode().Perm())
	}

	// list and get.
	var page client.KeyPage
	k.want(t, 0, &page, nil, "keys", "list", "--owner", "cli@example.com", "-o", "json")
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	if !slices.Contains(ids, key.ID) || !slices.Contains(ids, narrow.ID) {
		t.Errorf("list: %v, want %s and %s", ids, key.ID, narrow.ID)
	}
	var got client.Key
	k.want(t, 0, &got, as(key.Secret), "keys", "get", key.ID, "-o", "json")
	if got.ID != key.ID || got.Metadata["team"] != "e2e" {
		t.Errorf("get with the key itself: %+v", got)
	}
	k.want(t, 3, nil, nil, "keys", "get", "aaaaaaaaaaaaaaaa")
	k.want(t, 2, nil, nil, "keys", "get", key.Secret)
	k.want(t, 5, nil, as("kw_live_"+strings.Repeat("a", 66)), "keys", "list")

	// token and whoami.
	tokOut := k.want(t, 0, nil, as(key.Secret), "token")
	token := strings.TrimSpace(tokOut)
	if strings.Count(token, ".") != 2 || strings.Count(tokOut, "\n") != 1 {
		t.Fatalf("token printed %q, want one JWT line", tokOut)
	}
	var tok client.Token
	k.want(t, 0, &tok, as(key.Secret), "token", "--json", "--scope", "orders:read")
	if tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 || tok.Scope != "orders:read" {
		t.Errorf("token --json: %+v", tok)
	}
	var who client.Whoami
	k.want(t, 0, &who, as(key.Secret), "whoami", "-o", "json")
	if who.KeyID != key.ID || who.Auth != "api_key" || who.Owner != "cli@example.com" {
		t.Errorf("whoami with the key: %+v", who)
	}
	k.want(t, 0, &who, as(token), "whoami", "-o", "json")
	if who.KeyID != key.ID || who.Auth != "access_token" {
		t.Errorf("whoami with the token: %+v", who)
	}
	k.want(t, 4, nil, nil, "whoami") // the authorizer refuses root
	k.want(t, 2, nil, nil, "token")  // root has no tokens

	// update; a narrowed key may read but not write (exit 4).
	var updated client.Key
	k.want(t, 0, &updated, nil, "keys", "update", key.ID, "--name", "cli-e2e-2", "--description", "through the CLI", "-o", "json")
	if updated.Name != "cli-e2e-2" || updated.Description != "through the CLI" {
		t.Errorf("update: %+v", updated)
	}
	k.want(t, 0, nil, as(narrowSecret), "keys", "get", key.ID, "-o", "json")
	k.want(t, 4, nil, as(narrowSecret), "keys", "revoke", key.ID)
	k.want(t, 4, nil, as(narrowSecret), "keys", "create", "--name", "x", "--scope", "keys:read")

	// rotate with grace: both secrets work; finish: the old one is refused (exit 5).
	var rotated client.KeyWithSecret
	k.want(t, 0, &rotated, nil, "keys", "rotate", key.ID, "--grace", "1h", "-o", "json")
	if rotated.Status != client.StatusRotating || rotated.Rotation == nil || rotated.Secret == "" || rotated.Secret == key.Secret {
		t.Fatalf("rotate: %+v", rotated)
	}
	k.want(t, 0, nil, as(key.Secret), "keys", "get", key.ID)
	k.want(t, 0, nil, as(rotated.Secret), "keys", "get", key.ID)
	var finished client.Key
	k.want(t, 0, &finished, nil, "keys", "finish", key.ID, "-o", "json")
	if finished.Status != client.StatusActive || finished.Rotation != nil {
		t.Errorf("finish: %+v", finished)
	}
	k.want(t, 5, nil, as(key.Secret), "keys", "get", key.ID)
	k.want(t, 0, nil, as(rotated.Secret), "keys", "get", key.ID)

	// revoke: the secret is refused (exit 5).
	var revoked client.Key
	k.want(t, 0, &revoked, nil, "keys", "revoke", key.ID, "-o", "json")
	if revoked.Status != client.StatusRevoked {
		t.Errorf("revoke: %+v", revoked)
	}
	k.want(t, 5, nil, as(rotated.Secret), "keys", "get", key.ID)

	// delete one (exit 3 afterwards), then a batch with one gone (exit 3).
	var del client.BatchDeleteResult
	k.want(t, 0, &del, nil, "keys", "delete", key.ID, "-o", "json")
	if !slices.Equal(del.Deleted, []string{key.ID}) {
		t.Errorf("delete: %+v", del)
	}
	k.want(t, 3, nil, nil, "keys", "get", key.ID)
	k.want(t, 3, &del, nil, "keys", "delete", narrow.ID, key.ID, "-o", "json")
	if !slices.Equal(del.Deleted, []string{narrow.ID}) || !slices.Equal(del.NotFound, []string{key.ID}) || len(del.Forbidden) != 0 {
		t.Errorf("batch delete: %+v", del)
	}

	// events and audit: the trail outlives the key.
	var events client.EventPage
	k.want(t, 0, &events, nil, "events", key.ID, "--all", "-o", "json")
	var types []string
	for _, e := range events.Items {
		types = append(types, e.Type)
	}
	for _, want := range []string{"key.created", "key.updated", "key.rotated", "key.rotation_finished", "key.revoked", "key.deleted"} {
		if !slices.Contains(types, want) {
			t.Errorf("events: %v, no %s", types, want)
		}
	}
	var audit client.EventPage
	k.want(t, 0, &audit, nil, "audit", "--type", "key.deleted", "-o", "json")
	if !slices.ContainsFunc(audit.Items, func(e client.Event) bool { return e.KeyID == key.ID }) {
		t.Errorf("audit --type key.deleted has no event for %s", key.ID)
	}

	t.Run("follow", func(t *testing.T) { testCLIFollow(t, k) })
}

// testCLIFollow runs audit --follow, creates a key, waits for its key.created line,
// and stops the follower with SIGINT (exit 0).
func testCLIFollow(t *testing.T, k *keywardCLI) {
	cmd := exec.Command(k.bin, "audit", "--follow", "--interval", "200ms", "--type", "key.created", "-o", "json")
	cmd.Env = k.env
	out := &testenv.Buffer{}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	var key client.KeyWithSecret
	k.want(t, 0, &key, nil, "keys", "create", "--name", "cli-follow", "--scope", "orders:read", "-o", "json")
	// Wait for the line as long as the follower runs, up to a minute on a loaded machine.
	deadline := time.Now().Add(time.Minute)
	found := false
	for !found && time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var e client.Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				t.Fatalf("--follow -o json printed a line that is not an event: %q", sc.Text())
			}
			if e.KeyID == key.ID && e.Type == "key.created" {
				found = true
			}
		}
		if done(cmd) {
			t.Fatalf("the follower exited early: %s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !found {
		t.Fatalf("no key.created line for %s within a minute:\n%s\n%s", key.ID, out.String(), stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("the follower after SIGINT: %v (%s)", err, stderr.String())
	}
}

// testCLIWalkthrough runs README.md's CLI walkthrough with bash against the stack,
// with keyward where the README expects make cli to have put it.
func testCLIWalkthrough(t *testing.T, s *localStack, k *keywardCLI, dir string) {
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	script := markedBlock(t, filepath.Join(s.p.Root, "README.md"), "<!-- walkthrough-cli:")
	if err := os.WriteFile(filepath.Join(dir, ".local", "root-key"), []byte(s.root), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
	cmd.Dir = dir
	// A fresh config dir: the walkthrough logs in itself. PATH leaves out any other
	// keyward, so the one the README puts first is the one run.
	home := filepath.Join(dir, "walkthrough-home")
	cmd.Env = append(cleanEnv(), "BASE="+s.base, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README CLI walkthrough: %v\n%s", err, out)
	}
	t.Logf("README CLI walkthrough:\n%s", out)
	for _, want := range []string{"ci-deploy", "active", `"auth":"access_token"`, "previous_expires_at", "revoked", "key.deleted"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("README CLI walkthrough printed no %q", want)
		}
	}
}
