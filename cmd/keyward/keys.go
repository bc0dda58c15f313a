package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/pkg/client"
)

func (a *app) keysCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, change, rotate, revoke and delete API keys",
		Example: `  keyward keys list --owner alice@example.com
  keyward keys create --name ci-deploy --scope orders:read --secret-file ci.key`,
	}
	c.AddCommand(a.keysCreateCmd(), a.keysListCmd(), a.keysGetCmd(), a.keysUpdateCmd(), a.keysRotateCmd(),
		a.keysFinishCmd(), a.keysRevokeCmd(), a.keysDeleteCmd())
	return c
}

// jsonObject parses a --metadata value: a JSON object (or, for update, null).
func jsonObject(flag, s string, allowNull bool) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, usagef("--%s: not JSON: %v", flag, err)
	}
	if _, ok := v.(map[string]any); !ok && !(allowNull && v == nil) {
		return nil, usagef("--%s: want a JSON object", flag)
	}
	return json.RawMessage(s), nil
}

func (a *app) keysCreateCmd() *cobra.Command {
	var in client.KeyCreate
	var days int
	var expiresAt, meta, secretFile string
	c := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE...",
		Short: "Create a key; its secret is shown once (or written to --secret-file)",
		Long: `Create a key (needs keys:write covering its owner, and every scope it is given).

The new secret is in this answer only: it is printed once to stdout, with a warning
on stderr, or written to --secret-file (mode 0600) and not printed. A create is
never retried.`,
		Example: `  keyward keys create --name ci-deploy --owner alice@example.com \
    --scope keys:read --scope orders:read --expires-in-days 30 --secret-file ci.key
  SECRET=$(keyward keys create --name job --scope orders:read -o json | jq -r .secret)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("expires-in-days") && expiresAt != "" {
				return usagef("--expires-in-days and --expires-at are exclusive")
			}
			if cmd.Flags().Changed("expires-in-days") {
				in.ExpiresInDays = &days
			}
			if expiresAt != "" {
				t, err := time.Parse(time.RFC3339, expiresAt)
				if err != nil {
					return usagef("--expires-at: want RFC 3339 (2027-01-31T00:00:00Z): %v", err)
				}
				in.ExpiresAt = &t
			}
			if meta != "" {
				raw, err := jsonObject("metadata", meta, false)
				if err != nil {
					return err
				}
				_ = json.Unmarshal(raw, &in.Metadata)
			}
			return a.withSecret(secretFile, func(c *client.Client) (*client.KeyWithSecret, error) {
				ctx, cancel := a.callCtx()
				defer cancel()
				return c.CreateKey(ctx, in)
			})
		},
	}
	f := c.Flags()
	f.StringVar(&in.Name, "name", "", "the key's name, 1 to 128 characters (required)")
	f.StringArrayVar(&in.Scopes, "scope", nil, "a scope the key holds, e.g. orders:read; repeat for more (required)")
	f.StringVar(&in.Owner, "owner", "", "who the key belongs to (default: the caller's owner)")
	f.StringVar(&in.Description, "description", "", "a description")
	f.IntVar(&days, "expires-in-days", 0, "expire the key after this many days (default: the deployment's, 90)")
	f.StringVar(&expiresAt, "expires-at", "", "expire the key at this RFC 3339 time")
	f.StringVar(&meta, "metadata", "", `metadata, a JSON object of at most 4 KiB: '{"team":"payments"}'`)
	f.StringArrayVar(&in.AllowedCIDRs, "cidr", nil, "a CIDR the key may be used from; repeat for more (default: anywhere)")
	f.StringVar(&secretFile, "secret-file", "", "write the secret to this file (mode 0600) instead of printing it")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("scope")
	_ = c.MarkFlagFilename("secret-file")
	return c
}

// withSecret runs a call that answers a new secret, and delivers the secret once.
func (a *app) withSecret(secretFile string, call func(*client.Client) (*client.KeyWithSecret, error)) error {
	if _, err := a.format(); err != nil {
		return err
	}
	c, _, err := a.client()
	if err != nil {
		return err
	}
	sink, err := prepareSecretFile(secretFile)
	if err != nil {
		return err
	}
	k, err := call(c)
	if err != nil {
		sink.discard()
		return err
	}
	if sink.tmp != nil {
		if err := a.deliver(sink, k.Secret); err != nil {
			return err
		}
		return a.emit(&k.Key, func(w io.Writer) { keyTable(w, &k.Key, "") })
	}
	if err := a.emit(k, func(w io.Writer) { keyTable(w, &k.Key, k.Secret) }); err != nil {
		return err
	}
	return a.deliver(sink, k.Secret)
}

func (a *app) keysListCmd() *cobra.Command {
	var p client.ListKeys
	var all bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List keys, newest first within live, expired and revoked",
		Long: `List the keys the caller's keys:read covers. One page by default (--limit, then
--cursor with the next_cursor printed); --all follows every page.`,
		Example: `  keyward keys list --owner alice@example.com --status active
  keyward keys list --all -o json | jq -r '.items[].id'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if _, err := a.format(); err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			var page *client.KeyPage
			if all {
				page = &client.KeyPage{Items: []client.Key{}}
				ctx, cancel := a.callCtx()
				defer cancel()
				for k, err := range c.Keys(ctx, p) {
					if err != nil {
						return err
					}
					page.Items = append(page.Items, k)
				}
			} else {
				ctx, cancel := a.callCtx()
				defer cancel()
				if page, err = c.ListKeys(ctx, p); err != nil {
					return err
				}
			}
			if err := a.emit(page, func(w io.Writer) { keysTable(w, page.Items) }); err != nil {
				return err
			}
			if f, _ := a.format(); f == "table" && page.NextCursor != nil {
				fmt.Fprintf(a.stderr, "keyward: more keys: --cursor %s (or --all)\n", *page.NextCursor)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&p.Owner, "owner", "", "only this owner's keys")
	f.StringVar(&p.Status, "status", "", "only keys in this status: active, rotating, expired or revoked")
	f.IntVar(&p.Limit, "limit", 0, "keys per page, 1 to 100 (default 50)")
	f.StringVar(&p.Cursor, "cursor", "", "the next_cursor of the previous page")
	f.BoolVar(&all, "all", false, "follow every page")
	_ = c.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]string{client.StatusActive, client.StatusRotating, client.StatusExpired, client.StatusRevoked}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// keyAction is a command that takes one key id and answers the key.
func (a *app) keyAction(use, short, long, example string, do func(c *client.Client, id string) (*client.Key, error)) *cobra.Command {
	return &cobra.Command{
		Use:               use + " ID",
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              idArgs(1, 1),
		ValidArgsFunction: a.completeKeyIDs,
		RunE: func(_ *cobra.Command, args []string) error {
			if _, err := a.format(); err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			k, err := do(c, args[0])
			if err != nil {
				return err
			}
			return a.emit(k, func(w io.Writer) { keyTable(w, k, "") })
		},
	}
}

func (a *app) keysGetCmd() *cobra.Command {
	return a.keyAction("get", "Show a key", "Show a key (needs keys:read covering its owner; otherwise it is not found, exit 3).",
		"  keyward keys get 3hq5e2nbkz4xw7aa\n  keyward keys get 3hq5e2nbkz4xw7aa -o json | jq .status",
		func(c *client.Client, id string) (*client.Key, error) {
			ctx, cancel := a.callCtx()
			defer cancel()
			return c.GetKey(ctx, id)
		})
}

func (a *app) keysFinishCmd() *cobra.Command {
	return a.keyAction("finish", "End a rotation now: the previous secret stops working",
		"End a key's rotation at once (needs keys:write): the previous secret, and its tokens, stop working.",
		"  keyward keys finish 3hq5e2nbkz4xw7aa",
		func(c *client.Client, id string) (*client.Key, error) {
			ctx, cancel := a.callCtx()
			defer cancel()
			return c.FinishRotation(ctx, id)
		})
}

func (a *app) keysRevokeCmd() *cobra.Command {
	return a.keyAction("revoke", "Revoke a key (immediate, irreversible)",
		"Revoke a key (needs keys:write, or keys:revoke covering its owner): immediate, irreversible, idempotent.",
		"  keyward keys revoke 3hq5e2nbkz4xw7aa",
		func(c *client.Client, id string) (*client.Key, error) {
			ctx, cancel := a.callCtx()
			defer cancel()
			return c.RevokeKey(ctx, id)
		})
}

func (a *app) keysUpdateCmd() *cobra.Command {
	var u keyUpdate
	c := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a key's name, description, owner, scopes, expiry, metadata or CIDRs",
		Long: `Change a key (needs keys:write covering its owner before and after, and every
scope it holds before and after). Only the flags given are changed; --scope and
--cidr replace the whole list, --metadata is merged (JSON merge patch; null clears).`,
		Example: `  keyward keys update 3hq5e2nbkz4xw7aa --name ci-deploy-2 --scope orders:read --scope orders:write
  keyward keys update 3hq5e2nbkz4xw7aa --metadata '{"team":"payments"}' --clear-cidrs`,
		Args:              idArgs(1, 1),
		ValidArgsFunction: a.completeKeyIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := u.patch(cmd.Flags())
			if err != nil {
				return err
			}
			return a.keyAction("update", "", "", "", func(c *client.Client, id string) (*client.Key, error) {
				ctx, cancel := a.callCtx()
				defer cancel()
				return c.UpdateKey(ctx, id, p)
			}).RunE(cmd, args)
		},
	}
	f := c.Flags()
	f.StringVar(&u.name, "name", "", "the new name")
	f.StringVar(&u.description, "description", "", "the new description")
	f.StringVar(&u.owner, "owner", "", "the new owner")
	f.StringArrayVar(&u.scopes, "scope", nil, "the new scopes (replaces them all); repeat for more")
	f.StringVar(&u.expiresAt, "expires-at", "", "the new expiry, RFC 3339")
	f.StringVar(&u.meta, "metadata", "", "a JSON object merged into the metadata (null clears it)")
	f.StringArrayVar(&u.cidrs, "cidr", nil, "the new allowed CIDRs (replaces them all); repeat for more")
	f.BoolVar(&u.clearCIDRs, "clear-cidrs", false, "allow the key from anywhere")
	return c
}

// keyUpdate holds the flags of keys update.
type keyUpdate struct {
	name, description, owner, expiresAt, meta string
	scopes, cidrs                             []string
	clearCIDRs                                bool
}

// patch is the PATCH body of the flags given (fl.Changed); giving none is a usage error.
func (u *keyUpdate) patch(fl *pflag.FlagSet) (client.KeyPatch, error) {
	var p client.KeyPatch
	if fl.Changed("name") {
		p.Name = &u.name
	}
	if fl.Changed("description") {
		p.Description = &u.description
	}
	if fl.Changed("owner") {
		p.Owner = &u.owner
	}
	if fl.Changed("scope") {
		p.Scopes = u.scopes
	}
	if fl.Changed("expires-at") {
		t, err := time.Parse(time.RFC3339, u.expiresAt)
		if err != nil {
			return p, usagef("--expires-at: want RFC 3339 (2027-01-31T00:00:00Z): %v", err)
		}
		p.ExpiresAt = &t
	}
	if fl.Changed("metadata") {
		raw, err := jsonObject("metadata", u.meta, true)
		if err != nil {
			return p, err
		}
		p.Metadata = raw
	}
	cidrs, err := u.allowedCIDRs(fl)
	if err != nil {
		return p, err
	}
	p.AllowedCIDRs = cidrs
	if unchanged(p) {
		return p, usagef("nothing to change: give at least one of --name, --description, --owner, --scope, --expires-at, --metadata, --cidr, --clear-cidrs")
	}
	return p, nil
}

// unchanged reports whether p changes nothing.
func unchanged(p client.KeyPatch) bool {
	return p.Name == nil && p.Description == nil && p.Owner == nil && p.Scopes == nil && p.ExpiresAt == nil &&
		p.Metadata == nil && p.AllowedCIDRs == nil
}

// allowedCIDRs is the new CIDR list: none (--clear-cidrs), the --cidr flags, or nil
// (unchanged).
func (u *keyUpdate) allowedCIDRs(fl *pflag.FlagSet) (*[]string, error) {
	switch {
	case u.clearCIDRs && fl.Changed("cidr"):
		return nil, usagef("--cidr and --clear-cidrs are exclusive")
	case u.clearCIDRs:
		empty := []string{}
		return &empty, nil
	case fl.Changed("cidr"):
		return &u.cidrs, nil
	}
	return nil, nil
}

func (a *app) keysRotateCmd() *cobra.Command {
	var grace time.Duration
	var secretFile string
	c := &cobra.Command{
		Use:   "rotate ID",
		Short: "Issue a new secret; the previous one stays valid for --grace",
		Long: `Rotate a key (needs keys:write): a new secret, shown once (or written to
--secret-file), while the previous one stays valid for --grace (default 24h; 0
ends it at once; at most 720h). Rotating again during a grace period drops the
oldest secret. A rotation is never retried.`,
		Example: `  keyward keys rotate 3hq5e2nbkz4xw7aa --grace 1h --secret-file ci.key
  keyward keys rotate 3hq5e2nbkz4xw7aa --grace 0 -o json | jq -r .secret`,
		Args:              idArgs(1, 1),
		ValidArgsFunction: a.completeKeyIDs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in client.Rotate
			if cmd.Flags().Changed("grace") {
				if grace < 0 || grace%time.Second != 0 {
					return usagef("--grace: want whole seconds, 0 or more (e.g. 1h, 90s, 0)")
				}
				s := int64(grace / time.Second)
				in.GraceSeconds = &s
			}
			return a.withSecret(secretFile, func(c *client.Client) (*client.KeyWithSecret, error) {
				ctx, cancel := a.callCtx()
				defer cancel()
				return c.RotateKey(ctx, args[0], in)
			})
		},
	}
	c.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the previous secret stays valid")
	c.Flags().StringVar(&secretFile, "secret-file", "", "write the new secret to this file (mode 0600) instead of printing it")
	_ = c.MarkFlagFilename("secret-file")
	return c
}

func (a *app) keysDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete keys (their audit trail stays)",
		Long: `Delete one key, or several in batches of 100 (needs keys:write covering each
owner and every scope each key holds). The audit trail stays.

The answer lists the ids deleted, not found (or not readable by the caller) and
forbidden (readable but not deletable by the caller, left alone). The exit code is
4 if any id was forbidden, else 3 if any was not found, else 0.`,
		Example: `  keyward keys delete 3hq5e2nbkz4xw7aa
  keyward keys list --status revoked -o json | jq -r '.items[].id' | xargs keyward keys delete`,
		Args:              idArgs(1, 0),
		ValidArgsFunction: a.completeKeyIDs,
		RunE: func(_ *cobra.Command, ids []string) error {
			if _, err := a.format(); err != nil {
				return err
			}
			c, _, err := a.client()
			if err != nil {
				return err
			}
			res := &client.BatchDeleteResult{Deleted: []string{}, NotFound: []string{}, Forbidden: []string{}}
			if len(ids) == 1 {
				ctx, cancel := a.callCtx()
				defer cancel()
				if err := c.DeleteKey(ctx, ids[0]); err != nil {
					return err
				}
				res.Deleted = append(res.Deleted, ids[0])
			}
			for start := 0; len(ids) > 1 && start < len(ids); start += client.MaxBatchDelete {
				chunk := ids[start:min(start+client.MaxBatchDelete, len(ids))]
				ctx, cancel := a.callCtx()
				r, err := c.BatchDelete(ctx, chunk)
				cancel()
				if err != nil {
					return err
				}
				res.Deleted = append(res.Deleted, r.Deleted...)
				res.NotFound = append(res.NotFound, r.NotFound...)
				res.Forbidden = append(res.Forbidden, r.Forbidden...)
			}
			if err := a.emit(res, func(w io.Writer) { batchTable(w, res) }); err != nil {
				return err
			}
			switch {
			case len(res.Forbidden) > 0:
				return &codedError{exitForbidden, fmt.Sprintf("%d key(s) left alone: the caller may not delete them", len(res.Forbidden))}
			case len(res.NotFound) > 0:
				return &codedError{exitNotFound, fmt.Sprintf("%d key(s) not found", len(res.NotFound))}
			}
			return nil
		},
	}
}
