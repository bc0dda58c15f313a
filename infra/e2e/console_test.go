package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/keyward/keyward/pkg/client"
	"github.com/keyward/keyward/pkg/console"
)

// TestConsole drives the web console in headless chromium against the local stack,
// started as make local starts it: the whole key lifecycle as a user clicks it,
// bulk delete, a read-only key, an owner-narrowed key, a refused write, moves between
// pages raced by a stop, a sign-out or a one-time secret, the idle timeout, and the
// headers every console answer carries. Each page's screenshot is
// written under .local/screenshots/ at 1280 and 375 px.
func TestConsole(t *testing.T) {
	needStackTools(t)
	path := needChromium(t)
	s := startStack(t)
	browser := newBrowser(t, path)
	// Every key page asks for the key's usage; on a deployment without that route
	// the browser logs the 404, which is then expected (usage-missing checks the
	// page's message).
	var allow []string
	if usageRouteAbsent(t, s) {
		allow = []string{"404 (Not Found)"}
	}
	b := browserTabs{browser, allow}

	t.Run("headers", func(t *testing.T) { testConsoleHeaders(t, s) })
	t.Run("lifecycle", func(t *testing.T) { testConsoleLifecycle(t, s, b.tab(t, s.base)) })
	t.Run("bulk-delete", func(t *testing.T) { testConsoleBulkDelete(t, s, b.tab(t, s.base)) })
	t.Run("read-only", func(t *testing.T) { testConsoleReadOnly(t, s, b.tab(t, s.base)) })
	t.Run("owner-narrowed", func(t *testing.T) { testConsoleNarrowed(t, s, b.tab(t, s.base)) })
	t.Run("refused", func(t *testing.T) { testConsoleRefused(t, s, b.tab(t, s.base)) })
	t.Run("limits", func(t *testing.T) { testConsoleLimits(t, s, b.tab(t, s.base)) })
	t.Run("usage-chart", func(t *testing.T) { testConsoleUsageChart(t, s, b.tab(t, s.base)) })
	t.Run("usage-missing", func(t *testing.T) { testConsoleUsageMissing(t, s, b.tab(t, s.base)) })
	t.Run("usage-error", func(t *testing.T) { testConsoleUsageError(t, s, b.tab(t, s.base)) })
	t.Run("navigation", func(t *testing.T) { testConsoleNavigation(t, s, b.tab(t, s.base)) })
	t.Run("navigation-given-up", func(t *testing.T) { testConsoleNavigationAborted(t, s, b.tab(t, s.base), false) })
	t.Run("navigation-given-up-slow", func(t *testing.T) { testConsoleNavigationAborted(t, s, b.tab(t, s.base), true) })
	t.Run("navigation-signed-out", func(t *testing.T) { testConsoleNavigationSignedOut(t, s, b.tab(t, s.base)) })
	t.Run("navigation-secret-after", func(t *testing.T) {
		testConsoleNavigationSecret(t, s, b.tab(t, s.base), 1500, 0, `^POST /v1/keys$`)
	})
	t.Run("navigation-secret-during", func(t *testing.T) {
		testConsoleNavigationSecret(t, s, b.tab(t, s.base), 500, 2000, `^GET /v1/keys$`)
	})
	t.Run("navigation-skip-link", func(t *testing.T) { testConsoleNavigationSkipLink(t, s, b.tab(t, s.base)) })
	t.Run("navigation-rotated", func(t *testing.T) { testConsoleNavigationRotated(t, s, b.tab(t, s.base)) })
	t.Run("navigation-quick", func(t *testing.T) {
		testConsoleNavigationQuick(t, s, b.tab(t, s.base), `#nav a[href="#/keys/new"]`, "#/keys/new")
	})
	t.Run("navigation-quick-back", func(t *testing.T) {
		testConsoleNavigationQuick(t, s, b.tab(t, s.base), `#nav a[href="#/keys"]`, "#/keys")
	})
	t.Run("navigation-quick-skip-link", func(t *testing.T) {
		testConsoleNavigationQuick(t, s, b.tab(t, s.base), `a.skip`, "#main")
	})
	t.Run("navigation-fallback", func(t *testing.T) { testConsoleNavigationFallback(t, s, b.tab(t, s.base)) })
	t.Run("idle-timeout", func(t *testing.T) { testConsoleIdle(t, s, b.tab(t, s.base)) })
}

// testConsoleNavigation: a form submitted while the console moves to another page is
// refused (its answer, a one-time secret, would land on a page about to go), and
// back and forward show the page of the address.
func testConsoleNavigation(t *testing.T, s *localStack, b *tab) {
	b.open("")
	b.signIn(s.root)
	b.waitFor(`!!document.querySelector('table.keys[data-loads]')`)
	b.click("#new-key")
	b.waitVisible("#key-name")
	b.typeInto("#key-name", "submitted-while-leaving")
	b.typeInto("#scope-other", "orders:read")
	// The navigation starts, then the form is submitted before the list is shown. The
	// page's calls are recorded as they are made: the form's call would be made at
	// once, in the submit event.
	b.do(evalAction(`(() => {
		window.calls = [];
		const f = window.fetch;
		window.fetch = (url, init) => { calls.push(((init && init.method) || 'GET') + ' ' + url); return f(url, init); };
		location.hash = '#/keys';
		document.querySelector('#create-submit').form.requestSubmit();
		return true;
	})()`))
	b.waitFor(`location.hash === '#/keys' && !!document.querySelector('table.keys[data-loads]')`)
	if calls := eval[[]string](b, `window.calls`); slices.Contains(calls, "POST /v1/keys") {
		t.Errorf("the form submitted while the console left its page was sent: %v", calls)
	}
	var list struct {
		Items []struct{ Name string } `json:"items"`
	}
	if code := call(t, "GET", s.base+"/v1/keys?limit=100", s.root, "", "", &list); code != 200 {
		t.Fatalf("list keys: %d", code)
	}
	for _, k := range list.Items {
		if k.Name == "submitted-while-leaving" {
			t.Errorf("a form submitted while the console left its page created key %s", k.Name)
		}
	}
	if b.count("#secret-value") != 0 {
		t.Error("a secret panel is shown on the key list")
	}
	backAndForward(t, b)
	b.noConsoleErrors()
}

// browserTabs opens tabs of one browser that all allow the same console messages.
type browserTabs struct {
	ctx   context.Context
	allow []string
}

func (bt browserTabs) tab(t *testing.T, base string) *tab {
	tb := newTab(t, bt.ctx, base)
	tb.allow = bt.allow
	return tb
}

// usageRouteAbsent reports whether the stack lacks GET /v1/keys/{id}/usage: a 404 for
// a key that exists.
func usageRouteAbsent(t *testing.T, s *localStack) bool {
	t.Helper()
	k := createKey(t, s, "usage-probe", "usage", "orders:read")
	return call(t, "GET", s.base+"/v1/keys/"+k.ID+"/usage?days=30", s.root, "", "", nil) == 404
}

// Through the gateway, every console answer carries the security headers, a 404
// included, and the page is only the embedded page.
func testConsoleHeaders(t *testing.T, s *localStack) {
	for _, p := range []string{"/console", "/console/app.js", "/console/style.css", "/console/nothing.js", "/console/..%2fconsole.go"} {
		resp, err := http.Get(s.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := 200
		if strings.Contains(p, "nothing") || strings.Contains(p, "%2f") {
			want = 404
		}
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", p, resp.StatusCode, want)
		}
		for k, v := range console.SecurityHeaders {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", p, k, got, v)
			}
		}
		if resp.Header.Get("Request-Id") == "" {
			t.Errorf("GET %s: no Request-Id", p)
		}
	}
}

// keyShape is an API key: the deployment's prefix, then id, secret and checksum.
var keyShape = regexp.MustCompile(`^[a-z][a-z0-9]*_([a-z0-9]+_)?[A-Za-z0-9_-]{66}$`)

func testConsoleLifecycle(t *testing.T, s *localStack, b *tab) {
	root := s.p.Root
	b.open("")
	b.shot(root, "signin")
	// A wrong credential is refused with a readable message and its code.
	b.signInFails("kw_live_" + strings.Repeat("a", 66))
	b.signIn(s.root)
	if got := b.text("#who-name"); got != "root credential" {
		t.Errorf("signed in as %q, want the root credential", got)
	}

	// Create.
	b.click("#new-key")
	b.waitVisible("#key-name")
	if v := eval[string](b, `document.querySelector('#key-days').value`); v != "90" {
		t.Errorf("default expiry %q days, want 90", v)
	}
	b.shot(root, "create")
	b.typeInto("#key-name", "console-e2e")
	b.typeInto("#key-description", "made by the browser test")
	b.typeInto("#key-owner", "alice")
	b.click("#scope-keys-read")
	b.typeInto("#scope-other", "orders:read")
	b.typeInto("#key-cidrs", "0.0.0.0/0")
	b.click("#create-submit")
	b.waitVisible("#secret-value")
	secret := b.text("#secret-value")
	if !keyShape.MatchString(secret) {
		t.Fatalf("the secret panel shows %q", secret)
	}
	// Copy, once: the clipboard then holds the secret.
	b.click("#copy-secret")
	b.waitFor(`document.querySelector('#copy-status').textContent.includes('Copied')`)
	if clip := eval[string](b, `navigator.clipboard.readText()`); clip != secret {
		t.Errorf("the clipboard holds %q, want the secret", clip)
	}
	b.shot(root, "secret")
	// The panel cannot be left before it is acknowledged.
	if !eval[bool](b, `document.querySelector('#secret-done').disabled`) {
		t.Error("Done is enabled before the acknowledgement")
	}
	eval[bool](b, `(location.hash = '#/keys', true)`)
	b.waitFor(`document.querySelector('#flash').textContent.includes('Acknowledge')`)
	if !b.visible("#secret-value") {
		t.Fatal("navigating away left the unacknowledged secret")
	}
	b.click("#ack-secret")
	b.click("#secret-done")
	b.waitVisible("#key-title")
	routed(b) // the key's page has its address
	id := eval[string](b, `decodeURIComponent(location.hash.slice('#/keys/'.length))`)
	if code, _ := tokenStatus(t, s, id, secret); code != 200 {
		t.Fatalf("the secret the console showed does not work: token %d", code)
	}
	// The secret is shown once: not on the details page, not anywhere in the page.
	if strings.Contains(b.pageText(), secret) || eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, secret)) {
		t.Error("the secret is still in the page after the acknowledgement")
	}

	// In the list, with its columns: last use is the token exchange above.
	b.click(`#nav a[data-route="keys"]`)
	b.waitVisible(fmt.Sprintf(`tr[data-key="%s"]`, id))
	row := b.text(fmt.Sprintf(`tr[data-key="%s"]`, id))
	for _, want := range []string{"console-e2e", "alice", "keys:read", "orders:read", "active", "from 127.0.0.1"} {
		if !strings.Contains(row, want) {
			t.Errorf("the list row %q lacks %q", row, want)
		}
	}
	b.shot(root, "keys")

	// Details: rotate with 24 h grace, the new secret once, then finish.
	b.click(fmt.Sprintf(`tr[data-key="%s"] a.key-name`, id))
	b.waitVisible("#rotate")
	b.waitFor(`document.querySelectorAll('#events-title ~ .table-wrap tr[data-event]').length >= 1`)
	b.shot(root, "detail")
	b.click("#rotate")
	b.waitVisible("dialog #grace")
	if !eval[bool](b, `document.activeElement === document.querySelector('dialog #grace')`) {
		t.Error("the rotate dialog did not take the focus")
	}
	b.shot(root, "rotate-dialog")
	b.click("dialog button.primary")
	b.waitVisible("#secret-value")
	rotated := b.text("#secret-value")
	if rotated == secret || !keyShape.MatchString(rotated) {
		t.Fatalf("the rotated secret is %q", rotated)
	}
	b.click("#ack-secret")
	b.click("#secret-done")
	b.waitVisible("#finish-rotation")
	if txt := b.text("#finish-rotation"); !strings.Contains(txt, "left") || !strings.Contains(txt, "23 h") {
		t.Errorf("finish button %q: want the time left in the grace (23 h …)", txt)
	}
	for _, sec := range []string{secret, rotated} {
		if code, _ := tokenStatus(t, s, id, sec); code != 200 {
			t.Errorf("during the grace a secret is refused: %d", code)
		}
	}
	b.shot(root, "rotating")
	b.click("#finish-rotation")
	b.click("dialog button.primary")
	b.waitFor(`!document.querySelector('#finish-rotation') && document.querySelector('.page-head .badge').textContent === 'active'`)
	if code, _ := tokenStatus(t, s, id, secret); code == 200 {
		t.Error("the previous secret still works after Finish rotation")
	}

	// Edit: the name and the metadata.
	b.typeInto("#edit-name", "console-e2e-renamed")
	b.typeInto("#edit-metadata", `{"team":"payments"}`)
	b.click("#save")
	b.waitFor(`document.querySelector('#key-title').textContent === 'console-e2e-renamed'`)
	name := "console-e2e-renamed"

	// Revoke, confirmed by typing the name.
	b.click("#revoke")
	b.waitVisible("#revoke-confirm")
	b.typeInto("#revoke-confirm", "console-e2e")
	if !eval[bool](b, `document.querySelector('#revoke-confirm-button').disabled`) {
		t.Error("Revoke is enabled with the wrong name typed")
	}
	b.typeInto("#revoke-confirm", name)
	b.waitFor(`!document.querySelector('#revoke-confirm-button').disabled`)
	b.shot(root, "revoke-dialog")
	b.click("#revoke-confirm-button")
	b.waitFor(`document.querySelector('.page-head .badge').textContent === 'revoked'`)
	if b.count("#rotate, #revoke, #save") != 0 {
		t.Error("a revoked key still offers rotate, revoke or edit")
	}
	if code, _ := tokenStatus(t, s, id, rotated); code == 200 {
		t.Error("the revoked key still gets tokens")
	}

	// Delete.
	b.click("#delete")
	b.click("#delete-confirm")
	b.waitFor(`document.querySelector('#flash').textContent.includes('Deleted')`)
	b.waitFor(`!!document.querySelector('table.keys[data-loads]')`)
	if b.count(fmt.Sprintf(`tr[data-key="%s"]`, id)) != 0 {
		t.Error("the deleted key is still listed")
	}
	if code := call(t, "GET", s.base+"/v1/keys/"+id, s.root, "", "", nil); code != 404 {
		t.Errorf("GET the deleted key: %d, want 404", code)
	}

	// The trail in the audit log, each event linking to the key.
	b.click(`#nav a[data-route="audit"]`)
	b.waitVisible("#filter-type")
	link := fmt.Sprintf(`a.event-key[href="#/keys/%s"]`, id)
	b.waitFor(fmt.Sprintf(`document.querySelectorAll(%q).length >= 6`, link))
	types := eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(a => a.closest('tr').dataset.event)`, link))
	for _, want := range []string{"key.created", "key.rotated", "key.rotation_finished", "key.updated", "key.revoked", "key.deleted"} {
		if !strings.Contains(strings.Join(types, " "), want) {
			t.Errorf("the audit log lacks %s for the key (has %v)", want, types)
		}
	}
	b.shot(root, "audit")
	b.do(setSelect("#filter-type", "key.revoked"))
	b.waitFor(`[...document.querySelectorAll('.event-rows tr[data-event]')].every(r => r.dataset.event === 'key.revoked') && document.querySelectorAll('.event-rows tr[data-event]').length > 0`)

	// Nothing was stored: no web storage, no cookie. Sign-out forgets the session.
	if n := eval[int](b, `localStorage.length + sessionStorage.length + document.cookie.length`); n != 0 {
		t.Errorf("the console stored something (%d)", n)
	}
	b.click("#signout")
	b.waitVisible("#credential")
	if b.visible("#whoami") {
		t.Error("still shown as signed in after sign-out")
	}
	eval[bool](b, `(location.hash = '#/keys', true)`)
	b.waitVisible("#credential")
	b.noConsoleErrors(
		"401 (Unauthorized)", // the wrong credential, refused on purpose
	)
}

// setSelect chooses value in the <select> sel, as a user would (a change event).
func setSelect(sel, value string) chromedpAction {
	return evalAction(fmt.Sprintf(`(() => { const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, sel, value))
}

// signInFails pastes a credential the API refuses and expects the readable error.
func (b *tab) signInFails(credential string) {
	b.t.Helper()
	b.do(evalAction(`(document.querySelector('#credential').value = '', true)`))
	b.typeInto("#credential", credential)
	b.click("#signin")
	b.waitFor(`document.querySelector('#signin-error').textContent.includes('code ')`)
	if txt := b.text("#signin-error"); !strings.Contains(txt, "invalid_client") {
		b.t.Errorf("the refusal reads %q, want its code invalid_client", txt)
	}
	b.do(evalAction(`(document.querySelector('#credential').value = '', true)`))
}

func testConsoleBulkDelete(t *testing.T, s *localStack, b *tab) {
	keys := []apiKey{
		createKey(t, s, "bulk-one", "bulk", "orders:read"),
		createKey(t, s, "bulk-two", "bulk", "orders:read"),
		createKey(t, s, "bulk-keep", "bulk", "orders:read"),
	}
	b.open("")
	b.signIn(s.root)
	b.do(evalAction(`(document.querySelector('#filter-owner').value = 'bulk', true)`))
	b.reloadList()
	if n := b.count("#key-rows tr[data-key]"); n != 3 {
		t.Fatalf("the owner filter shows %d keys, want the 3 of owner bulk", n)
	}
	for _, k := range keys[:2] {
		b.click(fmt.Sprintf(`tr[data-key="%s"] input[type=checkbox]`, k.ID))
	}
	if txt := b.text("#bulk-delete"); txt != "Delete selected (2)" {
		t.Errorf("bulk button reads %q", txt)
	}
	b.click("#bulk-delete")
	b.waitVisible("dialog .names")
	if names := b.text("dialog .names"); !strings.Contains(names, "bulk-one") || !strings.Contains(names, "bulk-two") || strings.Contains(names, "bulk-keep") {
		t.Errorf("the confirmation lists %q", names)
	}
	b.shot(s.p.Root, "bulk-delete")
	b.click("dialog button.danger")
	b.waitFor(`document.querySelector('#flash').textContent.includes('Deleted 2.') && document.querySelectorAll('#key-rows tr[data-key]').length === 1`)
	for i, k := range keys {
		want := 404
		if i == 2 {
			want = 200
		}
		if code := call(t, "GET", s.base+"/v1/keys/"+k.ID, s.root, "", "", nil); code != want {
			t.Errorf("%s after bulk delete: %d, want %d", k.Name, code, want)
		}
	}
	b.noConsoleErrors()
}

func testConsoleReadOnly(t *testing.T, s *localStack, b *tab) {
	ro := createKey(t, s, "reader", "ops", "keys:read", "audit:read")
	target := createKey(t, s, "read-target", "ops", "orders:read")
	b.open("")
	b.signIn(ro.Secret)
	if who := b.text("#who-name"); !strings.Contains(who, ro.ID) {
		t.Errorf("signed in as %q, want the key id %s", who, ro.ID)
	}
	if sc := b.text("#scopes"); !strings.Contains(sc, "keys:read") || !strings.Contains(sc, "audit:read") {
		t.Errorf("scopes shown: %q", sc)
	}
	b.waitVisible(fmt.Sprintf(`tr[data-key="%s"]`, target.ID))
	for _, sel := range []string{"#new-key", "#bulk-delete", "#key-rows input[type=checkbox]", `#nav a[data-route="new"]`} {
		if b.visible(sel) {
			t.Errorf("a read-only key sees %s", sel)
		}
	}
	b.shot(s.p.Root, "keys-read-only")
	b.click(fmt.Sprintf(`tr[data-key="%s"] a.key-name`, target.ID))
	b.waitVisible("#perm-title")
	b.waitFor(`document.querySelectorAll('#events-title ~ .table-wrap tr[data-event="key.created"]').length === 1`)
	for _, sel := range []string{"#rotate", "#revoke", "#delete", "#save", "#finish-rotation"} {
		if b.count(sel) != 0 {
			t.Errorf("a read-only key sees %s on the details page", sel)
		}
	}
	b.shot(s.p.Root, "detail-read-only")
	b.noConsoleErrors()
}

func testConsoleNarrowed(t *testing.T, s *localStack, b *tab) {
	var alice []apiKey
	for i := range 3 {
		alice = append(alice, createKey(t, s, fmt.Sprintf("alice-%d", i), "alice", "orders:read"))
	}
	bob := createKey(t, s, "bob-0", "bob", "orders:read")
	narrowed := createKey(t, s, "alice-reader", "alice", "keys:read@owner:alice")
	b.open("")
	b.signIn(narrowed.Secret)
	b.waitFor(`!document.querySelector('#load-more:not([hidden])')`)
	owners := eval[[]string](b, `[...document.querySelectorAll('#key-rows tr[data-key] td[data-label="Owner"]')].map(td => td.textContent)`)
	if len(owners) < len(alice)+1 {
		t.Errorf("the narrowed key sees %d keys, want alice's %d and itself", len(owners), len(alice))
	}
	for _, o := range owners {
		if o != "alice" {
			t.Errorf("the narrowed key sees a key of %q", o)
		}
	}
	if b.count(fmt.Sprintf(`tr[data-key="%s"]`, bob.ID)) != 0 {
		t.Error("the narrowed key sees bob's key")
	}
	if b.visible(`#nav a[data-route="audit"]`) || b.visible("#new-key") {
		t.Error("the narrowed reader is offered the audit log or New key")
	}
	b.shot(s.p.Root, "keys-narrowed")
	b.noConsoleErrors()
}

// A write the API refuses (keys:write for alice, creating bob's key) shows the
// problem's code, and changes nothing.
func testConsoleRefused(t *testing.T, s *localStack, b *tab) {
	w := createKey(t, s, "alice-writer", "alice", "keys:write@owner:alice", "keys:read@owner:alice", "orders:read")
	b.open("")
	b.signIn(w.Secret)
	b.click("#new-key")
	b.waitVisible("#key-name")
	b.typeInto("#key-name", "for-bob")
	b.typeInto("#key-owner", "bob")
	b.typeInto("#scope-other", "orders:read")
	b.click("#create-submit")
	b.waitFor(`document.querySelector('#create-error').textContent.includes('code ')`)
	if txt := b.text("#create-error"); !strings.Contains(txt, "owner_not_allowed") {
		t.Errorf("the refusal reads %q, want code owner_not_allowed", txt)
	}
	b.shot(s.p.Root, "create-refused")
	var list struct {
		Items []apiKey `json:"items"`
	}
	call(t, "GET", s.base+"/v1/keys?owner=bob", s.root, "", "", &list)
	for _, k := range list.Items {
		if k.Name == "for-bob" {
			t.Error("the refused key was created")
		}
	}
	b.noConsoleErrors("403 (Forbidden)")
}

// The idle timeout is the deployment's (ConsoleIdleMinutes, 15 minutes by default),
// and the page says so; ?idle=<s> shortens it for this test. A warning with a countdown
// comes first, activity puts the sign-out off, and then the page forgets the
// credential and shows the sign-in screen.
func testConsoleIdle(t *testing.T, s *localStack, b *tab) {
	b.open("")
	if txt := b.text("#signin-note"); !strings.Contains(txt, "after 15 minutes without a key press") {
		t.Errorf("the sign-in page reads %q: want the deployment's 15 minutes", txt)
	}
	b.signIn(s.root)
	if txt := b.text("#idle-note"); txt != "Signs out after 15 minutes idle" {
		t.Errorf("the header reads %q: want the deployment's 15 minutes", txt)
	}

	b.open("?idle=12") // warns at 8 s, signs out at 12 s
	b.signIn(s.root)
	if txt := b.text("#idle-note"); txt != "Signs out after 12 seconds idle" {
		t.Errorf("the header reads %q with ?idle=12", txt)
	}
	b.waitPhase("warning", `!document.querySelector('#idle-warning').hidden && /\d second/.test(document.querySelector('#idle-left').textContent)`)
	if !b.visible("#whoami") {
		t.Fatal("signed out before the warning was shown")
	}
	// Activity (a key press) puts the sign-out off.
	b.do(chromedp.KeyEvent("x"))
	if !b.visible("#whoami") {
		t.Fatal("phase stay: the page signed out before the key press reached it (a loaded machine?)")
	}
	if b.visible("#idle-warning") {
		t.Fatal("a key press did not put the sign-out off")
	}
	b.waitPhase("second warning", `!document.querySelector('#idle-warning').hidden`)
	b.waitPhase("sign-out", `!!document.querySelector('#credential') && document.body.textContent.includes('without activity')`)
	if b.visible("#whoami") || b.visible("#idle-warning") {
		t.Error("still shown as signed in after the idle timeout")
	}
	// The credential is gone from the page's memory: the API module has no session.
	if got := eval[string](b, `import('/console/api.js').then((m) => m.who() === null ? m.api('GET', '/v1/keys').then(() => 'answered', (e) => e.code) : 'still signed in')`); got != "signed_out" {
		t.Errorf("after the idle timeout a call from the page gives %q, want signed_out", got)
	}
	if v := eval[string](b, `document.querySelector('#credential').value`); v != "" {
		t.Errorf("the sign-in field holds %q", v)
	}
	b.noConsoleErrors()
}

// waitPhase waits for a page state, bounded like every step, and names the phase and
// how long it took, so that a slow run says where it was slow.
func (b *tab) waitPhase(phase, predicate string) {
	b.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(0))); err != nil {
		b.t.Fatalf("phase %s: not reached after %s (%v): waiting for %s\npage:\n%s", phase, time.Since(start).Round(time.Millisecond), err, predicate, b.pageText())
	}
	b.t.Logf("phase %s reached after %s", phase, time.Since(start).Round(time.Millisecond))
}

// keyLimits is a key's limits as the management API answers them.
type keyLimits struct {
	RateLimit *struct {
		Limit         int64 `json:"limit"`
		WindowSeconds int64 `json:"window_seconds"`
	} `json:"ratelimit"`
	Remaining *int64 `json:"remaining"`
	Refill    *struct {
		Amount int64  `json:"amount"`
		Every  string `json:"every"`
	} `json:"refill"`
}

// The create form sets a key's rate limit, credits and refill; the details page shows
// them; the edit form changes and clears them; a bad combination is refused with a
// readable message and changes nothing.
func testConsoleLimits(t *testing.T, s *localStack, b *tab) {
	b.open("")
	b.signIn(s.root)
	b.click("#new-key")
	b.waitVisible("#key-limits")
	for _, id := range []string{"key-rate-limit", "key-rate-window", "key-remaining", "key-refill-every", "key-refill-amount"} {
		if b.count(fmt.Sprintf(`label[for=%q]`, id)) != 1 {
			t.Errorf("the control #%s has no label", id)
		}
	}
	b.typeInto("#key-name", "limited-e2e")
	b.typeInto("#scope-other", "orders:read")
	b.typeInto("#key-rate-limit", "100")
	b.typeInto("#key-rate-window", "60")
	b.typeInto("#key-remaining", "5000")
	b.do(setSelect("#key-refill-every", "month"))
	b.shot(s.p.Root, "create-limits")
	// A refill without its amount is caught before any call.
	b.click("#create-submit")
	b.waitFor(`document.querySelector('#create-error').textContent.includes('needs an amount')`)
	b.typeInto("#key-refill-amount", "5000")
	b.click("#create-submit")
	b.waitVisible("#secret-value")
	b.click("#ack-secret")
	b.click("#secret-done")
	b.waitVisible("#key-title")
	routed(b) // the key's page has its address
	id := eval[string](b, `decodeURIComponent(location.hash.slice('#/keys/'.length))`)
	summary := b.text(".summary")
	for _, want := range []string{"100 uses per 60 s", "5000", "back to 5000 every month"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the details read %q, lacking %q", summary, want)
		}
	}
	var k keyLimits
	call(t, "GET", s.base+"/v1/keys/"+id, s.root, "", "", &k)
	if k.RateLimit == nil || k.RateLimit.Limit != 100 || k.RateLimit.WindowSeconds != 60 || k.Remaining == nil || *k.Remaining != 5000 ||
		k.Refill == nil || k.Refill.Amount != 5000 || k.Refill.Every != "month" {
		t.Fatalf("the key was created with limits %+v", k)
	}

	// The API's own refusal: a refill on unlimited credits is a 400 with its code, and
	// the key keeps its limits.
	b.typeInto("#edit-remaining", "")
	b.click("#save")
	b.waitFor(`document.querySelector('#detail-error').textContent.includes('code ')`)
	if txt := b.text("#detail-error"); !strings.Contains(txt, "invalid_refill") {
		t.Errorf("the refusal reads %q, want code invalid_refill", txt)
	}
	call(t, "GET", s.base+"/v1/keys/"+id, s.root, "", "", &k)
	if k.Remaining == nil || *k.Remaining != 5000 || k.Refill == nil {
		t.Errorf("a refused patch changed the limits: %+v", k)
	}

	// Edit: credits 42, no rate limit, no refill.
	b.typeInto("#edit-rate-limit", "")
	b.typeInto("#edit-remaining", "42")
	b.do(setSelect("#edit-refill-every", ""))
	b.typeInto("#edit-refill-amount", "")
	b.click("#save")
	b.waitFor(`document.querySelector('#flash').textContent.includes('Saved')`)
	b.waitFor(`document.querySelector('.summary').textContent.includes('Credits left42')`)
	k = keyLimits{}
	call(t, "GET", s.base+"/v1/keys/"+id, s.root, "", "", &k)
	if k.RateLimit != nil || k.Remaining == nil || *k.Remaining != 42 || k.Refill != nil {
		t.Errorf("after the edit the limits are %+v, want only 42 credits", k)
	}
	if got := eval[[]string](b, `['#edit-rate-limit', '#edit-remaining', '#edit-refill-amount'].map((s) => document.querySelector(s).value)`); strings.Join(got, ",") != ",42," {
		t.Errorf("the edit form shows %v after the save", got)
	}
	b.noConsoleErrors("400 (Bad Request)") // the refusal provoked above
}

// usedKey is a key with a rate limit of 1 use an hour, presented three times: one
// exchange accepted, and the others refused where limits are enforced. It answers the
// status of GET /v1/keys/{id}/usage?days=30.
func usedKey(t *testing.T, s *localStack) (apiKey, int) {
	t.Helper()
	var k apiKey
	body := `{"name":"usage-e2e","owner":"usage","scopes":["orders:read"],"ratelimit":{"limit":1,"window_seconds":3600}}`
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json", body, &k); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for range 3 {
		tokenStatus(t, s, k.ID, k.Secret)
	}
	return k, call(t, "GET", s.base+"/v1/keys/"+k.ID+"/usage?days=30", s.root, "", "", nil)
}

// Where GET /v1/keys/{id}/usage answers 200, the key's page draws the API's numbers:
// one bar per day, accepted and refused stacked, the totals, and the same numbers in
// the chart's label and in a table. (On a deployment without the route it is skipped,
// and usage-missing runs instead.)
func testConsoleUsageChart(t *testing.T, s *localStack, b *tab) {
	k, code := usedKey(t, s)
	if code != 200 {
		t.Skipf("GET /v1/keys/{id}/usage answers %d here: the chart needs the route (usage-missing covers its absence)", code)
	}
	// Counts are written at most a minute after the uses: wait for them.
	var u client.Usage
	deadline := time.Now().Add(3 * time.Minute)
	for {
		call(t, "GET", s.base+"/v1/keys/"+k.ID+"/usage?days=30", s.root, "", "", &u)
		var total int64
		for _, d := range u.Days {
			total += d.Accepted
		}
		if total > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no accepted use counted 3 minutes after three token exchanges: %+v", u)
		}
		time.Sleep(time.Second)
	}
	b.open("")
	b.signIn(s.root)
	eval[bool](b, fmt.Sprintf(`(location.hash = '#/keys/%s', true)`, k.ID))
	b.waitPhase("usage drawn", `!!document.querySelector('#usage-chart') || !!document.querySelector('#usage-error')`)
	if b.count("#usage-error") != 0 {
		t.Fatalf("the usage panel shows an error: %s", b.text("#usage-error"))
	}
	var accepted, refused int64
	for _, d := range u.Days {
		accepted += d.Accepted
		for _, n := range d.Refused {
			refused += n
		}
	}
	if len(u.Days) != 30 {
		t.Errorf("the API answers %d days, want 30", len(u.Days))
	}
	if n := b.count("#usage-chart g.day"); n != len(u.Days) {
		t.Errorf("the chart has %d bars, want one per day (%d)", n, len(u.Days))
	}
	want := fmt.Sprintf("%d accepted, %d refused in %d days", accepted, refused, len(u.Days))
	if got := b.text("#usage-total"); !strings.Contains(got, want) {
		t.Errorf("the totals read %q, want %q", got, want)
	}
	label := eval[string](b, `document.querySelector('#usage-chart').getAttribute('aria-label')`)
	if !strings.Contains(label, fmt.Sprintf("%d accepted and %d refused", accepted, refused)) {
		t.Errorf("the chart's label %q does not say the totals", label)
	}
	for _, d := range u.Days {
		row := eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll('#usage-table tr[data-day=%q] td')].map((td) => td.textContent)`, d.Day))
		if len(row) != 3 || row[1] != fmt.Sprint(d.Accepted) {
			t.Errorf("the table row of %s is %v, want %d accepted", d.Day, row, d.Accepted)
		}
		bars := eval[[]float64](b, fmt.Sprintf(`['accepted', 'refused'].map((c) => { const r = document.querySelector('#usage-chart g.day[data-day=%q] rect.bar-' + c); return r ? Number(r.getAttribute('height')) : 0; })`, d.Day))
		var r int64
		for code, n := range d.Refused {
			r += n
			if n > 0 && !strings.Contains(row[2], code) {
				t.Errorf("the table row of %s reads %q, lacking the code %s", d.Day, row[2], code)
			}
		}
		if (d.Accepted > 0) != (bars[0] > 0) || (r > 0) != (bars[1] > 0) {
			t.Errorf("the bars of %s are %v for %d accepted and %d refused", d.Day, bars, d.Accepted, r)
		}
	}
	b.shot(s.p.Root, "detail-usage")
	b.noConsoleErrors()
}

// On a deployment without GET /v1/keys/{id}/usage, the key's page says readably that
// the counts could not be loaded, and the rest of the page works. (Skipped where the
// route answers 200: usage-chart runs there.)
func testConsoleUsageMissing(t *testing.T, s *localStack, b *tab) {
	k, code := usedKey(t, s)
	if code == 200 {
		t.Skip("GET /v1/keys/{id}/usage answers 200 here: usage-chart covers it")
	}
	b.open("")
	b.signIn(s.root)
	eval[bool](b, fmt.Sprintf(`(location.hash = '#/keys/%s', true)`, k.ID))
	b.waitPhase("usage message", `!!document.querySelector('#usage-error')`)
	if txt := b.text("#usage-error"); !strings.Contains(txt, "Usage counts could not be loaded") || !strings.Contains(txt, fmt.Sprint(code)) {
		t.Errorf("the usage panel reads %q, want a readable message with the %d", txt, code)
	}
	if got := b.text("#key-title"); got != "usage-e2e" || !b.visible("#save") {
		t.Errorf("the rest of the key's page is broken: title %q", got)
	}
	b.shot(s.p.Root, "detail-usage")
	b.noConsoleErrors(fmt.Sprintf("%d (", code))
}

// Whatever the deployment, a usage request that fails (blocked here, as a network
// error) leaves a readable message in the panel and the rest of the page working.
func testConsoleUsageError(t *testing.T, s *localStack, b *tab) {
	k := createKey(t, s, "usage-blocked", "usage", "orders:read")
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: []*network.BlockPattern{
		{URLPattern: "*://*:*/v1/keys/*/usage?*", Block: true},
	}}); err != nil {
		t.Fatal(err)
	}
	b.open("")
	b.signIn(s.root)
	eval[bool](b, fmt.Sprintf(`(location.hash = '#/keys/%s', true)`, k.ID))
	b.waitPhase("usage message", `!!document.querySelector('#usage-error')`)
	if txt := b.text("#usage-error"); !strings.Contains(txt, "Usage counts could not be loaded") {
		t.Errorf("the usage panel reads %q", txt)
	}
	if b.text("#key-title") != "usage-blocked" || !b.visible("#rotate") {
		t.Error("a failed usage request broke the key's page")
	}
	b.noConsoleErrors("ERR_BLOCKED_BY_CLIENT")
}
