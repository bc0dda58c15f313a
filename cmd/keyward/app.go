package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/pkg/client"
)

// Exit codes, as --help documents them.
const (
	exitOK           = 0
	exitError        = 1
	exitUsage        = 2
	exitNotFound     = 3
	exitForbidden    = 4
	exitUnauthorized = 5
)

const exitCodesHelp = `Exit codes:
  0  ok
  1  error (the API refused the request for another reason, or it could not be reached)
  2  usage (bad flags or arguments; a secret on the command line)
  3  not found (404)
  4  forbidden (403)
  5  unauthorized (401: a missing, unknown, expired or revoked credential)`

const rootLong = `keyward manages Keyward API keys and trades them for OAuth 2.0 access tokens.

Credentials are never read from the command line, where the process list and your
shell history would show them: keyward login reads the key from a file, stdin or
KEYWARD_API_KEY, and keeps it in a profile (<user config dir>/keyward/config.json,
mode 0600).

Environment:
  KEYWARD_URL       the API's base URL (overrides the profile's; --url overrides both)
  KEYWARD_API_KEY   the credential (overrides the profile's)
  KEYWARD_PROFILE   the profile to use (--profile overrides)
  KEYWARD_CONFIG    the profiles file (default <user config dir>/keyward/config.json)

Output is a table on a terminal and JSON otherwise; -o table|json chooses.

` + exitCodesHelp

// app is one run of the command: its streams, environment and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// global flags
	profile string
	output  string
	baseURL string
	timeout time.Duration

	ctx context.Context
	ran bool // a command's RunE started: an error from then on is not a usage error
}

// usageError is a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// codedError carries an exit code chosen by a command (e.g. a batch delete with ids
// left alone) with its message, which may be empty.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string { return e.msg }

// run executes the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if i, what := secretArg(args, getenv); i >= 0 {
		fmt.Fprintf(stderr, "keyward: argument %d looks like %s: secrets are never read from the command line, "+
			"where the process list and shell history show them; use a file, stdin or KEYWARD_API_KEY "+
			"(and rotate that secret if it was real)\n", i+1, what)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv, ctx: ctx}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	return a.report(cmd, err)
}

// report prints err on one line and returns its exit code.
func (a *app) report(cmd *cobra.Command, err error) int {
	var ue *usageError
	var ce *codedError
	var ae *client.Error
	switch {
	case errors.As(err, &ce):
		if ce.msg != "" {
			fmt.Fprintf(a.stderr, "keyward: %s\n", ce.msg)
		}
		return ce.code
	case errors.As(err, &ue) || !a.ran:
		fmt.Fprintf(a.stderr, "keyward: %s\nRun '%s --help' for usage.\n", oneLine(err.Error()), cmd.CommandPath())
		return exitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(a.stderr, "keyward: %s\n", oneLine(ae.Error()))
		return exitCodeOf(ae.Status)
	case errors.Is(err, context.Canceled) && a.ctx.Err() != nil:
		return exitError // interrupted
	default:
		fmt.Fprintf(a.stderr, "keyward: %s\n", oneLine(err.Error()))
		return exitError
	}
}

func exitCodeOf(status int) int {
	switch status {
	case http.StatusNotFound:
		return exitNotFound
	case http.StatusForbidden:
		return exitForbidden
	case http.StatusUnauthorized:
		return exitUnauthorized
	}
	return exitError
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "keyward",
		Short: "Manage Keyward API keys and tokens",
		Long:  rootLong,
		Example: `  keyward login --url https://keys.example.com < root-key
  keyward keys create --name ci-deploy --scope orders:read --secret-file ci.key
  TOKEN=$(keyward token)`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err.Error()} })
	root.PersistentPreRunE = a.preRun
	pf := root.PersistentFlags()
	pf.StringVar(&a.profile, "profile", "", "the profile to use (default: KEYWARD_PROFILE, else the current one)")
	pf.StringVarP(&a.output, "output", "o", "", "output format: table or json (default: table on a terminal, else json)")
	pf.StringVar(&a.baseURL, "url", "", "the API's base URL (default: KEYWARD_URL, else the profile's)")
	pf.DurationVar(&a.timeout, "timeout", 30*time.Second, "how long one API call may take, retries included")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("profile", a.completeProfiles)

	root.AddCommand(a.loginCmd(), a.profilesCmd(), a.keysCmd(), a.eventsCmd(), a.auditCmd(), a.tokenCmd(), a.whoamiCmd())
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	builtinExamples(root)
	withExitCodes(root, root)
	return root
}

// preRun checks the flags before a command runs. Cobra checks required flags after
// the pre-run hooks; they are checked here so that a missing one is a usage error
// like any other.
func (a *app) preRun(cmd *cobra.Command, _ []string) error {
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return &usageError{err.Error()}
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return &usageError{err.Error()}
	}
	a.ran = true
	return nil
}

// withExitCodes ends the --help of c and every runnable command under it, root
// excepted, with the exit codes.
func withExitCodes(root, c *cobra.Command) {
	if c != root && c.Runnable() {
		long := c.Long
		if long == "" {
			long = c.Short
		}
		c.Long = long + "\n\n" + exitCodesHelp
	}
	for _, sub := range c.Commands() {
		withExitCodes(root, sub)
	}
}

// builtinExamples gives cobra's help and completion commands examples.
func builtinExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  keyward help keys create"
		case "completion":
			c.Example = `  source <(keyward completion bash)
  keyward completion zsh > "${fpath[1]}/_keyward"`
			for _, sh := range c.Commands() {
				sh.Example = fmt.Sprintf("  keyward completion %s", sh.Name())
			}
		}
	}
}

// format is the output format: "table" or "json".
func (a *app) format() (string, error) {
	switch a.output {
	case "table", "json":
		return a.output, nil
	case "":
		if isTerminal(a.stdout) {
			return "table", nil
		}
		return "json", nil
	}
	return "", usagef("--output %q: want table or json", a.output)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// callCtx is the context of one API call.
func (a *app) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(a.ctx, a.timeout)
}

// client returns an API client for the chosen profile, with its credential.
func (a *app) client() (*client.Client, string, error) {
	base, key, err := a.resolve()
	if err != nil {
		return nil, "", err
	}
	if key == "" {
		return nil, "", &codedError{exitUnauthorized, "no credential: run keyward login, or set KEYWARD_API_KEY"}
	}
	c, err := client.New(base, client.APIKey(key), client.Options{Timeout: a.timeout, UserAgent: "keyward-cli"})
	if err != nil {
		return nil, "", usagef("%v", err)
	}
	return c, key, nil
}

// resolve returns the base URL and credential: flags, then the environment, then the
// profile.
func (a *app) resolve() (base, key string, err error) {
	base, key = a.getenv("KEYWARD_URL"), a.getenv("KEYWARD_API_KEY")
	if a.baseURL != "" {
		base = a.baseURL
	}
	if base == "" || key == "" {
		cfg, err := loadConfig(a.configPath())
		if err != nil {
			return "", "", err
		}
		name := a.profileName(cfg)
		p, ok := cfg.Profiles[name]
		if !ok && (a.profile != "" || a.getenv("KEYWARD_PROFILE") != "") {
			return "", "", usagef("no profile %q: run keyward login --profile %s", name, name)
		}
		if base == "" {
			base = p.URL
		}
		if key == "" {
			key = p.APIKey
		}
	}
	if base == "" {
		return "", "", usagef("no API URL: run keyward login --url URL, or set KEYWARD_URL")
	}
	return base, key, nil
}

// profileName is the profile chosen by --profile, KEYWARD_PROFILE, the config's
// current one, or "default".
func (a *app) profileName(cfg *config) string {
	switch {
	case a.profile != "":
		return a.profile
	case a.getenv("KEYWARD_PROFILE") != "":
		return a.getenv("KEYWARD_PROFILE")
	case cfg != nil && cfg.Current != "":
		return cfg.Current
	}
	return "default"
}

// idArgs validates key ids given as arguments, so that a typo is a usage error
// before any request.
func idArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < min && min == 1 && max == 1:
			return usagef("%s takes a key id", cmd.CommandPath())
		case len(args) < min:
			return usagef("%s takes at least %d key id(s)", cmd.CommandPath(), min)
		case max > 0 && len(args) > max:
			return usagef("%s takes %d key id(s), got %d", cmd.CommandPath(), max, len(args))
		}
		for _, id := range args {
			if !validID(id) {
				return usagef("%q is not a key id", id)
			}
		}
		return nil
	}
}
