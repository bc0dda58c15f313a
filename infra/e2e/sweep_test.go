package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/keyward/keyward/pkg/store"
)

// sweepResult is the part of pkg/sweeper's Result that `make sweep` prints which the
// test reads.
type sweepResult struct {
	Now             time.Time `json:"now"`
	Expired         int64     `json:"expired"`
	ExpiryReminders int64     `json:"expiry_reminders"`
	StaleReminders  int64     `json:"stale_reminders"`
	Delivered       int64     `json:"delivered"`
	Resumed         int64     `json:"resumed"`
	Failed          int64     `json:"failed"`
	Stopped         bool      `json:"stopped"`
}

// keyEvent is one item of GET /v1/keys/{id}/events.
type keyEvent struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"`
	KeyID  string         `json:"key_id"`
	Detail map[string]any `json:"detail"`
}

// makeSweep runs `make sweep NOW=<now>` in the repository, as a developer types it,
// against the test's stack: KEYWARD_LOCAL_DIR names the test's state directory (where
// the stack wrote stack.json), and LOCAL_BIN keeps the rebuilt keyward-local out of
// the repository's .local so that a developer's running `make local` is not touched.
// A failing sweep fails the test.
func makeSweep(t *testing.T, s *localStack, now time.Time) sweepResult {
	t.Helper()
	stamp := now.UTC().Format(time.RFC3339)
	cmd := exec.Command("make", "--no-print-directory", "sweep", "NOW="+stamp, "LOCAL_BIN="+filepath.Join(s.dir, "sweep-bin"))
	cmd.Dir = s.p.Root
	var env []string
	for _, kv := range cleanEnv() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "MAKEFLAGS" || k == "MFLAGS" || k == "MAKELEVEL" { // as if typed at a shell
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "KEYWARD_LOCAL_DIR="+s.dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("make sweep NOW=%s: %v\nstdout:\n%s\nstderr:\n%s", stamp, err, stdout.String(), stderr.String())
	}
	t.Logf("make sweep NOW=%s in %s:\n%s", stamp, time.Since(start).Round(time.Millisecond), strings.TrimSpace(stdout.String()))
	// The sweeper's answer is the last line of stdout; make's echoed recipes precede it.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	var res sweepResult
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatalf("make sweep NOW=%s printed no sweep result as its last line: %v\n%s", stamp, err, stdout.String())
	}
	if !res.Now.Equal(now.UTC().Truncate(time.Second)) {
		t.Fatalf("make sweep NOW=%s swept as of %s: NOW was not passed through", stamp, res.Now.Format(time.RFC3339Nano))
	}
	if res.Failed != 0 || res.Stopped {
		t.Fatalf("make sweep NOW=%s: %+v, want no failed item and no stop", stamp, res)
	}
	return res
}

// keyEvents reads a key's whole event log with the root credential, every page.
func keyEvents(t *testing.T, s *localStack, id string) []keyEvent {
	t.Helper()
	var all []keyEvent
	cursor := ""
	for range 100 {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Items      []keyEvent `json:"items"`
			NextCursor *string    `json:"next_cursor"`
		}
		if code := call(t, "GET", s.base+"/v1/keys/"+id+"/events?"+q.Encode(), s.root, "", "", &page); code != 200 {
			t.Fatalf("events of %s: %d", id, code)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all
		}
		cursor = *page.NextCursor
	}
	t.Fatalf("events of %s: more than 100 pages", id)
	return nil
}

func ofType(evs []keyEvent, typ string) []keyEvent {
	var out []keyEvent
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// eventIDs is a key's event log as a sorted list of "type id", to compare two reads.
func eventIDs(evs []keyEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type + " " + e.ID
	}
	sort.Strings(out)
	return out
}

// storedKey reads a key's item from the running stack's table, the way the stack's
// functions reach it: the services' endpoints and credentials from <local dir>/stack.json
// and TABLE_NAME from SweeperFunction's environment.
func storedKey(t *testing.T, s *localStack, id string) *store.Key {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "stack.json"))
	if err != nil {
		t.Fatalf("the stack's stack.json: %v", err)
	}
	var state struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal(data, &state); err != nil {
		t.Fatalf("stack.json: %v", err)
	}
	fn, _ := s.p.Function("SweeperFunction")
	env := map[string]string{}
	for _, kv := range s.p.ChildEnv(fn, state.Env) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["TABLE_NAME"] == "" || env["AWS_ENDPOINT_URL_DYNAMODB"] == "" {
		t.Fatalf("SweeperFunction's environment has no TABLE_NAME (%q) or DynamoDB endpoint (%q)", env["TABLE_NAME"], env["AWS_ENDPOINT_URL_DYNAMODB"])
	}
	region := env["AWS_REGION"]
	if region == "" {
		region = env["AWS_DEFAULT_REGION"]
	}
	db := dynamodb.New(dynamodb.Options{
		Region:       region,
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL_DYNAMODB"]),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]}, nil
		}),
		// DynamoDB Local's x-amz-crc32 does not match the SDK's (as in pkg/service).
		DisableValidateResponseChecksum: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k, err := store.New(db, env["TABLE_NAME"], 0).GetKey(ctx, id)
	if err != nil {
		t.Fatalf("stored key %s: %v", id, err)
	}
	return k
}

func offsetDays(e keyEvent) string { return fmt.Sprint(e.Detail["offset_days"]) }

// testSweep is the sweeper's acceptance against the running stack: `make sweep NOW=…`
// expires a key and sends each due reminder once, and a second run sends nothing new.
//
// What is due follows pkg/sweeper (doc.go, and visit in sweeper.go): a key past
// expires_at is expired (key.expired) and gets no reminder in that visit; otherwise it
// gets the reminder of the smallest offset (14, 7, 1 days) that has passed, once per
// key, expires_at, secret version and offset. So the 5-day key, swept 1 day after
// creation, gets the 7-day reminder; swept again 6 days after creation it is expired,
// and the 1-day reminder, whose instant passed in between, is not sent: expiry comes
// first. The 200-day key is due for nothing in that time (stale notices start at 90
// days).
//
// NOW moves only the sweeper's clock. The keys API answers the effective status at the
// wall clock (store.Key.EffectiveStatus), so after the simulated expiry GET
// /v1/keys/{id} still says active; the expiry is checked in the stored item, in the
// key.expired event and in the API's updated_at (the sweep's instant).
func testSweep(t *testing.T, s *localStack) {
	if !s.hasRoute("GET /v1/keys/{id}/events") {
		t.Fatal("template.yaml routes no GET /v1/keys/{id}/events")
	}
	if _, ok := s.p.Function("SweeperFunction"); !ok {
		t.Fatal("template.yaml has no SweeperFunction")
	}
	if _, err := os.Stat(filepath.Join(s.dir, "stack.json")); err != nil {
		t.Fatalf("the running stack wrote no stack.json in its KEYWARD_LOCAL_DIR: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	create := func(name string, days int) string {
		t.Helper()
		var key struct {
			ID        string    `json:"id"`
			Status    string    `json:"status"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		body := fmt.Sprintf(`{"name":%q,"owner":"sweep@example.com","scopes":["orders:read"],"expires_in_days":%d}`, name, days)
		if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json", body, &key); code != 201 || key.ID == "" {
			t.Fatalf("create %s: %d %+v", name, code, key)
		}
		want := now.Add(time.Duration(days) * 24 * time.Hour)
		if key.ExpiresAt.Before(want) || key.ExpiresAt.After(want.Add(5*time.Minute)) {
			t.Fatalf("create %s: expires_at %s, want %d days from %s", name, key.ExpiresAt, days, now)
		}
		return key.ID
	}
	short := create("sweep-5d", 5)
	long := create("sweep-200d", 200)
	type keyView struct {
		Status    string    `json:"status"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	get := func(id string) keyView {
		t.Helper()
		var key keyView
		if code := call(t, "GET", s.base+"/v1/keys/"+id, s.root, "", "", &key); code != 200 {
			t.Fatalf("get %s: %d", id, code)
		}
		return key
	}
	status := func(id string) string { t.Helper(); return get(id).Status }
	// untouched checks that the long key got nothing from the sweeper.
	untouched := func(t *testing.T, evs []keyEvent) {
		t.Helper()
		for _, typ := range []string{"key.expiry_reminder", "key.stale_reminder", "key.expired", "key.rotation_finished"} {
			if n := len(ofType(evs, typ)); n != 0 {
				t.Errorf("200-day key: %d %s events, want none: %+v", n, typ, evs)
			}
		}
		if st := status(long); st != "active" {
			t.Errorf("200-day key: status %q, want active", st)
		}
	}
	oneReminder := func(t *testing.T, evs []keyEvent) {
		t.Helper()
		rem := ofType(evs, "key.expiry_reminder")
		if len(rem) != 1 {
			t.Fatalf("5-day key: %d key.expiry_reminder events, want exactly 1: %+v", len(rem), rem)
		}
		if got := offsetDays(rem[0]); got != "7" {
			t.Errorf("5-day key: reminder offset_days %s, want 7: %+v", got, rem[0])
		}
	}
	same := func(t *testing.T, who string, before, after []keyEvent) {
		t.Helper()
		b, a := eventIDs(before), eventIDs(after)
		if strings.Join(b, "\n") != strings.Join(a, "\n") {
			t.Errorf("%s: a repeated sweep changed the event log:\nbefore:\n%s\nafter:\n%s", who, strings.Join(b, "\n"), strings.Join(a, "\n"))
		}
	}
	nothingNew := func(t *testing.T, res sweepResult) {
		t.Helper()
		if res.Expired != 0 || res.ExpiryReminders != 0 || res.StaleReminders != 0 || res.Delivered != 0 || res.Resumed != 0 {
			t.Errorf("repeated sweep did something: %+v, want nothing expired, recorded, delivered or resumed", res)
		}
	}

	// 1 day on: the 5-day key has 4 days left; the 7-day reminder is the smallest due.
	day1 := now.Add(24 * time.Hour)
	res := makeSweep(t, s, day1)
	if res.ExpiryReminders < 1 || res.Delivered < 1 {
		t.Errorf("first sweep: %+v, want at least the 5-day key's reminder recorded and delivered", res)
	}
	shortEv, longEv := keyEvents(t, s, short), keyEvents(t, s, long)
	oneReminder(t, shortEv)
	if n := len(ofType(shortEv, "key.expired")); n != 0 {
		t.Errorf("5-day key: %d key.expired events one day in, want none", n)
	}
	if st := status(short); st != "active" {
		t.Errorf("5-day key one day in: status %q, want active", st)
	}
	untouched(t, longEv)

	// The same instant again: nothing new anywhere.
	nothingNew(t, makeSweep(t, s, day1))
	shortEv2, longEv2 := keyEvents(t, s, short), keyEvents(t, s, long)
	same(t, "5-day key", shortEv, shortEv2)
	same(t, "200-day key", longEv, longEv2)

	// 6 days on: the 5-day key is past expires_at and expires; no reminder with it.
	day6 := now.Add(6 * 24 * time.Hour)
	res = makeSweep(t, s, day6)
	if res.Expired < 1 {
		t.Errorf("sweep 6 days on: %+v, want the 5-day key expired", res)
	}
	shortEv3, longEv3 := keyEvents(t, s, short), keyEvents(t, s, long)
	expiredNow := func(t *testing.T) {
		t.Helper()
		// The sweeper wrote the expiry: the stored status is expired.
		if k := storedKey(t, s, short); k.Status != "expired" || k.Version != 2 {
			t.Errorf("5-day key six days in: stored status %q version %d, want expired and 2 (one write by the sweeper)", k.Status, k.Version)
		}
		// The API shows that write: updated_at is the sweep's instant, and the stored
		// expired stands (store.Key.EffectiveStatus) though NOW moved only the sweeper's clock.
		v := get(short)
		if !v.UpdatedAt.Equal(day6) {
			t.Errorf("5-day key six days in: updated_at %s, want the sweep's instant %s", v.UpdatedAt, day6)
		}
		if v.Status != "expired" {
			t.Errorf("GET /v1/keys/%s answers status %q after the sweeper expired it, want expired", short, v.Status)
		}
	}
	expiredNow(t)
	if n := len(ofType(shortEv3, "key.expired")); n != 1 {
		t.Errorf("5-day key: %d key.expired events, want exactly 1: %+v", n, shortEv3)
	}
	oneReminder(t, shortEv3)
	if got, want := len(shortEv3), len(shortEv2)+1; got != want {
		t.Errorf("5-day key: %d events after expiry, want %d (one key.expired more):\n%s", got, want, strings.Join(eventIDs(shortEv3), "\n"))
	}
	untouched(t, longEv3)
	same(t, "200-day key", longEv2, longEv3)

	// And again: nothing new.
	nothingNew(t, makeSweep(t, s, day6))
	same(t, "5-day key", shortEv3, keyEvents(t, s, short))
	same(t, "200-day key", longEv3, keyEvents(t, s, long))
	expiredNow(t)
}
