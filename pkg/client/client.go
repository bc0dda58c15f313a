package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options configure a Client; the zero value of each field takes the default named.
type Options struct {
	// HTTPClient sends the requests (default: a client of its own, no overall timeout:
	// deadlines come from contexts).
	HTTPClient *http.Client
	// Timeout bounds a call, retries included, when its context has no deadline
	// (default 30 s).
	Timeout time.Duration
	// MaxRetries is how many times a repeatable call is tried again (default 3; a
	// negative value turns retries off).
	MaxRetries int
	// BaseDelay is the first backoff delay, doubled on each retry with jitter
	// (default 200 ms), up to MaxDelay (default 5 s).
	BaseDelay, MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for (default 30 s);
	// a longer one is returned as the error at once (a locked key stays locked for
	// minutes).
	MaxRetryAfter time.Duration
	// UserAgent is sent with every request (default "keyward-go").
	UserAgent string
}

// Credential returns the bearer credential (an API key, the root credential or an
// access token) for the next request.
type Credential func(ctx context.Context) (string, error)

// APIKey is a Credential that is always key.
func APIKey(key string) Credential {
	return func(context.Context) (string, error) { return key, nil }
}

// Client calls one Keyward deployment. It is safe for concurrent use.
type Client struct {
	base  *url.URL
	cred  Credential
	opts  Options
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client for the deployment at baseURL (e.g. http://127.0.0.1:3000)
// that presents cred (nil: no credential, for the OAuth and discovery routes only).
func New(baseURL string, cred Credential, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q is not an http(s) URL", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q has a query or fragment", baseURL)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 3
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 200 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 5 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 30 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "keyward-go"
	}
	return &Client{base: u, cred: cred, opts: opts, sleep: sleepCtx}, nil
}

// BaseURL is the deployment's base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is a call the API answered with an error status.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the problem's stable `code`, or the OAuth `error`; empty when the answer
	// carried neither (API Gateway's own {"message"} answers, a proxy's page).
	Code string
	// Title, Detail and Field are the problem's; Detail is the OAuth
	// error_description, or API Gateway's message.
	Title, Detail, Field string
	// RetryAfter is the answer's Retry-After, zero without one.
	RetryAfter time.Duration
	// RequestID is the answer's Request-Id header.
	RequestID string
}

// Error is the detail and the code on one line.
func (e *Error) Error() string {
	detail := e.Detail
	if detail == "" {
		detail = e.Title
	}
	if detail == "" {
		detail = http.StatusText(e.Status)
	}
	if e.Code == "" {
		return fmt.Sprintf("%s (status %d)", detail, e.Status)
	}
	return fmt.Sprintf("%s (%s, status %d)", detail, e.Code, e.Status)
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// retryPolicy says whether a call may be sent again.
type retryPolicy int

const (
	// once: the call would do something new if repeated (create, rotate, refresh).
	once retryPolicy = iota
	// repeatable: repeating cannot do more than the first attempt would have.
	repeatable
)

// call is one API call.
type call struct {
	method, path string
	query        url.Values
	json         any        // a JSON body, or nil
	form         url.Values // a form body, or nil
	basic        [2]string  // HTTP Basic client authentication (OAuth), if set
	anonymous    bool       // send no credential
	retry        retryPolicy
	want         int // the success status
	out          any // decoded from a successful answer, if not nil
}

// do sends a call, retrying it as its policy allows, and decodes its answer.
func (c *Client) do(ctx context.Context, k call) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
	}
	var body []byte
	contentType := ""
	switch {
	case k.json != nil:
		b, err := json.Marshal(k.json)
		if err != nil {
			return fmt.Errorf("client: %s %s: encode body: %w", k.method, k.path, err)
		}
		body, contentType = b, "application/json"
	case k.form != nil:
		body, contentType = []byte(k.form.Encode()), "application/x-www-form-urlencoded"
	}
	target := c.base.String() + k.path // k.path escapes its parts itself
	if q := k.query.Encode(); q != "" {
		target += "?" + q
	}
	for attempt := 0; ; attempt++ {
		err := c.send(ctx, k, target, body, contentType)
		if err == nil {
			return nil
		}
		delay, ok := c.retryDelay(ctx, k, attempt, err)
		if !ok {
			return err
		}
		if serr := c.sleep(ctx, delay); serr != nil {
			return err
		}
	}
}

// retryDelay says whether a failed attempt is tried again, and after how long.
func (c *Client) retryDelay(ctx context.Context, k call, attempt int, err error) (time.Duration, bool) {
	if k.retry != repeatable || attempt >= c.opts.MaxRetries || ctx.Err() != nil {
		return 0, false
	}
	var delay time.Duration
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusTooManyRequests && e.RetryAfter > 0:
		if e.RetryAfter > c.opts.MaxRetryAfter {
			return 0, false
		}
		delay = e.RetryAfter
	case errors.As(err, &e) && e.Status != http.StatusTooManyRequests && e.Status < 500:
		return 0, false
	default: // 429 without Retry-After, 5xx, or the transport
		d := c.opts.BaseDelay << attempt
		if d <= 0 || d > c.opts.MaxDelay {
			d = c.opts.MaxDelay
		}
		delay = d/2 + rand.N(d/2+1) // jitter in [d/2, d]
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
		return 0, false // waiting would outlive the caller's deadline
	}
	return delay, true
}

// send makes one attempt.
func (c *Client) send(ctx context.Context, k call, u string, body []byte, contentType string) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u, r)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", k.method, k.path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	switch {
	case k.basic[0] != "":
		req.SetBasicAuth(url.QueryEscape(k.basic[0]), url.QueryEscape(k.basic[1])) // RFC 6749 §2.3.1
	case !k.anonymous && c.cred != nil:
		cred, err := c.cred(ctx)
		if err != nil {
			return fmt.Errorf("client: credential: %w", err)
		}
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", k.method, k.path, err)
	}
	defer resp.Body.Close()
	// Answers are small (the API caps bodies at 64 KiB; a page of 100 keys is more, so
	// allow some room) and a misdirected URL must not make the client read forever.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("client: %s %s: read answer: %w", k.method, k.path, err)
	}
	if resp.StatusCode != k.want {
		return errorOf(resp, data)
	}
	if k.out == nil {
		return nil
	}
	if err := json.Unmarshal(data, k.out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer (%d): %w", k.method, k.path, resp.StatusCode, err)
	}
	return nil
}

// errorOf turns an error answer (problem+json, an OAuth error, API Gateway's message,
// or anything else) into an *Error.
func errorOf(resp *http.Response, data []byte) *Error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("Request-Id")}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var body struct {
		Code             string `json:"code"`
		Title            string `json:"title"`
		Detail           string `json:"detail"`
		Field            string `json:"field"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		Message          string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Title, e.Detail, e.Field = body.Code, body.Title, body.Detail, body.Field
		if e.Code == "" && body.Error != "" {
			e.Code, e.Detail = body.Error, body.ErrorDescription
		}
		if e.Detail == "" {
			e.Detail = body.Message
		}
	}
	return e
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP-date (RFC 9110
// §10.2.3). Anything else is zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
