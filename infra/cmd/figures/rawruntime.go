package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rawRuntime is the least a Runtime API can do for a bootstrap, to hold the runtime
// emulator to: one goroutine per connection, no router, no handoff between
// goroutines, and each answer written from bytes prepared ahead, in one write (next:
// the payload and the headers the emulator sends, with a Content-Length; response: a
// 202 once the body is read, as Lambda's API reads it first). What a bootstrap costs
// against it and against the emulator, in the same blocks, is the emulator's share of
// the bootstrap's CPU.
type rawRuntime struct {
	ln    net.Listener
	cmd   *exec.Cmd
	head  []byte // next's answer up to its request id
	tail  []byte // from the request id's end to the payload's end, deadline apart
	ok    string
	work  chan int   // the invocations of one block
	done  chan error // a block answered, or the first fault
	cpu   time.Duration
	units int
}

// rawSubject runs x's bootstrap, with x's environment and payload, against a
// rawRuntime instead of the emulator.
func (b *bench) rawSubject(x *subject) (*rawRuntime, error) {
	events := x.s.events(b, 0, x.twin)
	if len(events) != 1 {
		return nil, fmt.Errorf("%s: a raw runtime serves one event per unit", x.s.id)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &rawRuntime{ln: ln, ok: x.s.ok, work: make(chan int), done: make(chan error, 1)}
	r.head = []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" +
		"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:000000000000:function:" + x.s.id + "\r\n" +
		"Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0\r\n" +
		"Content-Length: " + strconv.Itoa(len(events[0])) + "\r\n" +
		"Lambda-Runtime-Aws-Request-Id: ")
	r.tail = append([]byte("\r\n\r\n"), events[0]...)
	r.cmd = exec.CommandContext(b.ctx, x.f.Binary)
	r.cmd.Env = append(slices.Clone(x.f.Env), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, io.Discard
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	go r.accept(x.f.Timeout)
	if err := r.cmd.Start(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	return r, nil
}

func (r *rawRuntime) accept(timeout time.Duration) {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := r.serve(c, timeout); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.fail(err)
			}
		}()
	}
}

func (r *rawRuntime) fail(err error) {
	select {
	case r.done <- err:
	default:
	}
}

// rawConn is one connection's state: the invocations left in the block, the last
// request id, the answer being written.
type rawConn struct {
	left, id int
	timeout  time.Duration
	out      []byte
}

// serve answers one connection's requests, each in one write.
func (r *rawRuntime) serve(c net.Conn, timeout time.Duration) error {
	in := bufio.NewReader(c)
	st := &rawConn{timeout: timeout}
	for {
		method, path, body, err := readRequest(in)
		if err != nil {
			return err
		}
		if method == "GET" && path == "/2020-01-01/extension/event/next" {
			_, err := in.ReadByte() // no event until shutdown: wait for the connection's end
			return err
		}
		answered, err := r.answer(st, method, path, body)
		if err != nil {
			return err
		}
		if _, err := c.Write(st.out); err != nil {
			return err
		}
		if answered {
			if st.left--; st.left == 0 {
				r.done <- nil
			}
		}
	}
}

// answer puts the answer to one request in st.out, waiting for work first if it is
// a next; answered reports an invocation's answer acknowledged.
func (r *rawRuntime) answer(st *rawConn, method, path string, body []byte) (answered bool, err error) {
	st.out = st.out[:0]
	switch {
	case method == "GET" && path == "/2018-06-01/runtime/invocation/next":
		if st.left == 0 {
			var ok bool
			if st.left, ok = <-r.work; !ok {
				return false, io.EOF
			}
		}
		st.id++
		st.out = append(st.out, r.head...)
		st.out = fmt.Appendf(st.out, "%08x-0000-4000-8000-000000000000\r\nLambda-Runtime-Deadline-Ms: %d", st.id, time.Now().Add(st.timeout).UnixMilli())
		st.out = append(st.out, r.tail...)
	case method == "POST" && strings.HasSuffix(path, "/response"):
		if !bytes.Contains(body, []byte(r.ok)) {
			return false, fmt.Errorf("raw runtime: answer without %s: %.300s", r.ok, body)
		}
		st.out = append(st.out, "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"...)
		answered = true
	case method == "POST" && path == "/2020-01-01/extension/register":
		st.out = append(st.out, "HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: raw\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"...)
	default:
		return false, fmt.Errorf("raw runtime: %s %s", method, path)
	}
	return answered, nil
}

// readRequest reads one HTTP/1.1 request: its method, path and whole body (sized or
// chunked, trailers skipped).
func readRequest(in *bufio.Reader) (method, path string, body []byte, err error) {
	line, err := in.ReadString('\n')
	if err != nil {
		return "", "", nil, err
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		return "", "", nil, fmt.Errorf("raw runtime: request line %q", line)
	}
	size, chunked, err := readHeaders(in)
	if err != nil {
		return "", "", nil, err
	}
	switch {
	case chunked:
		if body, err = io.ReadAll(httputil.NewChunkedReader(in)); err == nil {
			_, _, err = readHeaders(in) // the trailer section
		}
	case size > 0:
		body = make([]byte, size)
		_, err = io.ReadFull(in, body)
	}
	return f[0], f[1], body, err
}

// readHeaders reads header lines up to the empty line, and tells the body's size or
// that it is chunked.
func readHeaders(in *bufio.Reader) (size int, chunked bool, err error) {
	for {
		h, err := in.ReadString('\n')
		if err != nil || h == "\r\n" {
			return size, chunked, err
		}
		k, v, _ := strings.Cut(h, ":")
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "content-length":
			if size, err = strconv.Atoi(v); err != nil {
				return 0, false, fmt.Errorf("raw runtime: %q", h)
			}
		case "transfer-encoding":
			chunked = v == "chunked"
		}
	}
}

// run has the bootstrap answer n invocations in a row; when measure is set it adds
// their CPU to the total.
func (r *rawRuntime) run(n int, measure bool) error {
	before, err := procCPU(r.cmd.Process.Pid)
	if err != nil {
		return err
	}
	r.work <- n
	if err := <-r.done; err != nil {
		return err
	}
	after, err := procCPU(r.cmd.Process.Pid)
	if measure {
		r.cpu += after - before
		r.units += n
	}
	return err
}

func (r *rawRuntime) perUnit() float64 { return ms(r.cpu) / float64(r.units) }

func (r *rawRuntime) close() {
	close(r.work) // a connection waiting for work ends
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	_ = r.ln.Close()
}
