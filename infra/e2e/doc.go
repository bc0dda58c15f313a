// Package e2e holds the tests that run Keyward's real bootstraps: every events/*.json
// fixture against the function it belongs to, the whole local stack (infra/cmd/local
// under infra/services.sh) driven over HTTP, and the README's walkthrough. It has no
// code of its own outside tests. The stack tests start it as make local does (the
// program takes the port, then starts the services around itself), and check what a
// user relies on: 16 clients sent before it is ready all succeed, a busy port fails
// in under 2 s leaving the running stack's files alone, 20 stops at random moments of
// startup leave no process behind (each process is found by a tag in its environment,
// or by its executable under the stack's directory), and BenchmarkLocalStackRSS is
// make bench's figure local_stack_rss.
//
// TestConsole drives the web console in headless chromium (chromedp) against such a
// stack: the key lifecycle as a user clicks it, bulk delete, a read-only key, an
// owner-narrowed key, a refused write, the idle timeout, moves between pages raced by
// a stop, a sign-out or a one-time secret (the page's calls held back in the page),
// with no console error, and screenshots of each page at 1280 and 375 px in
// .local/screenshots/. Every wait is on the page's DOM (or, for a revocation to take
// effect, on the API's answer), never a sleep. Without chromium (KEYWARD_CHROMIUM
// names another) it fails under CI=true or KEYWARD_REQUIRE_SERVICES=1 and skips
// elsewhere.
// BenchmarkConsole is make bench's console figures.
//
// Which function a fixture belongs to: events/authorizer-*.json to AuthorizerFunction,
// events/scheduled.json to SweeperFunction, a fixture with a routeKey to the function
// that template.yaml routes it to, and any other fixture to the function whose
// build-<LogicalId> target builds functions/<name>, where <name> begins the
// fixture's file name (events/rotate-signing-key.json: functions/rotate-signing-key).
package e2e
