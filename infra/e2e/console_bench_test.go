package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"
)

// consoleRuns is how many times each timing of BenchmarkConsole is taken; the
// median is reported. The machine the figures are made on is shared, so single runs
// vary by a factor of two or more: 25 runs keep the median steady.
const consoleRuns = 25

// BenchmarkConsole is make bench's figures for the web console, in headless chromium
// against the local stack: the bytes transferred by the first load of the page
// (gzipped, headers included, empty cache), and the time from a navigation to the
// key list until its 50 rows are rendered, against the same run's bare
// GET /v1/keys (the call the page makes) plus one static asset round trip. The list
// is rendered when the frame that shows its rows has been painted: the browser may
// style and lay out rows in that frame's rendering, after its animation frame
// callbacks, so the start of the frame would be too early.
//
// The timed runs are made with the DevTools DOM and CSS agents that chromedp turns on
// switched off: while they are on, the browser sends every node the page inserts to
// this test and tracks the page's styles, work no user's browser does and that only
// the page's side pays (the bare calls insert nothing). The line also gives the figure
// measured with them on.
func BenchmarkConsole(b *testing.B) {
	if testing.Short() {
		b.Skip("starts the whole local stack")
	}
	path := needChromium(b)
	s := startStack(b)
	for i := range 50 {
		createKey(b, s, fmt.Sprintf("bench-%02d", i), "bench", "orders:read")
	}
	admin := createKey(b, s, "bench-admin", "ops", "keys:read", "keys:write", "audit:read")
	// A new browser: the first load is made with an empty cache.
	tb := newTab(b, newBrowser(b, path), s.base)

	tb.open("")
	kb := eval[float64](tb, `(performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
		.reduce((n, e) => n + e.transferSize, 0)) / 1024`)
	requests := eval[int](tb, `1 + performance.getEntriesByType('resource').length`)

	tb.signIn(admin.Secret)
	code, token := tokenStatus(b, s, admin.ID, admin.Secret)
	if code != 200 {
		b.Fatalf("token: %d", code)
	}
	agents := listTimings(tb, s.base, token)
	for _, disable := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := chromedp.Call(ctx, css.Disable, cdp.Empty{}); return err },
		func(ctx context.Context) error { _, err := chromedp.Call(ctx, dom.Disable, cdp.Empty{}); return err },
	} {
		if err := disable(tb.ctx); err != nil {
			b.Fatalf("turn a DevTools agent off: %v", err)
		}
	}
	t := listTimings(tb, s.base, token)
	p, r, g := median(t.painted), median(t.inPage), median(t.bare)
	lines := fmt.Sprintf("figure console_first_load_transfer = %.1f KB gzipped (goal <= 150) [%d requests]\n", kb, requests) +
		fmt.Sprintf("figure console_list_50_vs_bare = %.2fx (goal <= 1.5) [navigation to 50 rows painted %.1f ms (rows in the DOM at %.1f ms, that frame began at %.1f ms); "+
			"the same browser's bare GET /v1/keys + one asset %.1f ms (from Go: %.1f ms); medians of %d, interleaved; "+
			"with the DevTools DOM and CSS agents on: %.2fx, %.1f ms against %.1f ms]\n",
			float64(p)/float64(r), ms(p), ms(median(t.dom)), ms(median(t.frame)), ms(r), ms(g), consoleRuns,
			float64(median(agents.painted))/float64(median(agents.inPage)), ms(median(agents.painted)), ms(median(agents.inPage)))
	fmt.Print(lines)
	if dir := filepath.Join(s.p.Root, ".local", "bench"); dirExists(dir) {
		if err := os.WriteFile(filepath.Join(dir, "console.txt"), []byte(lines), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	tb.noConsoleErrors()
	for b.Loop() {
	}
}

// listTimes are consoleRuns timings of the list page and of the bare calls, taken
// interleaved.
type listTimes struct{ dom, frame, painted, bare, inPage []time.Duration }

// listTimings times, consoleRuns times: a navigation from the create form to the key
// list until its 50 rows are rendered, then the bare list call plus one asset, from Go
// and from the page. The waits poll the page with JavaScript (no DevTools DOM agent).
func listTimings(tb *tab, base, token string) listTimes {
	var t listTimes
	for range consoleRuns {
		tb.do(evalAction(`(location.hash = '#/keys/new', true)`))
		// The form is shown, and has its address: the console sets it once a frame
		// has painted the page.
		tb.waitFor(`!!document.getElementById('key-name') && location.hash === '#/keys/new'`)
		res := eval[[]float64](tb, `new Promise((resolve) => {
			const t0 = performance.now();
			const obs = new MutationObserver(() => {
				if (document.querySelectorAll('#key-rows tr[data-key]').length < 50) return;
				obs.disconnect();
				const dom = performance.now() - t0;
				// The rows are rendered in the next frame, painted when a message
				// posted from its animation frame callback is handled.
				requestAnimationFrame(() => {
					const frame = performance.now() - t0;
					const ch = new MessageChannel();
					ch.port1.onmessage = () => resolve([dom, frame, performance.now() - t0]);
					ch.port2.postMessage(0);
				});
			});
			obs.observe(document.getElementById('main'), {childList: true, subtree: true});
			location.hash = '#/keys';
		})`)
		// The bare calls are timed once the console has set the list's address and
		// a frame has been drawn since: the browser's work for it is not timed on the
		// bare side. (It may fall inside the page's time, if the console's task that
		// sets it runs before the message above: that counts against the page.)
		tb.waitFor(`location.hash === '#/keys'`)
		eval[bool](tb, `new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(true))))`)
		t.dom = append(t.dom, msDuration(res[0]))
		t.frame = append(t.frame, msDuration(res[1]))
		t.painted = append(t.painted, msDuration(res[2]))
		t.bare = append(t.bare, bareList(tb.t, base, token))
		bms := eval[float64](tb, fmt.Sprintf(`(async () => {
			const t0 = performance.now();
			const r = await fetch('/v1/keys', {headers: {Authorization: 'Bearer %s'}, cache: 'no-store'});
			await r.json();
			const a = await fetch('/console/style.css', {cache: 'no-store'});
			await a.text();
			return performance.now() - t0;
		})()`, token))
		t.inPage = append(t.inPage, msDuration(bms))
	}
	return t
}

func msDuration(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bareList is the time of the console's list call made directly (GET /v1/keys with
// the same token), plus one round trip for a static file of the console.
func bareList(b testing.TB, base, token string) time.Duration {
	b.Helper()
	start := time.Now()
	for _, u := range []string{base + "/v1/keys", base + "/console/style.css"} {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
	}
	return time.Since(start)
}
