package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-lambda-go/events"
)

// request is a payload 2.0 event for method and rawPath, as API Gateway sends it.
func request(method, rawPath string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	route := "GET /console/{proxy+}"
	if rawPath == Prefix {
		route = "GET /console"
	}
	r := events.APIGatewayV2HTTPRequest{RouteKey: route, RawPath: rawPath, Headers: headers}
	r.RequestContext.HTTP.Method = method
	r.RequestContext.HTTP.Path = rawPath
	r.RequestContext.RequestID = "req-1"
	return r
}

func serve(t *testing.T, h *Handler, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := h.Serve(context.Background(), req)
	if err != nil {
		t.Fatalf("Serve returned an error: %v", err)
	}
	for k, v := range SecurityHeaders {
		if resp.Headers[k] != v {
			t.Errorf("%s %s: %s = %q, want %q", req.RequestContext.HTTP.Method, req.RawPath, k, resp.Headers[k], v)
		}
	}
	if resp.Headers["Request-Id"] != "req-1" {
		t.Errorf("Request-Id = %q", resp.Headers["Request-Id"])
	}
	return resp
}

// body is the answer's body as the browser sees it: base64 and gzip undone.
func body(t *testing.T, resp events.APIGatewayV2HTTPResponse) []byte {
	t.Helper()
	b := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if b, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			t.Fatal(err)
		}
	}
	if resp.Headers["Content-Encoding"] == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestServesEveryFile(t *testing.T) {
	h := newTestHandler(t)
	err := fs.WalkDir(Files(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, _ := fs.ReadFile(Files(), name)
		for _, enc := range []string{"", "gzip, deflate, br"} {
			resp := serve(t, h, request("GET", Prefix+"/"+name, map[string]string{"accept-encoding": enc}))
			if resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", name, resp.StatusCode)
			}
			if got := body(t, resp); !bytes.Equal(got, want) {
				t.Errorf("%s (accept-encoding %q): body differs from the embedded file", name, enc)
			}
			if (enc != "") != (resp.Headers["Content-Encoding"] == "gzip") {
				t.Errorf("%s: accept-encoding %q answered Content-Encoding %q", name, enc, resp.Headers["Content-Encoding"])
			}
			if resp.Headers["Cache-Control"] != "no-cache" || resp.Headers["ETag"] == "" {
				t.Errorf("%s: Cache-Control %q, ETag %q", name, resp.Headers["Cache-Control"], resp.Headers["ETag"])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPageAndTypes(t *testing.T) {
	h := newTestHandler(t)
	index, _ := fs.ReadFile(Files(), Index)
	for _, tt := range []struct{ path, ctype string }{
		{Prefix, "text/html; charset=utf-8"},
		{Prefix + "/", "text/html; charset=utf-8"},
		{Prefix + "/app.js", "text/javascript; charset=utf-8"},
		{Prefix + "/style.css", "text/css; charset=utf-8"},
	} {
		resp := serve(t, h, request("GET", tt.path, nil))
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != tt.ctype {
			t.Errorf("%s: %d %q, want 200 %q", tt.path, resp.StatusCode, resp.Headers["Content-Type"], tt.ctype)
		}
		if tt.ctype == "text/html; charset=utf-8" && !bytes.Equal(body(t, resp), index) {
			t.Errorf("%s is not %s", tt.path, Index)
		}
	}
}

// Paths that try to leave the embedded tree, or name no file, read nothing: 404.
func TestRefusesOtherPaths(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{
		Prefix + "/../go.mod", Prefix + "/%2e%2e/go.mod", Prefix + "/..%2fconsole.go", Prefix + "/./app.js",
		Prefix + "//app.js", Prefix + "/app.js/", Prefix + "/missing.js", Prefix + "/web/app.js",
		Prefix + "/%61pp.js", Prefix + "/..\\console.go", "/consolex", "/v1/keys",
	} {
		resp := serve(t, h, request("GET", p, nil))
		if resp.StatusCode != 404 || resp.Headers["Content-Type"] != "application/problem+json" {
			t.Errorf("%s: %d %q, want a 404 problem", p, resp.StatusCode, resp.Headers["Content-Type"])
			continue
		}
		var pb struct{ Code string }
		if err := json.Unmarshal([]byte(resp.Body), &pb); err != nil || pb.Code != "not_found" {
			t.Errorf("%s: body %s", p, resp.Body)
		}
	}
}

func TestMethodsAndRevalidation(t *testing.T) {
	h := newTestHandler(t)
	if resp := serve(t, h, request("POST", Prefix, nil)); resp.StatusCode != 405 || resp.Headers["Allow"] != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q", resp.StatusCode, resp.Headers["Allow"])
	}
	head := serve(t, h, request("HEAD", Prefix+"/app.js", nil))
	if head.StatusCode != 200 || head.Body != "" || head.Headers["Content-Length"] == "0" {
		t.Errorf("HEAD: %d, body %d bytes, length %q", head.StatusCode, len(head.Body), head.Headers["Content-Length"])
	}
	etag := head.Headers["ETag"]
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		resp := serve(t, h, request("GET", Prefix+"/app.js", map[string]string{"if-none-match": inm}))
		if resp.StatusCode != 304 || resp.Body != "" {
			t.Errorf("If-None-Match %s: %d, body %d bytes", inm, resp.StatusCode, len(resp.Body))
		}
	}
	if resp := serve(t, h, request("GET", Prefix+"/app.js", map[string]string{"If-None-Match": `"stale"`})); resp.StatusCode != 200 {
		t.Errorf("a stale ETag: %d", resp.StatusCode)
	}
	other := serve(t, h, request("GET", Prefix+"/style.css", nil)).Headers["ETag"]
	if other == etag {
		t.Error("two files share an ETag")
	}
	for accept, want := range map[string]bool{"gzip": true, "br, gzip;q=0.5": true, "gzip;q=0": false, "deflate": false, "GZIP": true} {
		resp := serve(t, h, request("GET", Prefix+"/app.js", map[string]string{"accept-encoding": accept}))
		if got := resp.Headers["Content-Encoding"] == "gzip"; got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", accept, got, want)
		}
	}
}

func TestNewRefusesBadTrees(t *testing.T) {
	for name, files := range map[string]fstest.MapFS{
		"no index":      {"app.js": {Data: []byte("x")}},
		"unknown types": {Index: {Data: []byte("x")}, "notes.unknownext": {Data: []byte("x")}},
	} {
		if _, err := newHandler(files, nil, Config{}); err == nil {
			t.Errorf("%s: newHandler accepted it", name)
		}
	}
}

// The page works under its own policy: no inline script or style (which the CSP
// would block), nothing from another origin, no credential storage, no markup built
// from strings.
func TestFilesKeepThePolicy(t *testing.T) {
	inline := []*regexp.Regexp{
		regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]`),           // a script with a body
		regexp.MustCompile(`<script(?:(?:\s+type="module")?\s*)>`), // a script without src
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\sstyle=`),
		regexp.MustCompile(`(?i)\son[a-z]+=`),
	}
	forbidden := []string{"localStorage", "sessionStorage", "document.cookie", "indexedDB", "innerHTML", "outerHTML",
		"insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://", "//cdn", "@import", "url(http"}
	err := fs.WalkDir(Files(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(Files(), name)
		src := string(data)
		if strings.HasSuffix(name, ".html") {
			for _, re := range inline {
				if loc := re.FindStringIndex(src); loc != nil {
					t.Errorf("%s: inline script or style: %q", name, src[loc[0]:min(loc[1]+20, len(src))])
				}
			}
		}
		for _, f := range forbidden {
			if strings.Contains(src, f) {
				t.Errorf("%s contains %q", name, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The deployment's idle timeout reaches the page, and a bad one stops the cold start.
func TestIdleTimeoutSetting(t *testing.T) {
	for _, tc := range []struct {
		env     string
		want    string
		wantErr bool
	}{
		{"", `<meta name="keyward-idle-minutes" content="15">`, false},
		{"5", `<meta name="keyward-idle-minutes" content="5">`, false},
		{"1440", `<meta name="keyward-idle-minutes" content="1440">`, false},
		{"1441", "", true},
		{"-1", "", true},
		{"ten", "", true},
	} {
		t.Run(tc.env, func(t *testing.T) {
			cfg, err := ConfigFromEnv(func(k string) string {
				if k == IdleEnv {
					return tc.env
				}
				return ""
			})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("%s=%q accepted", IdleEnv, tc.env)
				}
				if _, err := New(nil, Config{IdleMinutes: MaxIdleMinutes + 1}); err == nil {
					t.Fatal("New accepted an idle timeout above the bound")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			h, err := New(nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			page := string(body(t, serve(t, h, request("GET", Prefix, nil))))
			if strings.Count(page, `name="keyward-idle-minutes"`) != 1 || !strings.Contains(page, tc.want) {
				t.Errorf("the page does not carry %s", tc.want)
			}
		})
	}
}

// An index.html without the setting's element is refused: the setting would be lost.
func TestIndexWithoutIdleSetting(t *testing.T) {
	files := fstest.MapFS{Index: {Data: []byte("<!doctype html><title>x</title>")}}
	if _, err := newHandler(files, nil, Config{IdleMinutes: 3}); err == nil {
		t.Fatal("an index.html without the idle setting was accepted")
	}
}
