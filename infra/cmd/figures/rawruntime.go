package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rawRuntime is the least a Runtime API can do for a bootstrap, to hold the runtime
// emulator to: one goroutine per connection, no router, no handoff between goroutines
// within a block of invocations, and each answer written in one write from bytes
// prepared ahead. Next is answered with the payload and the headers the emulator's
// net/http server sends (a Content-Length, a Date and Lambda's four), response with a
// 202 once the body is read, as Lambda's API reads it first. It runs in the bench's
// process, as the emulator does, and the bootstrap it serves is started with the same
// binary and environment; what a bootstrap costs against the emulator beyond what it
// costs against this, in the same blocks, is the emulator's share of its CPU.
type rawRuntime struct {
	ln      net.Listener
	timeout time.Duration
	head    []byte // next's answer up to its request id
	tail    []byte // from the deadline header's end to the payload's end
	ok      string
	work    chan int   // the invocations of one block
	done    chan error // a block answered, or the first fault
	exited  chan struct{}
	pid     int

	// The invocations' connection's: the invocations left in the block, the last
	// request id.
	left, id int

	cpu   time.Duration
	units int
}

// newRawRuntime listens for a bootstrap that is to get payload as function fn's
// event and answer with ok in it; rawSubject (or a test) then runs the bootstrap.
func newRawRuntime(fn string, payload []byte, ok string, timeout time.Duration) (*rawRuntime, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &rawRuntime{ln: ln, timeout: timeout, ok: ok, work: make(chan int), done: make(chan error, 1), exited: make(chan struct{})}
	r.head = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
		"Date: " + time.Now().UTC().Format(http.TimeFormat) + "\r\n" +
		"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:" + fn + "\r\n" +
		"Lambda-Runtime-Trace-Id: " + strings.TrimPrefix(loopTraceID, "_X_AMZN_TRACE_ID=") + "\r\n" +
		"Content-Length: " + strconv.Itoa(len(payload)) + "\r\n" +
		"Lambda-Runtime-Aws-Request-Id: ")
	r.tail = append([]byte("\r\n\r\n"), payload...)
	go r.accept()
	return r, nil
}

// rawSubject runs x's bootstrap, with x's environment and payload, against a
// rawRuntime instead of the emulator.
func (b *bench) rawSubject(x *subject) (*rawRuntime, error) {
	events := x.s.events(b, 0, x.twin)
	if len(events) != 1 {
		return nil, fmt.Errorf("%s: a raw runtime serves one event per unit", x.s.id)
	}
	r, err := newRawRuntime(x.s.id, events[0], x.s.ok, x.f.Timeout)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(b.ctx, x.f.Binary)
	cmd.Env = append(slices.Clone(x.f.Env), "AWS_LAMBDA_RUNTIME_API="+r.ln.Addr().String())
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = r.ln.Close()
		return nil, err
	}
	r.pid = cmd.Process.Pid
	go func() {
		err := cmd.Wait()
		r.report(fmt.Errorf("%s against the raw runtime: the bootstrap exited: %v", x.s.id, err))
		close(r.exited)
	}()
	return r, nil
}

func (r *rawRuntime) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := r.serve(c); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.report(err)
			}
		}()
	}
}

// report hands run the end of a block (nil) or the first fault.
func (r *rawRuntime) report(err error) {
	select {
	case r.done <- err:
	default:
	}
}

// serve answers one connection's requests, each in one write.
func (r *rawRuntime) serve(c net.Conn) error {
	in := bufio.NewReader(c)
	var out []byte
	invoked := false // this is the connection invocations come over
	for {
		method, path, body, err := readRequest(in)
		if errors.Is(err, io.EOF) && invoked && r.left > 0 {
			return errors.New("raw runtime: the bootstrap left in the middle of a block")
		}
		if err != nil {
			return err
		}
		if method == "GET" && path == "/2020-01-01/extension/event/next" {
			_, err := in.ReadByte() // no event until shutdown: wait for the connection's end
			return err
		}
		var answered bool
		if out, answered, err = r.answer(out[:0], method, path, body); err != nil {
			return err
		}
		invoked = invoked || method == "GET" // next: the extension's next returned above
		if _, err := c.Write(out); err != nil {
			return err
		}
		if answered {
			if r.left--; r.left == 0 {
				r.report(nil)
			}
		}
	}
}

// answer appends the answer to one request to out, waiting for work first if it is a
// next; answered reports an invocation's answer acknowledged.
func (r *rawRuntime) answer(out []byte, method, path string, body []byte) (_ []byte, answered bool, err error) {
	const invocation = "/2018-06-01/runtime/invocation/"
	switch {
	case method == "GET" && path == invocation+"next":
		if r.left == 0 {
			var ok bool
			if r.left, ok = <-r.work; !ok {
				return out, false, io.EOF
			}
		}
		r.id++
		out = append(out, r.head...)
		out = fmt.Appendf(out, "%032x\r\nLambda-Runtime-Deadline-Ms: %d", r.id, time.Now().Add(r.timeout).UnixMilli())
		return append(out, r.tail...), false, nil
	case method == "POST" && path == "/2020-01-01/extension/register": // on a connection of its own
		return append(out, "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: raw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"...), false, nil
	case method == "POST" && path == fmt.Sprintf("%s%032x/response", invocation, r.id):
		if !bytes.Contains(body, []byte(r.ok)) {
			return out, false, fmt.Errorf("raw runtime: answer without %s: %.300s", r.ok, body)
		}
		return append(out, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"...), true, nil
	}
	return out, false, fmt.Errorf("raw runtime: %s %s", method, path)
}

// readRequest reads one request with net/http's parser: its method, path and whole
// body (sized or chunked, its trailers read too), so that the next request on the
// connection starts where it ends. The parsing is this process's CPU, not the
// bootstrap's.
func readRequest(in *bufio.Reader) (method, path string, body []byte, err error) {
	req, err := http.ReadRequest(in)
	if err != nil {
		return "", "", nil, err
	}
	body, err = io.ReadAll(req.Body)
	return req.Method, req.URL.Path, body, err
}

// run has the bootstrap answer n invocations in a row; when measure is set it adds
// their CPU to the total.
func (r *rawRuntime) run(n int, measure bool) error {
	before, err := procCPU(r.pid)
	if err != nil {
		return err
	}
	select {
	case r.work <- n:
	case err := <-r.done: // a fault before the block began
		return err
	}
	if err := <-r.done; err != nil {
		return err
	}
	after, err := procCPU(r.pid)
	if measure {
		r.cpu += after - before
		r.units += n
	}
	return err
}

func (r *rawRuntime) perUnit() float64 { return ms(r.cpu) / float64(r.units) }

// close ends the bootstrap (unless it is this process, in a test) and the server.
func (r *rawRuntime) close() {
	close(r.work) // a connection waiting for work ends
	if p, err := os.FindProcess(r.pid); err == nil && r.pid != os.Getpid() {
		_ = p.Kill()
		<-r.exited
	}
	_ = r.ln.Close()
}
