package main

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/pkg/apikey"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// fakeAPI answers canned bodies by "METHOD /path?query" and records every request.
type fakeAPI struct {
	mu      sync.Mutex
	answers map[string]canned
	got     []string // "METHOD /path?query auth body"
}

type canned struct {
	status int
	body   string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	route := r.Method + " " + r.URL.RequestURI()
	f.mu.Lock()
	f.got = append(f.got, route+" "+r.Header.Get("Authorization")+" "+string(body))
	a, ok := f.answers[route]
	f.mu.Unlock()
	if !ok {
		a = canned{404, `{"type":"t","title":"Not Found","status":404,"detail":"No such route in the test.","code":"not_found"}`}
	}
	if a.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(a.status)
	io.WriteString(w, a.body)
}

func (f *fakeAPI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func newFake(t *testing.T, answers map[string]canned) (*fakeAPI, string) {
	f := &fakeAPI{answers: answers}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// cli runs the command in-process with env as its whole environment.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	if _, ok := env["KEYWARD_CONFIG"]; !ok {
		env["KEYWARD_CONFIG"] = filepath.Join(t.TempDir(), "config.json")
	}
	code = run(args, strings.NewReader(stdin), &out, &errb, func(k string) string { return env[k] })
	return out.String(), errb.String(), code
}

const keyJSON = `{"id":"abcdefghijklmnop","name":"ci-deploy","description":"","owner":"alice@example.com",` +
	`"scopes":["keys:read","orders:read"],"status":"rotating","start":"kw_live_abcd",` +
	`"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-03T03:04:05Z","created_by":"root",` +
	`"expires_at":"2026-04-02T03:04:05Z","last_used_at":"2026-01-03T10:00:00Z","last_used_ip":"203.0.113.9",` +
	`"rotation":{"previous_expires_at":"2026-01-04T03:04:05Z"},"metadata":{"team":"payments","tier":2},"allowed_cidrs":["10.0.0.0/8"]}`

const key2JSON = `{"id":"qrstuvwxyz234567","name":"nightly","description":"batch","owner":"bob@example.com",` +
	`"scopes":["orders:write@o/*"],"status":"revoked","start":"kw_live_qrst",` +
	`"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","created_by":"abcdefghijklmnop",` +
	`"expires_at":"2026-03-01T00:00:00Z","last_used_at":null,"last_used_ip":null,"rotation":null,"metadata":{},"allowed_cidrs":[]}`

const eventsJSON = `{"items":[` +
	`{"id":"e2","time":"2026-01-03T03:04:05Z","type":"key.rotated","key_id":"abcdefghijklmnop","actor":"root","ip":"127.0.0.1","detail":{"grace_seconds":3600}},` +
	`{"id":"e1","time":"2026-01-02T03:04:05Z","type":"key.created","key_id":"abcdefghijklmnop","actor":"root","ip":"127.0.0.1","detail":{}}` +
	`],"next_cursor":"c2"}`

// TestTables holds the table output of each command to its golden file.
func TestTables(t *testing.T) {
	secret := "kw_live_EXAMPLE-not-a-real-key" // not a valid key: the fake never checks
	_, base := newFake(t, map[string]canned{
		"GET /v1/keys/abcdefghijklmnop":          {200, keyJSON},
		"GET /v1/keys?owner=alice%40example.com": {200, `{"items":[` + keyJSON + `,` + key2JSON + `],"next_cursor":null}`},
		"GET /v1/keys/abcdefghijklmnop/events":   {200, eventsJSON},
		"GET /v1/audit?type=key.rotated":         {200, eventsJSON},
		"GET /v1/whoami":                         {200, `{"key_id":"abcdefghijklmnop","owner":"alice@example.com","scopes":["keys:read","orders:read"],"auth":"api_key"}`},
		"POST /v1/keys":                          {201, strings.TrimSuffix(keyJSON, "}") + `,"secret":"` + secret + `"}`},
		"POST /v1/keys/batch-delete":             {200, `{"deleted":["qrstuvwxyz234567","abcdefghijklmnop"],"not_found":[],"forbidden":[]}`},
	})
	cases := []struct {
		golden string
		args   []string
	}{
		{"keys-get", []string{"keys", "get", "abcdefghijklmnop"}},
		{"keys-list", []string{"keys", "list", "--owner", "alice@example.com"}},
		{"events", []string{"events", "abcdefghijklmnop"}},
		{"audit", []string{"audit", "--type", "key.rotated"}},
		{"whoami", []string{"whoami"}},
		{"keys-create", []string{"keys", "create", "--name", "ci-deploy", "--scope", "orders:read"}},
		{"keys-delete", []string{"keys", "delete", "abcdefghijklmnop", "qrstuvwxyz234567"}},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			env := map[string]string{"KEYWARD_URL": base, "KEYWARD_API_KEY": "kw_root_test"}
			out, errOut, code := cli(t, env, "", append(tc.args, "-o", "table")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden(t, tc.golden, out)
		})
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/keyward -run TestTables -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", name, path, got, want)
	}
}

// TestSecretsNeverOnArgv: every command, given a secret as an argument or as the
// value of any of its flags, refuses with exit 2 before sending anything, and does
// not echo the secret.
func TestSecretsNeverOnArgv(t *testing.T) {
	fake, base := newFake(t, map[string]canned{})
	secrets := map[string]string{
		"api key":       apikey.New("kw_live_").String(),
		"other prefix":  apikey.New("acme_test_").String(),
		"local root":    "kw_root_" + strings.Repeat("Ab9_", 11),
		"deployed root": strings.Repeat("aZ09", 16),
		"access token":  "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
		"the env's own": "my-very-own-credential-value",
	}
	a := &app{getenv: func(string) string { return "" }}
	root := a.rootCmd()
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	tried := 0
	for _, path := range paths {
		cmd, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		var flags []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "bool" {
				flags = append(flags, f.Name)
			}
		})
		cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() != "bool" {
				flags = append(flags, f.Name)
			}
		})
		for what, secret := range secrets {
			lines := [][]string{append(append([]string(nil), path...), secret)}
			for _, fl := range flags {
				lines = append(lines,
					append(append([]string(nil), path...), "--"+fl, secret),
					append(append([]string(nil), path...), "--"+fl+"="+secret))
			}
			for _, args := range lines {
				tried++
				env := map[string]string{"KEYWARD_URL": base, "KEYWARD_API_KEY": secrets["the env's own"]}
				out, errOut, code := cli(t, env, "", args...)
				if code != exitUsage {
					t.Errorf("%s in %q: exit %d, want 2", what, strings.Join(args, " "), code)
				}
				if strings.Contains(out+errOut, secret) {
					t.Errorf("%s in %q: the secret was echoed", what, strings.Join(args, " "))
				}
			}
		}
		// No flag takes a secret by its name: a flag about a key, secret, token or
		// password takes a file path (or is a switch).
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			n := f.Name
			if f.Value.Type() != "bool" && !strings.HasSuffix(n, "-file") &&
				(strings.Contains(n, "key") || strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "password")) {
				t.Errorf("%s --%s looks like a flag that takes a secret", cmd.CommandPath(), n)
			}
		})
	}
	if n := len(fake.requests()); n != 0 {
		t.Errorf("%d requests reached the API from %d refused command lines", n, tried)
	}
	if tried < 100 {
		t.Errorf("only %d command lines tried", tried)
	}
}

// TestEveryHelpHasAnExample: every command's --help shows an example.
func TestEveryHelpHasAnExample(t *testing.T) {
	a := &app{getenv: func(string) string { return "" }}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" && !c.Hidden {
			t.Errorf("%s has no example", c.CommandPath())
		}
		if c.Runnable() && !c.Hidden && !strings.Contains(c.Long, "5  unauthorized") {
			t.Errorf("%s --help does not document the exit codes", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCmd())
	out, _, code := cli(t, map[string]string{}, "", "--help")
	if code != 0 || !strings.Contains(out, "Exit codes:") || !strings.Contains(out, "5  unauthorized") {
		t.Errorf("keyward --help (exit %d) does not document the exit codes:\n%s", code, out)
	}
}

// TestExitCodes: each API status maps to its documented exit code, and the error is
// one line with the detail and the code.
func TestExitCodes(t *testing.T) {
	problem := func(status int, code, detail string) canned {
		return canned{status, `{"type":"t","title":"x","status":0,"detail":"` + detail + `","code":"` + code + `"}`}
	}
	_, base := newFake(t, map[string]canned{
		"GET /v1/keys/aaaaaaaaaaaaaaaa":         problem(404, "key_not_found", "No key with this id."),
		"POST /v1/keys/aaaaaaaaaaaaaaaa/revoke": problem(403, "owner_not_allowed", "The caller may not change this owner's keys."),
		"GET /v1/keys?limit=1":                  problem(401, "invalid_credential", "The credential is unknown, expired or revoked."),
		"GET /v1/keys":                          problem(400, "invalid_parameter", "Bad."),
		"GET /v1/whoami":                        {403, `{"message":"Forbidden"}`},
		"POST /v1/keys/batch-delete":            {200, `{"deleted":["aaaaaaaaaaaaaaaa"],"not_found":["bbbbbbbbbbbbbbbb"],"forbidden":[]}`},
	})
	cases := []struct {
		args []string
		code int
		line string
	}{
		{[]string{"keys", "get", "aaaaaaaaaaaaaaaa"}, exitNotFound, "keyward: No key with this id. (key_not_found, status 404)\n"},
		{[]string{"keys", "revoke", "aaaaaaaaaaaaaaaa"}, exitForbidden, "keyward: The caller may not change this owner's keys. (owner_not_allowed, status 403)\n"},
		{[]string{"keys", "list", "--limit", "1"}, exitUnauthorized, "keyward: The credential is unknown, expired or revoked. (invalid_credential, status 401)\n"},
		{[]string{"keys", "list"}, exitError, "keyward: Bad. (invalid_parameter, status 400)\n"},
		{[]string{"whoami"}, exitForbidden, "keyward: Forbidden (status 403)\n"},
		{[]string{"keys", "delete", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}, exitNotFound, "keyward: 1 key(s) not found\n"},
		{[]string{"keys", "get"}, exitUsage, ""},
		{[]string{"keys", "update", "aaaaaaaaaaaaaaaa"}, exitUsage, ""},
		{[]string{"keys", "list", "-o", "yaml"}, exitUsage, ""},
		{[]string{"nosuch"}, exitUsage, ""},
	}
	for _, tc := range cases {
		env := map[string]string{"KEYWARD_URL": base, "KEYWARD_API_KEY": "kw_root_test"}
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "-o ") {
			args = append(args, "-o", "json")
		}
		_, errOut, code := cli(t, env, "", args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
		if tc.line != "" && errOut != tc.line {
			t.Errorf("%v: stderr %q, want %q", tc.args, errOut, tc.line)
		}
	}
	// No credential at all: unauthorized, without a request.
	_, _, code := cli(t, map[string]string{"KEYWARD_URL": base}, "", "keys", "list")
	if code != exitUnauthorized {
		t.Errorf("no credential: exit %d, want 5", code)
	}
}

// TestSecretFile: --secret-file gets the secret (mode 0600) and stdout does not; a
// path that cannot be written fails before the key is created.
func TestSecretFile(t *testing.T) {
	secret := apikey.New("kw_live_")
	fake, base := newFake(t, map[string]canned{
		"POST /v1/keys": {201, strings.TrimSuffix(keyJSON, "}") + `,"secret":"` + secret.String() + `"}`},
	})
	dir := t.TempDir()
	path := filepath.Join(dir, "ci.key")
	env := map[string]string{"KEYWARD_URL": base, "KEYWARD_API_KEY": "kw_root_test"}
	out, errOut, code := cli(t, env, "", "keys", "create", "--name", "ci", "--scope", "orders:read", "--secret-file", path, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, secret.String()) {
		t.Error("the secret was printed although --secret-file was given")
	}
	if !strings.Contains(out, `"id": "abcdefghijklmnop"`) || strings.Contains(out, `"secret"`) {
		t.Errorf("stdout is not the key without its secret:\n%s", out)
	}
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != secret.String() {
		t.Fatalf("secret file: %q %v", data, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".ci.key.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	n := len(fake.requests())
	_, _, code = cli(t, env, "", "keys", "create", "--name", "ci", "--scope", "orders:read", "--secret-file", filepath.Join(dir, "no", "such", "dir", "k"))
	if code != exitUsage || len(fake.requests()) != n {
		t.Errorf("unwritable --secret-file: exit %d, %d requests sent, want 2 and none", code, len(fake.requests())-n)
	}

	// Without --secret-file: the secret on stdout once, a warning on stderr.
	out, errOut, code = cli(t, env, "", "keys", "create", "--name", "ci", "--scope", "orders:read", "-o", "json")
	if code != 0 || strings.Count(out, secret.String()) != 1 || !strings.Contains(errOut, "only time the secret is shown") || strings.Contains(errOut, secret.String()) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestLoginProfiles: login reads the credential from stdin or the environment,
// checks it, keeps it in a 0600 file in a 0700 directory, and no listing shows it.
func TestLoginProfiles(t *testing.T) {
	root := "kw_root_" + strings.Repeat("x", 43)
	fake, base := newFake(t, map[string]canned{
		"GET /v1/keys?limit=1": {200, `{"items":[],"next_cursor":null}`},
	})
	cfgPath := filepath.Join(t.TempDir(), "conf", "keyward", "config.json")
	env := map[string]string{"KEYWARD_CONFIG": cfgPath}
	out, errOut, code := cli(t, env, root+"\n", "login", "--profile", "local", "--url", base, "-o", "json")
	if code != 0 {
		t.Fatalf("login: exit %d: %s", code, errOut)
	}
	if strings.Contains(out+errOut, root) {
		t.Error("login printed the credential")
	}
	if got := fake.requests(); len(got) != 1 || !strings.Contains(got[0], "Bearer "+root) {
		t.Errorf("login's check: %q", got)
	}
	st, err := os.Stat(cfgPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config: %v %v, want mode 0600", st, err)
	}
	if dst, _ := os.Stat(filepath.Dir(cfgPath)); dst.Mode().Perm() != 0o700 {
		t.Errorf("config dir mode %v, want 0700", dst.Mode().Perm())
	}
	key := apikey.New("kw_live_").String()
	env["KEYWARD_API_KEY"] = key
	if _, errOut, code := cli(t, env, "", "login", "--profile", "ci", "--url", base); code != 0 {
		t.Fatalf("login from KEYWARD_API_KEY: %d %s", code, errOut)
	}
	delete(env, "KEYWARD_API_KEY")
	out, _, code = cli(t, env, "", "profiles", "-o", "table")
	if code != 0 || strings.Contains(out, root) || strings.Contains(out, key) {
		t.Errorf("profiles (exit %d) shows a credential:\n%s", code, out)
	}
	if !regexp.MustCompile(`(?m)^\*\s+ci\s`).MatchString(out) || !strings.Contains(out, "local") {
		t.Errorf("profiles:\n%s", out)
	}
	if _, _, code := cli(t, env, "", "profiles", "use", "local"); code != 0 {
		t.Errorf("profiles use: %d", code)
	}
	// The current profile is used, and KEYWARD_API_KEY overrides its credential.
	cli(t, env, "", "keys", "list", "--limit", "1")
	env["KEYWARD_API_KEY"] = key
	cli(t, env, "", "keys", "list", "--limit", "1")
	got := fake.requests()
	if !strings.Contains(got[len(got)-2], "Bearer "+root) || !strings.Contains(got[len(got)-1], "Bearer "+key) {
		t.Errorf("credentials used: %q", got[len(got)-2:])
	}
	// A 401 at login is refused and saves nothing.
	fake.answers["GET /v1/keys?limit=1"] = canned{401, `{"code":"invalid_credential","detail":"no"}`}
	delete(env, "KEYWARD_API_KEY")
	if _, _, code := cli(t, env, "bad-credential\n", "login", "--profile", "bad", "--url", base); code != exitUnauthorized {
		t.Errorf("login with a refused credential: exit %d, want 5", code)
	}
	out, _, _ = cli(t, env, "", "profiles", "-o", "json")
	if strings.Contains(out, `"bad"`) {
		t.Errorf("a refused login was saved:\n%s", out)
	}
	if _, _, code := cli(t, env, "", "profiles", "remove", "nosuch"); code != exitNotFound {
		t.Errorf("remove an unknown profile: exit %d, want 3", code)
	}
}
