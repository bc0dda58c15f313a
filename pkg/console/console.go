package console

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

//go:embed web
var webFiles embed.FS

// Files is the console's embedded file tree (web/), rooted at its top.
func Files() fs.FS {
	sub, _ := fs.Sub(webFiles, "web") // "web" is embedded above: Sub cannot fail
	return sub
}

// Prefix is the path the console is served under.
const Prefix = "/console"

// Index is the file answered at Prefix itself.
const Index = "index.html"

// ContentSecurityPolicy is the policy of every answer: the page's own origin only, no
// inline script or style, no plugins, no framing, forms post nowhere.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// SecurityHeaders are set on every answer of the console.
var SecurityHeaders = map[string]string{
	"Content-Security-Policy":      ContentSecurityPolicy,
	"Referrer-Policy":              "no-referrer",
	"X-Content-Type-Options":       "nosniff",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-origin",
	"Strict-Transport-Security":    "max-age=31536000",
	"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=()",
}

// asset is one embedded file, ready to answer. Its gzip form is made on the first
// request that accepts it, so that a cold start compresses nothing it does not send.
type asset struct {
	body  []byte
	ctype string
	etag  string

	gzOnce sync.Once
	gz     []byte
}

// gzipped is the file's gzip form (the plain body if compressing fails).
func (a *asset) gzipped() ([]byte, bool) {
	a.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
		if _, err := zw.Write(a.body); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		a.gz = buf.Bytes()
	})
	return a.gz, a.gz != nil
}

// Handler answers the console's routes from the embedded files.
type Handler struct {
	assets map[string]*asset
	log    *slog.Logger
}

// New reads every embedded file once and prepares its answers, index.html with the
// deployment's settings cfg; log gets one line per request (nil: none).
func New(log *slog.Logger, cfg Config) (*Handler, error) {
	return newHandler(Files(), log, cfg)
}

func newHandler(files fs.FS, log *slog.Logger, cfg Config) (*Handler, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{assets: map[string]*asset{}, log: log}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		if name == Index {
			if body, err = withConfig(body, cfg); err != nil {
				return err
			}
		}
		a, err := prepare(name, body)
		if err != nil {
			return err
		}
		h.assets[name] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("console: embedded files: %w", err)
	}
	if _, ok := h.assets[Index]; !ok {
		return nil, fmt.Errorf("console: no %s among the embedded files", Index)
	}
	return h, nil
}

// prepare computes a file's type and ETag.
func prepare(name string, body []byte) (*asset, error) {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // the host's mime table may not know these, or differ
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		return nil, fmt.Errorf("%s: no content type for its extension", name)
	}
	sum := sha256.Sum256(body)
	return &asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// Serve answers one request: GET /console, or GET /console/<file>.
func (h *Handler) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp := h.answer(req)
	for k, v := range SecurityHeaders {
		resp.Headers[k] = v
	}
	id := req.RequestContext.RequestID
	if id != "" {
		resp.Headers["Request-Id"] = id
	}
	h.log.InfoContext(ctx, "request", "route", req.RouteKey, "path", req.RawPath, "status", resp.StatusCode, "request_id", id)
	return resp, nil
}

// answer is the response before the headers every answer shares.
func (h *Handler) answer(req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	method := req.RequestContext.HTTP.Method
	if method != http.MethodGet && method != http.MethodHead {
		r := problem(http.StatusMethodNotAllowed, "method_not_allowed", "The console answers GET only.")
		r.Headers["Allow"] = "GET, HEAD"
		return r
	}
	name, ok := fileName(req)
	a, found := h.assets[name]
	if !ok || !found {
		return problem(http.StatusNotFound, "not_found", "No such console file.")
	}
	headers := map[string]string{
		"Content-Type":  a.ctype,
		"Cache-Control": "no-cache",
		"ETag":          a.etag,
		"Vary":          "Accept-Encoding",
	}
	if matches(header(req, "if-none-match"), a.etag) {
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotModified, Headers: headers}
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: http.StatusOK, Headers: headers}
	body := a.body
	if acceptsGzip(header(req, "accept-encoding")) {
		if gz, ok := a.gzipped(); ok {
			body = gz
			headers["Content-Encoding"] = "gzip"
		}
	}
	if method == http.MethodHead {
		headers["Content-Length"] = fmt.Sprint(len(body))
		return resp
	}
	if strings.HasPrefix(a.ctype, "text/") && headers["Content-Encoding"] == "" {
		resp.Body = string(body)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	return resp
}

// fileName is the embedded file a request names, and whether it names one at all.
// The path is taken from rawPath, so an encoded slash or dot never becomes a
// separator: only a literal name of the embedded tree matches.
func fileName(req events.APIGatewayV2HTTPRequest) (string, bool) {
	p := req.RawPath
	if p == "" {
		p = req.RequestContext.HTTP.Path
	}
	if p == Prefix || p == Prefix+"/" {
		return Index, true
	}
	rest, ok := strings.CutPrefix(p, Prefix+"/")
	if !ok || !fs.ValidPath(rest) || strings.ContainsAny(rest, "%\\") {
		return "", false
	}
	return rest, true
}

// header is a request header's value; payload 2.0 lower-cases header names.
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	if v, ok := req.Headers[name]; ok {
		return v
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// matches reports whether an If-None-Match value names etag (or is *).
func matches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip (q > 0).
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// problem is an RFC 9457 answer, as the API's own errors are.
func problem(status int, code, detail string) events.APIGatewayV2HTTPResponse {
	body := fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"detail":%q,"code":%q}`,
		http.StatusText(status), status, detail, code)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: body, Headers: map[string]string{
		"Content-Type":  "application/problem+json",
		"Cache-Control": "no-store",
	}}
}
