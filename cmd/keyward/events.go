package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/pkg/client"
)

// eventPages lists events: one page, or every page with all.
func (a *app) eventPages(all bool, p client.ListEvents, next func(client.ListEvents) (*client.EventPage, error)) error {
	if _, err := a.format(); err != nil {
		return err
	}
	var page *client.EventPage
	if all {
		page = &client.EventPage{Items: []client.Event{}}
		for e, err := range client.AllEvents(func(cursor string) (*client.EventPage, error) {
			p.Cursor = cursor
			return next(p)
		}, p.Cursor) {
			if err != nil {
				return err
			}
			page.Items = append(page.Items, e)
		}
	} else {
		var err error
		if page, err = next(p); err != nil {
			return err
		}
	}
	if err := a.emit(page, func(w io.Writer) { eventsTable(w, page.Items) }); err != nil {
		return err
	}
	if f, _ := a.format(); f == "table" && page.NextCursor != nil {
		fmt.Fprintf(a.stderr, "keyward: more events: --cursor %s (or --all)\n", *page.NextCursor)
	}
	return nil
}

func (a *app) eventsCmd() *cobra.Command {
	var p client.ListEvents
	var all bool
	c := &cobra.Command{
		Use:   "events ID",
		Short: "Show a key's events, newest first",
		Long:  "Show a key's audit events, newest first (needs audit:read covering its owner). Events outlive a deleted key.",
		Example: `  keyward events 3hq5e2nbkz4xw7aa
  keyward events 3hq5e2nbkz4xw7aa --all -o json | jq -r '.items[].type'`,
		Args:              idArgs(1, 1),
		ValidArgsFunction: a.completeKeyIDs,
		RunE: func(_ *cobra.Command, args []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := a.callCtx()
			defer cancel()
			return a.eventPages(all, p, func(p client.ListEvents) (*client.EventPage, error) { return c.KeyEvents(ctx, args[0], p) })
		},
	}
	c.Flags().IntVar(&p.Limit, "limit", 0, "events per page, 1 to 100 (default 50)")
	c.Flags().StringVar(&p.Cursor, "cursor", "", "the next_cursor of the previous page")
	c.Flags().BoolVar(&all, "all", false, "follow every page")
	return c
}

func (a *app) auditCmd() *cobra.Command {
	var p client.ListEvents
	var all, follow bool
	var interval time.Duration
	c := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log, newest first; --follow polls for new events",
		Long: `Show every key's events that the caller's audit:read covers, newest first.

With --follow, print the latest --limit events oldest first, then poll every
--interval and print new events as they come (one JSON object per line with
-o json), until interrupted (Ctrl-C, exit 0). Each poll reads pages until it meets
an event already printed (at most 10 pages).`,
		Example: `  keyward audit --type key.revoked
  keyward audit --follow --interval 5s -o json | jq -c 'select(.type == "auth.failed")'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			c, _, err := a.client()
			if err != nil {
				return err
			}
			if follow {
				if all || p.Cursor != "" {
					return usagef("--follow takes neither --all nor --cursor")
				}
				if interval < 100*time.Millisecond {
					return usagef("--interval: at least 100ms")
				}
				return a.follow(c, p, interval)
			}
			ctx, cancel := a.callCtx()
			defer cancel()
			return a.eventPages(all, p, func(p client.ListEvents) (*client.EventPage, error) { return c.Audit(ctx, p) })
		},
	}
	f := c.Flags()
	f.StringVar(&p.Type, "type", "", "only events of this type, e.g. key.revoked")
	f.IntVar(&p.Limit, "limit", 0, "events per page, 1 to 100 (default 50)")
	f.StringVar(&p.Cursor, "cursor", "", "the next_cursor of the previous page")
	f.BoolVar(&all, "all", false, "follow every page")
	f.BoolVarP(&follow, "follow", "f", false, "keep polling for new events")
	f.DurationVar(&interval, "interval", 5*time.Second, "how often --follow polls")
	_ = c.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{
		"key.created", "key.updated", "key.rotated", "key.rotation_finished", "key.revoked", "key.deleted",
		"key.expired", "key.expiry_reminder", "key.stale_reminder", "token.issued", "token.refreshed",
		"token.revoked", "auth.failed"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

// maxFollowPages bounds the pages one poll reads; maxSeen the ids remembered.
const (
	maxFollowPages = 10
	maxSeen        = 100_000
)

// follow prints the latest events, then new ones as polls find them, until the
// context ends.
func (a *app) follow(c *client.Client, p client.ListEvents, interval time.Duration) error {
	format, err := a.format()
	if err != nil {
		return err
	}
	f := &follower{a: a, c: c, p: p, format: format, seen: map[string]time.Time{}, header: format == "table"}
	if err := f.poll(true); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return nil
		case <-t.C:
		}
		if err := f.poll(false); err != nil {
			if a.ctx.Err() != nil {
				return nil
			}
			if stopsFollowing(err) {
				return err
			}
			fmt.Fprintf(a.stderr, "keyward: %s (polling on)\n", oneLine(err.Error()))
		}
	}
}

// stopsFollowing reports whether a failed poll ends --follow: a refused credential
// or a bad request, which the next poll would get again. Anything else is retried.
func stopsFollowing(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && (e.Status == 401 || e.Status == 403 || e.Status == 400)
}

// follower is one --follow: the ids already printed and whether the table header is due.
type follower struct {
	a      *app
	c      *client.Client
	p      client.ListEvents
	format string
	seen   map[string]time.Time
	header bool
}

// poll prints the events not seen before, oldest first.
func (f *follower) poll(first bool) error {
	fresh, err := f.unseen(first)
	if err != nil {
		return err
	}
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].Time.Before(fresh[j].Time) })
	if err := f.print(fresh); err != nil {
		return err
	}
	forget(f.seen)
	return nil
}

// unseen reads pages, newest first, until one holds an event already seen (at most
// maxFollowPages; the first poll reads one page), and returns the events not seen.
func (f *follower) unseen(first bool) ([]client.Event, error) {
	var fresh []client.Event
	q := f.p
	for range maxFollowPages {
		ctx, cancel := f.a.callCtx()
		page, err := f.c.Audit(ctx, q)
		cancel()
		if err != nil {
			return nil, err
		}
		met := false
		for _, e := range page.Items {
			if _, ok := f.seen[e.ID]; ok {
				met = true
				continue
			}
			fresh = append(fresh, e)
		}
		if first || met || page.NextCursor == nil {
			break
		}
		q.Cursor = *page.NextCursor
	}
	return fresh, nil
}

// print writes events as table rows (the header once per --follow) or JSON lines,
// and marks them seen.
func (f *follower) print(events []client.Event) error {
	var tw *tabwriter.Writer
	if f.format == "table" {
		tw = tabwriter.NewWriter(f.a.stdout, 0, 4, 2, ' ', 0)
		if f.header {
			fmt.Fprintln(tw, eventsHeader)
			f.header = false
		}
	}
	for _, e := range events {
		f.seen[e.ID] = e.Time
		if tw != nil {
			eventRow(tw, e)
			continue
		}
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintf(f.a.stdout, "%s\n", line)
	}
	if tw != nil {
		_ = tw.Flush()
	}
	return nil
}

// forget drops the oldest half of seen once it holds maxSeen ids.
func forget(seen map[string]time.Time) {
	if len(seen) < maxSeen {
		return
	}
	times := make([]time.Time, 0, len(seen))
	for _, t := range seen {
		times = append(times, t)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	cut := times[len(times)/2]
	for id, t := range seen {
		if t.Before(cut) {
			delete(seen, id)
		}
	}
}
