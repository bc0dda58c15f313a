package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// holdCalls makes the page's calls that match pattern (a regular expression over
// "METHOD path") leave ms milliseconds late, so that a test can act while they are
// in flight. Every call's answer is recorded, as "METHOD path", in window.answered.
func holdCalls(b *tab, pattern string, ms int) {
	b.t.Helper()
	b.do(evalAction(fmt.Sprintf(`(() => {
		window.answered = window.answered || [];
		const f = window.fetch, re = new RegExp(%q);
		window.fetch = (url, init) => {
			const call = ((init && init.method) || 'GET') + ' ' + url;
			const wait = re.test(call) ? new Promise((r) => setTimeout(r, %d)) : Promise.resolve();
			return wait.then(() => f(url, init)).then((resp) => { answered.push(call); return resp; });
		};
		return true;
	})()`, pattern, ms)))
}

// settled waits until a call matching pattern has answered and the console has
// done what follows it (see routed).
func settled(b *tab, pattern string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf(`(window.answered || []).some((c) => new RegExp(%q).test(c))`, pattern))
	routed(b)
}

// notPreparing holds in the page while the console prepares no page: its main region
// is aria-busy from the start of a move until the page (or the slow-page message)
// replaces what it shows.
const notPreparing = `!document.getElementById('main').hasAttribute('aria-busy')`

// routed waits until the console has no page in preparation (its main region is
// neither aria-busy nor showing the slow-page message), then for a frame drawn after
// that and the task that follows it, in which the console sets the address of a page
// it has just shown.
func routed(b *tab) {
	b.t.Helper()
	b.waitFor(notPreparing + ` && !document.querySelector('#main .loading')`)
	eval[bool](b, `new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(true))))`)
}

// testConsoleNavigationAborted: a move to another page that the user gives up before
// it is ready, by the link of the page shown, leaves the page shown live, with its
// address, and no "Loading…" in its place: given up at once, or (slow) once that
// message has replaced the page.
func testConsoleNavigationAborted(t *testing.T, s *localStack, b *tab, slow bool) {
	b.open("")
	b.signIn(s.root)
	holdCalls(b, `^GET /v1/audit`, 1000)
	b.do(evalAction(`(document.querySelector('#nav a[href="#/audit"]').click(), true)`))
	if slow {
		b.waitFor(`document.querySelectorAll('#main .loading').length === 1`)
	}
	b.do(evalAction(`(document.querySelector('#nav a[href="#/keys"]').click(), true)`))
	settled(b, `^GET /v1/audit`)
	if h := eval[string](b, `location.hash`); h != "#/keys" {
		t.Errorf("the address is %q after the move to the audit log was given up, want #/keys", h)
	}
	if b.count("table.keys") != 1 || b.count(".loading") != 0 {
		t.Fatalf("the key list is not shown after the move to the audit log was given up: %q", b.text("#main"))
	}
	if cur := eval[string](b, `document.querySelector('#nav a[aria-current="page"]').getAttribute('href')`); cur != "#/keys" {
		t.Errorf("the nav marks %q as the current page, want #/keys", cur)
	}
	// The page shown still takes clicks: its New key link opens the form.
	b.click("#new-key")
	routed(b)
	if eval[string](b, `location.hash`) != "#/keys/new" || b.count("#key-name") != 1 {
		t.Errorf("a click on New key after the move was given up did nothing: %q at %s", b.text("#main"), eval[string](b, `location.hash`))
	}
	b.noConsoleErrors()
}

// testConsoleNavigationSignedOut: when the credential is refused by the call of the
// page being moved to (the key was revoked), the console signs out and stays on the
// sign-in page: the page prepared is not shown after it. The move is a step back,
// which is routed when the address has changed.
func testConsoleNavigationSignedOut(t *testing.T, s *localStack, b *tab) {
	w := createKey(t, s, "nav-revoked", "nav", "keys:read", "audit:read")
	_, token := tokenStatus(t, s, w.ID, w.Secret)
	b.open("")
	b.signIn(w.Secret)
	b.click(`#nav a[href="#/audit"]`)
	b.waitFor(`location.hash === '#/audit' && !!document.querySelector('table.events')`)
	if code := call(t, "POST", s.base+"/v1/keys/"+w.ID+"/revoke", s.root, "", "", nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	// The revocation reaches the key's access tokens within a few seconds.
	for deadline := time.Now().Add(30 * time.Second); call(t, "GET", s.base+"/v1/keys", token, "", "", nil) != 401; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the revoked key's access token is still accepted")
		}
	}
	// Back to the key list: its call is refused.
	b.do(evalAction(`(history.back(), true)`))
	b.waitFor(`document.getElementById('whoami').hidden && ` + notPreparing)
	eval[bool](b, `new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(true))))`)
	if b.count("#credential") != 1 || b.count("table.keys") != 0 {
		t.Errorf("signed out, the console shows %q, want the sign-in page", b.text("#main"))
	}
	if !strings.Contains(b.text("#main"), "no longer accepted") {
		t.Errorf("the sign-in page reads %q, want why the user was signed out", b.text("#main"))
	}
	if h := eval[string](b, `location.hash`); h != "" {
		t.Errorf("signed out, the address is at %q", h)
	}
	b.noConsoleErrors("401 (Unauthorized)")
}

// testConsoleNavigationSecret: a key created while the console moves to another page
// (the form sent, then a header link clicked before the answer) keeps its one-time
// secret on the screen, whether the answer comes before the next page is ready or
// after it is shown; the user acknowledges it, then moves on. create and list say
// how late the create and list calls leave (ms); answered is the call that answers
// last.
func testConsoleNavigationSecret(t *testing.T, s *localStack, b *tab, create, list int, answered string) {
	b.open("")
	b.signIn(s.root)
	b.click("#new-key")
	b.waitVisible("#key-name")
	b.typeInto("#key-name", fmt.Sprintf("created-while-leaving-%d", create))
	b.typeInto("#scope-other", "orders:read")
	holdCalls(b, `^POST /v1/keys$`, create)
	holdCalls(b, `^GET /v1/keys$`, list)
	b.do(evalAction(`(document.querySelector('#create-submit').form.requestSubmit(), document.querySelector('#nav a[href="#/keys"]').click(), true)`))
	settled(b, `^POST /v1/keys$`)
	settled(b, answered)
	if b.count("#secret-value") != 1 || !regexp.MustCompile(`^kw_(live|test)_`).MatchString(b.text("#secret-value")) {
		t.Fatalf("the one-time secret of the key created is not shown: %q", b.text("#main"))
	}
	if h := eval[string](b, `location.hash`); h != "#/keys/new" {
		t.Errorf("the secret is shown at address %q, want #/keys/new", h)
	}
	b.click("#ack-secret")
	b.waitFor(`!document.getElementById('secret-done').disabled`)
	b.click("#secret-done")
	b.waitFor(`location.hash.startsWith('#/keys/') && location.hash !== '#/keys/new' && !!document.querySelector('.page-head h1') && ` + notPreparing)
	b.noConsoleErrors()
}

// testConsoleNavigationSkipLink: the skip link moves the focus to the page shown; it
// is not a move to another page.
func testConsoleNavigationSkipLink(t *testing.T, s *localStack, b *tab) {
	b.open("")
	b.signIn(s.root)
	b.click(`#nav a[href="#/audit"]`)
	b.waitFor(`location.hash === '#/audit' && !!document.querySelector('table.events') && ` + notPreparing)
	b.do(evalAction(`(document.querySelector('a.skip').focus(), document.querySelector('a.skip').click(), true)`))
	b.waitFor(`location.hash === '#main' && ` + notPreparing)
	eval[bool](b, `new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(true))))`)
	if b.count("table.events") != 1 || b.count("table.keys") != 0 {
		t.Errorf("the skip link left the audit log: %q", b.text("#main"))
	}
	if !eval[bool](b, `document.getElementById('main').contains(document.activeElement)`) {
		t.Errorf("after the skip link the focus is on %s, want the page", eval[string](b, `document.activeElement.outerHTML.slice(0, 80)`))
	}
	if cur := eval[string](b, `(document.querySelector('#nav a[aria-current="page"]') || {getAttribute: () => ''}).getAttribute('href')`); cur != "#/audit" {
		t.Errorf("after the skip link the nav marks %q as the current page, want #/audit", cur)
	}
	// Back from there is the audit log still; the nav's Keys link leaves it.
	b.do(evalAction(`(history.back(), true)`))
	b.waitFor(`location.hash === '#/audit' && ` + notPreparing)
	b.click(`#nav a[href="#/keys"]`)
	b.waitFor(`location.hash === '#/keys' && !!document.querySelector('table.keys[data-loads]') && ` + notPreparing)
	b.noConsoleErrors()
}

// testConsoleNavigationRotated: a rotation answered after the user left the key's
// page (the dialog confirmed, then a header link clicked) brings the page back with
// the new secret, at the key's address.
func testConsoleNavigationRotated(t *testing.T, s *localStack, b *tab) {
	k := createKey(t, s, "rotated-while-leaving", "nav", "orders:read")
	b.open("")
	b.signIn(s.root)
	b.do(evalAction(fmt.Sprintf(`(location.hash = '#/keys/%s', true)`, k.ID)))
	b.waitVisible("#rotate")
	holdCalls(b, `^POST /v1/keys/[^/]+/rotate$`, 1000)
	b.click("#rotate")
	b.waitVisible("dialog #grace")
	b.do(evalAction(`(document.querySelector('dialog button.primary').click(), document.querySelector('#nav a[href="#/keys"]').click(), true)`))
	settled(b, `^POST /v1/keys/[^/]+/rotate$`)
	if b.count("#secret-value") != 1 || !regexp.MustCompile(`^kw_(live|test)_`).MatchString(b.text("#secret-value")) {
		t.Fatalf("the new secret of the key rotated is not shown: %q", b.text("#main"))
	}
	if h := eval[string](b, `location.hash`); h != "#/keys/"+k.ID {
		t.Errorf("the new secret is shown at address %q, want the key's", h)
	}
	b.click("#ack-secret")
	b.waitFor(`!document.getElementById('secret-done').disabled`)
	b.click("#secret-done")
	b.waitVisible("#finish-rotation")
	b.noConsoleErrors()
}

// testConsoleNavigationFallback walks the console in a browser without the
// Navigation API (the tab's window.navigation removed before the console's script
// runs), where every move is routed when the address has changed: links, back and
// forward, and signing in again after a sign-out on the key list, whose address is
// then the same as before it.
func testConsoleNavigationFallback(t *testing.T, s *localStack, b *tab) {
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: `Object.defineProperty(window, 'navigation', {value: undefined});`}); err != nil {
		t.Fatal(err)
	}
	b.open("")
	if eval[bool](b, `!!window.navigation`) {
		t.Fatal("the tab still has the Navigation API")
	}
	b.signIn(s.root)
	b.click("#new-key")
	b.waitFor(`location.hash === '#/keys/new' && !!document.getElementById('key-name')`)
	b.click(`#nav a[href="#/keys"]`)
	b.waitFor(`location.hash === '#/keys' && !!document.querySelector('table.keys[data-loads]') && !document.getElementById('key-name')`)
	backAndForward(t, b)
	// Signed out on the key list, then in again: the key list shows.
	b.click("#signout")
	b.waitVisible("#credential")
	b.signIn(s.root)
	if b.count("#credential") != 0 {
		t.Errorf("the sign-in page stays after signing in again: %q", b.text("#main"))
	}
	b.noConsoleErrors()
}

// backAndForward steps back from the key list to the create form and forward again:
// each step shows the page of its address, and the nav marks the key list at the end.
func backAndForward(t *testing.T, b *tab) {
	t.Helper()
	b.do(evalAction(`(history.back(), true)`))
	b.waitFor(`location.hash === '#/keys/new' && !!document.getElementById('key-name') && !document.querySelector('table.keys')`)
	b.do(evalAction(`(history.forward(), true)`))
	b.waitFor(`location.hash === '#/keys' && !!document.querySelector('table.keys[data-loads]') && !document.getElementById('key-name')`)
	if cur := eval[string](b, `document.querySelector('#nav a[aria-current="page"]').getAttribute('href')`); cur != "#/keys" {
		t.Errorf("the nav marks %q as the current page, want #/keys", cur)
	}
}

// testConsoleNavigationQuick: a move that starts as soon as a page (the audit log)
// is shown, before the frame that paints it and so before the console has set its
// address, keeps that page in the history: a step back from where the move (a click
// on link) went to, the address want, is the audit log.
func testConsoleNavigationQuick(t *testing.T, s *localStack, b *tab, link, want string) {
	b.open("")
	b.signIn(s.root)
	b.do(evalAction(fmt.Sprintf(`(() => {
		const obs = new MutationObserver(() => {
			if (!document.querySelector('#main table.events')) return;
			obs.disconnect();
			window.addressShown = location.hash;
			document.querySelector(%q).click();
		});
		obs.observe(document.getElementById('main'), {childList: true, subtree: true});
		document.querySelector('#nav a[href="#/audit"]').click();
		return true;
	})()`, link)))
	b.waitFor(fmt.Sprintf(`location.hash === %q`, want))
	routed(b)
	if h := eval[string](b, `window.addressShown`); h != "#/keys" {
		t.Logf("the audit log's address was already set when it was shown: %q (the move below tests nothing new)", h)
	}
	b.do(evalAction(`(history.back(), true)`))
	b.waitFor(fmt.Sprintf(`location.hash !== %q`, want))
	routed(b)
	if h := eval[string](b, `location.hash`); h != "#/audit" || b.count("table.events") != 1 {
		t.Errorf("a step back from %s, opened as the audit log was shown, went to %q, showing %q; want the audit log", want, h, b.text("#main"))
	}
	b.noConsoleErrors()
}
