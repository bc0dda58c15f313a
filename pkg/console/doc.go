// Package console serves Keyward's web console: the static files under web/, embedded
// in the binary with go:embed, answered as API Gateway payload 2.0 responses at
// GET /console (the page) and GET /console/{proxy+} (its scripts and style sheet).
//
// The console is plain HTML, ES modules and CSS, with no framework and no build step:
// the browser runs the files as they are in web/, and the page calls the public API
// on its own origin only.
//
// Invariants:
//   - Every answer, a 404 and a 405 included, carries the same security headers: a
//     Content-Security-Policy that allows scripts, styles and connections to the
//     page's own origin only (no inline script or style, no eval), frames none
//     (frame-ancestors 'none'), Referrer-Policy: no-referrer and
//     X-Content-Type-Options: nosniff.
//   - Only the embedded files are served, by exact name: a path that names no file
//     (.., a directory, an encoded slash) is a 404 and reads nothing else.
//   - Each file's ETag is computed once, when the Handler is built, and its gzip form
//     once, on the first request that accepts gzip (a cold start compresses only what
//     it sends); a client that accepts gzip gets it, a matching If-None-Match a 304.
//   - Cache-Control is no-cache: the file names carry no version, so a browser
//     revalidates (a 304 with the ETag costs no body) and never runs a stale script
//     beside a newer page.
//   - The deployment's one setting, the idle timeout (Config, CONSOLE_IDLE_MINUTES, 1
//     to 1440 minutes, 15 by default), reaches the page as a meta element of
//     index.html, written in when the Handler is built (ETag included); a bad value
//     fails the cold start instead of serving a page with another timeout.
//   - The handler reads no table and no secret: its function's role grants nothing.
package console
