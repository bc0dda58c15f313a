package keyward

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// internalTarget reports whether a Makefile rule is plumbing rather than something a
// user types: the sam build recipes, the prerequisite checks, file targets.
func internalTarget(name string) bool {
	return strings.HasPrefix(name, "build-") || strings.HasPrefix(name, "prereqs") ||
		name == "python-tools" || name == "FORCE"
}

// makeTargets returns the user-facing rules of the Makefile.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rule := regexp.MustCompile(`^([a-z][a-z0-9-]*):([^=]|$)`)
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := rule.FindStringSubmatch(sc.Text()); m != nil && !internalTarget(m[1]) {
			out[m[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMakeHelp checks that plain `make` means `make help`, and that the help lists
// exactly the Makefile's user-facing targets.
func TestMakeHelp(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	// The default goal is read from make's database (-p) in question mode (-q), which
	// runs no recipe: were it still `test`, running plain make here would recurse.
	db, _ := exec.Command("make", "--no-print-directory", "-pq", "help").CombinedOutput()
	m := regexp.MustCompile(`(?m)^\.DEFAULT_GOAL := (\S+)$`).FindSubmatch(db)
	if m == nil {
		t.Fatalf("no .DEFAULT_GOAL in make's database:\n%.2000s", db)
	}
	if goal := string(m[1]); goal != "help" {
		t.Errorf("plain make runs %q, want help", goal)
	}
	out, err := exec.Command("make", "--no-print-directory", "help").CombinedOutput()
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	help := string(out)
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*make ([a-z][a-z0-9-]*)\s`).FindAllStringSubmatch(help, -1) {
		listed[m[1]] = true
	}
	targets := makeTargets(t)
	var unlisted, unknown []string
	for k := range targets {
		if !listed[k] {
			unlisted = append(unlisted, k)
		}
	}
	for k := range listed {
		if !targets[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unlisted)
	sort.Strings(unknown)
	for _, k := range unlisted {
		t.Errorf("target %s is missing from make help (the comment block that opens the Makefile)", k)
	}
	for _, k := range unknown {
		t.Errorf("make help lists %s, which the Makefile does not define", k)
	}
}

// TestPrereqsNamesEverythingMissing runs the prerequisite check with nothing on PATH:
// it must fail once, naming every tool, rather than stopping at the first.
func TestPrereqsNamesEverythingMissing(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	tools := []string{"go", "java", "npm", "python3", "jq", "curl", "python-tools"}
	check := func(t *testing.T, path string) (string, error) {
		cmd := exec.Command(bash, filepath.Join("infra", "prereqs.sh"))
		cmd.Args = append(cmd.Args, tools...)
		cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	wantFailure := func(t *testing.T, out string, err error, names ...string) {
		t.Helper()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit %v, want status 1\n%s", err, out)
		}
		for _, name := range names {
			if !strings.Contains(out, name) {
				t.Errorf("the check does not name %s:\n%s", name, out)
			}
		}
	}

	t.Run("nothing installed", func(t *testing.T) {
		out, err := check(t, t.TempDir())
		wantFailure(t, out, err, "Go 1.26+", "Java", "npm", "python3", "jq", "curl", "moto_server and cfn-lint")
		if n := strings.Count(out, "\n  - "); n != len(tools) {
			t.Errorf("%d missing tools named, want %d:\n%s", n, len(tools), out)
		}
	})

	// Stubs of every tool: the check passes, and an old Go is named with its version.
	stubs := t.TempDir()
	stub := func(name, script string) {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!"+bash+"\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"java", "npm", "python3", "jq", "curl", "moto_server", "cfn-lint"} {
		stub(name, "exit 0")
	}
	t.Run("everything installed", func(t *testing.T) {
		stub("go", `echo go1.26.0`)
		if out, err := check(t, stubs); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})
	t.Run("old go, no jq", func(t *testing.T) {
		stub("go", `echo go1.25.3`)
		if err := os.Remove(filepath.Join(stubs, "jq")); err != nil {
			t.Fatal(err)
		}
		out, err := check(t, stubs)
		wantFailure(t, out, err, "go is 1.25.3", "jq")
		if n := strings.Count(out, "\n  - "); n != 2 {
			t.Errorf("%d missing tools named, want 2:\n%s", n, out)
		}
	})
}
