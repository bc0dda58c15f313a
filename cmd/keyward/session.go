package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/pkg/client"
)

// profileView is a profile as listed: never its secret.
type profileView struct {
	Name       string `json:"name"`
	URL        string `json:"url"`
	Credential string `json:"credential"`
	Current    bool   `json:"current"`
}

// credentialHint names a credential without showing it: "key <id>", "other" or "none".
func credentialHint(key string) string {
	if key == "" {
		return "none"
	}
	if id, ok := client.KeyID(key); ok {
		return "key " + id
	}
	return "other (root?)"
}

func (a *app) loginCmd() *cobra.Command {
	var keyFile string
	var noVerify bool
	c := &cobra.Command{
		Use:   "login",
		Short: "Save a deployment's URL and a credential as a profile",
		Long: `Save a profile: the API's URL (--url or KEYWARD_URL) and a credential, read from
--key-file (- for stdin), else KEYWARD_API_KEY, else stdin, else a prompt that does
not echo. Never from an argument. The credential is checked against the API first
(a 401 is refused, exit 5) unless --no-verify. The profile (--profile, default
"default") becomes the current one. Profiles are kept in
<user config dir>/keyward/config.json, mode 0600.`,
		Example: `  keyward login --url http://127.0.0.1:3000 < .local/root-key
  keyward login --profile prod --url https://keys.example.com --key-file ~/.keyward-prod.key`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return a.login(keyFile, noVerify) },
	}
	c.Flags().StringVar(&keyFile, "key-file", "", "read the credential from this file (- for stdin)")
	c.Flags().BoolVar(&noVerify, "no-verify", false, "save without checking the credential against the API")
	_ = c.MarkFlagFilename("key-file")
	return c
}

// login saves the profile keyward login describes and makes it the current one.
func (a *app) login(keyFile string, noVerify bool) error {
	path := a.configPath()
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	name := a.profile
	if name == "" {
		name = "default"
	}
	base := firstNonEmpty(a.baseURL, a.getenv("KEYWARD_URL"), cfg.Profiles[name].URL)
	if base == "" {
		return usagef("login needs --url (or KEYWARD_URL)")
	}
	key, err := a.readCredential(keyFile)
	if err != nil {
		return err
	}
	cl, err := client.New(base, client.APIKey(key), client.Options{Timeout: a.timeout, UserAgent: "keyward-cli"})
	if err != nil {
		return usagef("%v", err)
	}
	if !noVerify {
		if err := a.checkCredential(cl); err != nil {
			return err
		}
	}
	cfg.Profiles[name] = profile{URL: cl.BaseURL(), APIKey: key}
	cfg.Current = name
	if err := cfg.save(path); err != nil {
		return err
	}
	v := profileView{Name: name, URL: cl.BaseURL(), Credential: credentialHint(key), Current: true}
	return a.emit(v, func(w io.Writer) {
		fmt.Fprintf(w, "profile %s: %s with %s (current)\n", v.Name, v.URL, v.Credential)
	})
}

// checkCredential asks the API whether cl's credential is valid. The management API
// checks a credential as the authorizer does; a valid key without keys:read is a
// 403, which is fine here.
func (a *app) checkCredential(cl *client.Client) error {
	ctx, cancel := a.callCtx()
	defer cancel()
	if _, err := cl.ListKeys(ctx, client.ListKeys{Limit: 1}); err != nil && client.StatusOf(err) != http.StatusForbidden {
		return err
	}
	return nil
}

// firstNonEmpty returns the first of values that is not empty, or "".
func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func (a *app) profilesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "profiles",
		Short: "List the saved profiles; use or remove one",
		Example: `  keyward profiles
  keyward profiles use prod`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return a.listProfiles() },
	}
	c.AddCommand(
		a.profileEditCmd("use", "Make a profile the current one", "  keyward profiles use prod", func(cfg *config, name string) {
			cfg.Current = name
			a.profile = name
		}),
		a.profileEditCmd("remove", "Forget a profile and its credential", "  keyward profiles remove old", func(cfg *config, name string) {
			delete(cfg.Profiles, name)
			if cfg.Current == name {
				cfg.Current = ""
			}
			if a.profile == name {
				a.profile = ""
			}
		}),
	)
	return c
}

// listProfiles prints the saved profiles, the current one marked.
func (a *app) listProfiles() error {
	cfg, err := loadConfig(a.configPath())
	if err != nil {
		return err
	}
	current := a.profileName(cfg)
	views := []profileView{}
	for _, n := range cfg.names() {
		p := cfg.Profiles[n]
		views = append(views, profileView{Name: n, URL: p.URL, Credential: credentialHint(p.APIKey), Current: n == current})
	}
	return a.emit(views, func(w io.Writer) {
		fmt.Fprintln(w, "CURRENT\tNAME\tURL\tCREDENTIAL")
		for _, v := range views {
			mark := ""
			if v.Current {
				mark = "*"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark, v.Name, v.URL, v.Credential)
		}
	})
}

// profileEditCmd is "profiles <use> NAME": change applied to the saved profiles
// (NAME must be one of them), saved, then the list printed.
func (a *app) profileEditCmd(use, short, example string, change func(cfg *config, name string)) *cobra.Command {
	return &cobra.Command{
		Use:               use + " NAME",
		Short:             short,
		Example:           example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeProfiles,
		RunE: func(_ *cobra.Command, args []string) error {
			path := a.configPath()
			cfg, err := loadConfig(path)
			if err != nil {
				return err
			}
			if _, ok := cfg.Profiles[args[0]]; !ok {
				return &codedError{exitNotFound, fmt.Sprintf("no profile %q", args[0])}
			}
			change(cfg, args[0])
			if err := cfg.save(path); err != nil {
				return err
			}
			return a.listProfiles()
		},
	}
}

func (a *app) tokenCmd() *cobra.Command {
	var scopes []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "token",
		Short: "Print an access token for the profile's API key",
		Long: `Trade the profile's API key for an access token (OAuth 2.0 client credentials) and
print it alone on stdout, for TOKEN=$(keyward token). --json (or -o json) prints
the whole answer, refresh token included. The root credential has no tokens.`,
		Example: `  TOKEN=$(keyward token)
  curl -H "Authorization: Bearer $(keyward token --scope orders:read)" https://api.example.com/orders
  keyward token --json | jq .expires_in`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("output") {
				f, err := a.format()
				if err != nil {
					return err
				}
				asJSON = asJSON || f == "json"
			}
			c, key, err := a.client()
			if err != nil {
				return err
			}
			id, ok := client.KeyID(key)
			if !ok {
				return usagef("the credential is not an API key: access tokens are for API keys, not the root credential")
			}
			ctx, cancel := a.callCtx()
			defer cancel()
			tok, err := c.ClientCredentialsToken(ctx, id, key, scopes)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.stdout, tok)
			}
			_, err = fmt.Fprintln(a.stdout, tok.AccessToken)
			return err
		},
	}
	c.Flags().StringArrayVar(&scopes, "scope", nil, "ask for this scope only (a subset of the key's); repeat for more")
	c.Flags().BoolVar(&asJSON, "json", false, "print the whole token answer as JSON")
	return c
}

func (a *app) whoamiCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show whom the credential belongs to (through the Lambda authorizer)",
		Long: `Call GET /v1/whoami, behind Keyward's Lambda authorizer, with the profile's
credential. The authorizer refuses the root credential unless the deployment sets
AuthorizerAcceptsRoot=true (exit 4), and API Gateway answers 403 for a credential
it refuses, so a revoked key is exit 4 here too.`,
		Example: `  keyward whoami
  KEYWARD_API_KEY=$(cat ci.key) keyward whoami -o json | jq -r .key_id`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := a.format(); err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx()
			defer cancel()
			who, err := c.Whoami(ctx)
			if err != nil {
				return err
			}
			return a.emit(who, func(w io.Writer) { whoamiTable(w, who) })
		},
	}
}

// completeKeyIDs offers the ids of the first page of keys, with their names.
func (a *app) completeKeyIDs(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	c, _, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(a.ctx, 3*time.Second)
	defer cancel()
	page, err := c.ListKeys(ctx, client.ListKeys{Limit: 100})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	given := map[string]bool{}
	for _, id := range args {
		given[id] = true
	}
	var out []string
	for _, k := range page.Items {
		if !given[k.ID] {
			out = append(out, k.ID+"\t"+k.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeProfiles offers the saved profile names.
func (a *app) completeProfiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	cfg, err := loadConfig(a.configPath())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.names(), cobra.ShellCompDirectiveNoFileComp
}
