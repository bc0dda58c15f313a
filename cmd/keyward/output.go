package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/pkg/client"
)

// printJSON writes v as indented JSON and a newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// emit prints v as JSON, or with table when the format is table.
func (a *app) emit(v any, table func(w io.Writer)) error {
	f, err := a.format()
	if err != nil {
		return err
	}
	if f == "json" {
		return printJSON(a.stdout, v)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func tsPtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func list(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, ",")
}

// keyTable is one key, field per line; secret, if not empty, last.
func keyTable(w io.Writer, k *client.Key, secret string) {
	rows := [][2]string{
		{"id", k.ID},
		{"name", k.Name},
		{"description", orDash(k.Description)},
		{"owner", orDash(k.Owner)},
		{"scopes", list(k.Scopes)},
		{"status", k.Status},
		{"start", k.Start},
		{"created", ts(k.CreatedAt) + " by " + orDash(k.CreatedBy)},
		{"updated", ts(k.UpdatedAt)},
		{"expires", ts(k.ExpiresAt)},
		{"last used", lastUsed(k)},
	}
	if k.Rotation != nil {
		rows = append(rows, [2]string{"previous secret until", ts(k.Rotation.PreviousExpiresAt)})
	}
	rows = append(rows, [2]string{"allowed cidrs", list(k.AllowedCIDRs)}, [2]string{"metadata", metadata(k.Metadata)})
	if secret != "" {
		rows = append(rows, [2]string{"secret", secret})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\n", r[0], r[1])
	}
}

func lastUsed(k *client.Key) string {
	if k.LastUsedAt == nil {
		return "never"
	}
	ip := "-"
	if k.LastUsedIP != nil {
		ip = *k.LastUsedIP
	}
	return tsPtr(k.LastUsedAt) + " from " + ip
}

// metadata is compact JSON with sorted keys (encoding/json sorts map keys).
func metadata(m map[string]any) string {
	if len(m) == 0 {
		return "-"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "?"
	}
	return string(b)
}

// keysTable is a list of keys, one per line.
func keysTable(w io.Writer, keys []client.Key) {
	fmt.Fprintln(w, "ID\tNAME\tOWNER\tSTATUS\tSCOPES\tEXPIRES")
	for _, k := range keys {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, orDash(k.Owner), k.Status, list(k.Scopes), ts(k.ExpiresAt))
	}
}

const eventsHeader = "TIME\tTYPE\tKEY\tACTOR\tIP\tDETAIL"

// eventRow is one event as a table line.
func eventRow(w io.Writer, e client.Event) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ts(e.Time), e.Type, orDash(e.KeyID), orDash(e.Actor), orDash(e.IP), metadata(e.Detail))
}

func eventsTable(w io.Writer, events []client.Event) {
	fmt.Fprintln(w, eventsHeader)
	for _, e := range events {
		eventRow(w, e)
	}
}

func whoamiTable(w io.Writer, who *client.Whoami) {
	fmt.Fprintf(w, "key id\t%s\nowner\t%s\nscopes\t%s\nauth\t%s\n", orDash(who.KeyID), orDash(who.Owner), list(who.Scopes), who.Auth)
}

func batchTable(w io.Writer, r *client.BatchDeleteResult) {
	rows := []struct {
		what string
		ids  []string
	}{{"deleted", r.Deleted}, {"not found", r.NotFound}, {"forbidden", r.Forbidden}}
	for _, row := range rows {
		ids := append([]string(nil), row.ids...)
		sort.Strings(ids)
		fmt.Fprintf(w, "%s\t%s\n", row.what, list(ids))
	}
}
