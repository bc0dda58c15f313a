package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"
)

// requestLine is the part of a function's JSON "request" log line (package httpapi's
// Router) that the gateway's own line repeats.
type requestLine struct {
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
	KeyID     string `json:"key_id"`
	Code      string `json:"code"`
}

// expect registers request id: its function's request line is taken by ServeHTTP
// rather than printed, so that each request is logged once.
func (g *Gateway) expect(id string) <-chan requestLine {
	ch := make(chan requestLine, 1)
	g.mu.Lock()
	if g.waiting == nil {
		g.waiting = map[string]chan requestLine{}
	}
	g.waiting[id] = ch
	g.mu.Unlock()
	return ch
}

func (g *Gateway) forget(id string) {
	g.mu.Lock()
	delete(g.waiting, id)
	g.mu.Unlock()
}

// take hands a function's request line to the request it belongs to, or drops the
// authorizer's refusal line (what it says is on the gateway's line already); it
// reports false for any other line, which is then printed as it is.
func (g *Gateway) take(line []byte) bool {
	if len(line) == 0 || line[0] != '{' {
		return false
	}
	if bytes.Contains(line, []byte(`"msg":"authorizer: refused"`)) {
		// Its code and key id are in the authorizer's answer, so on the request's line.
		return true
	}
	if !bytes.Contains(line, []byte(`"request_id"`)) {
		return false
	}
	var l requestLine
	if json.Unmarshal(line, &l) != nil || l.Msg != "request" || l.RequestID == "" {
		return false
	}
	g.mu.Lock()
	ch, ok := g.waiting[l.RequestID]
	delete(g.waiting, l.RequestID)
	g.mu.Unlock()
	if ok {
		ch <- l // buffered, and only ever sent once
	}
	return ok
}

// FunctionOutput returns the writer for the functions' output (Function.Stderr): each
// line goes to w, except the request lines that ServeHTTP folds into its own.
func (g *Gateway) FunctionOutput(w io.Writer) io.Writer {
	return &functionOutput{g: g, w: w}
}

type functionOutput struct {
	g  *Gateway
	mu sync.Mutex
	w  io.Writer
}

// Write takes whole lines (Function gives each process its own lineWriter).
func (o *functionOutput) Write(line []byte) (int, error) {
	if o.g.take(bytes.TrimRight(line, "\n")) {
		return len(line), nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(line)
}

// lineWriter passes whole lines to w, one Write each, so that the output of several
// processes never interleaves within a line. Close flushes a last partial line.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := l.w.Write(l.buf[:i+1]); err != nil {
			return len(p), err
		}
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a runaway line: pass it on as it is
		_, _ = l.w.Write(append(l.buf, '\n'))
		l.buf = nil
	}
	return len(p), nil
}
