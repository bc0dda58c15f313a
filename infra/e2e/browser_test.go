package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds one browser step (a wait included): a step that makes no
// progress for this long has failed. Every wait is on the DOM, never a sleep.
const stepTimeout = 90 * time.Second

// Widths of the screenshots: a laptop and a small phone.
var shotWidths = []int64{1280, 375}

// needChromium returns the path of Debian's chromium (KEYWARD_CHROMIUM overrides it).
// Without one the test fails where the tests must run (CI=true or
// KEYWARD_REQUIRE_SERVICES=1, as .ci/run and make test set) and skips elsewhere.
func needChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("KEYWARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" || os.Getenv("KEYWARD_REQUIRE_SERVICES") == "1" {
		t.Fatal("chromium is required for the console's browser tests (apt-get install chromium)")
	}
	t.Skip("chromium is not installed: the console's browser tests need it")
	return ""
}

// newBrowser starts one headless chromium for the test; tabs are opened with newTab.
func newBrowser(t testing.TB, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab is one browser tab on the console, with every console message it logged.
type tab struct {
	t    testing.TB
	ctx  context.Context
	base string
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
	// allow lists console messages expected of every page of this tab (see
	// noConsoleErrors).
	allow []string
}

// newTab opens a tab at 1280 px whose page may use the clipboard (as a user who
// allowed it) and keeps focus (headless windows have none otherwise).
func newTab(t testing.TB, b context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b)
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx, base: base}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.msgs = append(tb.msgs, m)
			tb.mu.Unlock()
		}
	}()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: base,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.EmulateViewport(1280, 900))
	return tb
}

// do runs steps, each bounded by stepTimeout, and fails the test with the page's
// text when one does not complete.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	for i, s := range steps {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		_, err := chromedp.Run(ctx, s)
		cancel()
		if err != nil {
			b.t.Fatalf("browser step %d of %d: %v\npage:\n%s\nconsole:\n%s", i+1, len(steps), err, b.pageText(), b.consoleText())
		}
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes its value.
func eval[T any](b *tab, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage:\n%s", js, err, b.pageText())
	}
	return v
}

// waitFor waits until the JavaScript predicate is true (polled on every frame).
func (b *tab) waitFor(predicate string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(0))); err != nil {
		b.t.Fatalf("waiting for %s: %v\npage:\n%s\nconsole:\n%s", predicate, err, b.pageText(), b.consoleText())
	}
}

func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// text is the visible text of the first element sel matches.
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v\npage:\n%s", sel, err, b.pageText())
	}
	return s
}

// count is how many elements match sel now.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// visible reports whether an element matching sel is in the page and shown.
func (b *tab) visible(sel string) bool {
	b.t.Helper()
	return eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; })()`, sel))
}

func (b *tab) click(sel string) { b.t.Helper(); b.do(chromedp.Click(chromedp.CSS(sel))) }

func (b *tab) waitVisible(sel string) { b.t.Helper(); b.do(chromedp.WaitVisible(chromedp.CSS(sel))) }

// typeInto replaces the value of the control sel with text, as typed keys.
func (b *tab) typeInto(sel, text string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)),
		evalAction(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true})); return true; })()`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// open navigates the tab to the console (with query, e.g. "?idle=5") and waits for
// the sign-in form.
func (b *tab) open(query string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+"/console"+query), chromedp.WaitVisible(chromedp.CSS("#credential")))
}

// reloadList submits the list's filters and waits for that load to finish.
func (b *tab) reloadList() {
	b.t.Helper()
	n := eval[string](b, `document.querySelector('table.keys').dataset.loads`)
	b.click(`.filters button[type=submit]`)
	b.waitFor(fmt.Sprintf(`document.querySelector('table.keys').dataset.loads !== %q`, n))
}

// signIn pastes credential into the sign-in form and waits for the key list.
func (b *tab) signIn(credential string) {
	b.t.Helper()
	b.do(chromedp.SetValue(chromedp.CSS("#credential"), credential), chromedp.Click(chromedp.CSS("#signin")))
	b.waitFor(`!!document.querySelector('#whoami:not([hidden])') && !!document.querySelector('table.keys[data-loads]')`)
}

// shot writes the page's screenshot at each of shotWidths under .local/screenshots/,
// named <name>-<width>.png, and comes back to 1280 px.
func (b *tab) shot(root, name string) {
	b.t.Helper()
	dir := filepath.Join(root, ".local", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	for _, w := range shotWidths {
		b.do(chromedp.EmulateViewport(w, 900))
		b.waitFor(fmt.Sprintf(`document.documentElement.clientWidth === %d`, w))
		// The page never scrolls sideways: nothing is wider than the viewport.
		if over := eval[int](b, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); over > 0 {
			b.t.Errorf("%s at %d px: the page is %d px wider than the viewport", name, w, over)
		}
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			b.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	b.do(chromedp.EmulateViewport(1280, 900))
}

// consoleText lists the messages the page logged.
func (b *tab) consoleText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for _, m := range b.msgs {
		lines = append(lines, string(m.Type)+": "+m.Text)
	}
	return strings.Join(lines, "\n")
}

// noConsoleErrors fails the test for every error, warning or exception the page
// logged (a CSP violation, a failed request, an uncaught error), except those
// allowed (e.g. a 403 the test provoked on purpose).
func (b *tab) noConsoleErrors(allowed ...string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, m := range b.msgs {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && m.Type != chromedp.ConsoleException {
			continue
		}
		for _, a := range append(allowed, b.allow...) {
			if strings.Contains(m.Text, a) {
				continue next
			}
		}
		b.t.Errorf("the page logged %s: %s", m.Type, m.Text)
	}
}

// apiKey is a key as the management API answers it.
type apiKey struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Owner  string   `json:"owner"`
	Secret string   `json:"secret"`
	Status string   `json:"status"`
	Scopes []string `json:"scopes"`
}

// createKey creates a key with root through the API.
func createKey(t testing.TB, s *localStack, name, owner string, scopes ...string) apiKey {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "owner": owner, "scopes": scopes})
	var k apiKey
	if code := call(t, "POST", s.base+"/v1/keys", s.root, "application/json", string(body), &k); code != 201 {
		t.Fatalf("create %s: %d", name, code)
	}
	return k
}

// tokenStatus is the status of a client_credentials exchange of secret for key id.
func tokenStatus(t testing.TB, s *localStack, id, secret string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	code := call(t, "POST", s.base+"/v1/oauth/token", "", "application/x-www-form-urlencoded", form.Encode(), &tok)
	return code, tok.AccessToken
}

// chromedpAction is a browser step that returns no value.
type chromedpAction = chromedp.Action[chromedp.Void]

// evalAction is a step that evaluates js and ignores its value.
func evalAction(js string) chromedpAction {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](js)(ctx, t)
		return err
	})
}
