package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/term"

	"github.com/keyward/keyward/pkg/apikey"
	"github.com/keyward/keyward/pkg/client"
)

// deployedRoot is the shape of the root credential that template.yaml generates (64
// letters and digits); jwtShape that of an access token.
var (
	deployedRoot = regexp.MustCompile(`^[A-Za-z0-9]{64}$`)
	jwtShape     = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)
)

// secretArg returns the index of the first argument that holds a secret, and what it
// looks like, or -1. A secret is an API key of any prefix (its checksum holds), a
// local or deployed root credential, a JWT, or the credential of the environment.
// `--flag=value` is looked at as value too.
func secretArg(args []string, getenv func(string) string) (int, string) {
	env := getenv("KEYWARD_API_KEY")
	for i, arg := range args {
		vals := []string{arg}
		if strings.HasPrefix(arg, "-") {
			if _, v, ok := strings.Cut(arg, "="); ok {
				vals = append(vals, v)
			}
		}
		for _, v := range vals {
			v = strings.TrimSpace(v)
			switch {
			case v == "":
			case env != "" && len(env) >= 16 && strings.Contains(v, env):
				return i, "the credential in KEYWARD_API_KEY"
			case isAPIKey(v):
				return i, "an API key"
			case strings.HasPrefix(v, "kw_root_") || deployedRoot.MatchString(v):
				return i, "a root credential"
			case jwtShape.MatchString(v):
				return i, "an access token"
			}
		}
	}
	return -1, ""
}

func isAPIKey(s string) bool {
	_, ok := client.KeyID(s)
	return ok
}

func validID(s string) bool { return apikey.ValidID(s) }

// readCredential reads a credential: from path ("-" is stdin), else from
// KEYWARD_API_KEY, else from stdin when it is not a terminal, else by a prompt that
// does not echo.
func (a *app) readCredential(path string) (string, error) {
	var raw string
	switch {
	case path == "-":
		b, err := io.ReadAll(io.LimitReader(a.stdin, 64<<10))
		if err != nil {
			return "", fmt.Errorf("read the key from stdin: %w", err)
		}
		raw = string(b)
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read the key: %w", err)
		}
		raw = string(b)
	case a.getenv("KEYWARD_API_KEY") != "":
		raw = a.getenv("KEYWARD_API_KEY")
	default:
		f, ok := a.stdin.(*os.File)
		if ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprint(a.stderr, "API key (not echoed): ")
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			if err != nil {
				return "", fmt.Errorf("read the key: %w", err)
			}
			raw = string(b)
		} else {
			line, err := bufio.NewReader(io.LimitReader(a.stdin, 64<<10)).ReadString('\n')
			if err != nil && err != io.EOF {
				return "", fmt.Errorf("read the key from stdin: %w", err)
			}
			raw = line
		}
	}
	key := strings.TrimSpace(raw)
	if key == "" || strings.ContainsAny(key, " \t\r\n") {
		return "", usagef("the key read is empty or not one line")
	}
	return key, nil
}

// secretSink is where a new secret goes: a file prepared before the request, or
// stdout.
type secretSink struct {
	path string
	tmp  *os.File
}

// prepareSecretFile creates the temporary file beside path that will hold the new
// secret, so that an unwritable path fails before anything is created.
func prepareSecretFile(path string) (*secretSink, error) {
	if path == "" {
		return &secretSink{}, nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usagef("--secret-file %s is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, usagef("--secret-file: %v", err)
	}
	return &secretSink{path: path, tmp: f}, nil
}

// discard removes the prepared file when the request failed.
func (s *secretSink) discard() {
	if s.tmp != nil {
		s.tmp.Close()
		os.Remove(s.tmp.Name())
	}
}

// deliver writes the secret to the file, or prints it once to stdout with a warning
// on stderr. If the file cannot be written, the secret is printed instead, so that it
// is not lost, and the error is returned.
func (a *app) deliver(s *secretSink, secret string) error {
	if s.tmp != nil {
		if err := commitSecretFile(s.tmp, s.path, []byte(secret+"\n")); err != nil {
			fmt.Fprintf(a.stderr, "keyward: could not write --secret-file %s (%v): the secret follows, shown once\n", s.path, err)
			fmt.Fprintln(a.stdout, secret)
			return &codedError{exitError, ""}
		}
		fmt.Fprintf(a.stderr, "keyward: the secret is in %s (mode 0600); it is not shown again\n", s.path)
		return nil
	}
	fmt.Fprintln(a.stderr, "keyward: this is the only time the secret is shown: store it now (or use --secret-file)")
	return nil
}
