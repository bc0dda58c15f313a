package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Procs is the GOMAXPROCS of a process that runs the gateway: it only proxies, and a
// second P spins and hands goroutines between threads, which costs more CPU per
// proxied invocation than it saves (make bench, gateway_cpu_per_invocation). The
// functions' own processes get theirs from the template (GOMAXPROCS).
const Procs = 1

// MaxProcesses bounds the warm processes of one function: a laptop has few cores, and
// Lambda's own concurrency is not the thing under test.
const MaxProcesses = 4

// Function runs one Lambda function's bootstrap binary, keeping a pool of warm processes.
type Function struct {
	// Name is the function's logical id, e.g. KeysFunction.
	Name string
	// Binary is the path of the function's bootstrap.
	Binary string
	// Env is the child's whole environment, as KEY=value entries.
	Env []string
	// Timeout is the function's timeout; an invocation past it kills the process.
	Timeout time.Duration
	// Log receives the function's lifecycle events; the children's own output goes to Stderr.
	Log *slog.Logger
	// Stderr receives the children's stdout and stderr (os.Stderr if nil).
	Stderr io.Writer

	mu     sync.Mutex
	procs  map[*process]bool // every live process
	idle   chan *process
	closed bool
}

// FunctionError is an error the function itself reported (via /invocation/{id}/error
// or /init/error), or its process failing during an invocation.
type FunctionError struct {
	// Type is the errorType reported by the runtime, or a local one such as Runtime.ExitError.
	Type string `json:"errorType"`
	// Message is the errorMessage reported by the runtime.
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result // buffered, 1
}

type result struct {
	body []byte
	err  error
}

// process is one running bootstrap and the Runtime API server it talks to.
type process struct {
	fn      *Function
	cmd     *exec.Cmd
	srv     *http.Server
	next    chan *invocation
	exited  chan struct{}
	started time.Time

	mu       sync.Mutex
	current  *invocation
	served   int
	stopping atomic.Bool // the gateway ended it: its exit is no error
}

// Invoke runs the function once with payload and returns its response bytes.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	p, err := f.acquire()
	if err != nil {
		return nil, err
	}
	inv := &invocation{id: newID(), payload: payload, deadline: time.Now().Add(f.timeout()), done: make(chan result, 1)}
	ctx, cancel := context.WithDeadline(ctx, inv.deadline)
	defer cancel()

	select {
	case p.next <- inv:
	case <-p.exited:
		f.forget(p)
		return nil, p.exitError()
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Init counts against the timeout, as in Lambda: a process that has not
			// asked for work by the deadline is ended.
			p.kill()
			f.forget(p)
		} else {
			f.release(p) // the caller left; the process never took the invocation
		}
		return nil, f.timeoutError(ctx)
	}
	select {
	case r := <-inv.done:
		f.release(p)
		return r.body, r.err
	case <-p.exited:
		f.forget(p)
		return nil, p.exitError()
	case <-ctx.Done():
		// Lambda ends an execution environment whose invocation timed out.
		p.kill()
		f.forget(p)
		return nil, f.timeoutError(ctx)
	}
}

func (f *Function) timeout() time.Duration {
	if f.Timeout <= 0 {
		return 30 * time.Second
	}
	return f.Timeout
}

func (f *Function) timeoutError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("task timed out after %s", f.timeout())}
	}
	return ctx.Err()
}

// acquire returns an idle process, or starts one when all are busy and the pool has
// room, or waits for one to be released.
func (f *Function) acquire() (*process, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, errors.New("function closed")
	}
	if f.idle == nil {
		f.idle = make(chan *process, MaxProcesses)
		f.procs = map[*process]bool{}
	}
	for {
		select {
		case p := <-f.idle:
			select {
			case <-p.exited:
				delete(f.procs, p)
				continue
			default:
			}
			f.mu.Unlock()
			return p, nil
		default:
		}
		break
	}
	if len(f.procs) < MaxProcesses {
		p, err := f.start()
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		f.procs[p] = true
		f.mu.Unlock()
		return p, nil
	}
	idle := f.idle
	f.mu.Unlock()
	// Wait for a release; look again now and then, in case a busy process died.
	select {
	case p := <-idle:
		return p, nil
	case <-time.After(100 * time.Millisecond):
		return f.acquire()
	}
}

func (f *Function) release(p *process) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.idle <- p // never blocks: at most MaxProcesses exist
}

func (f *Function) forget(p *process) {
	f.mu.Lock()
	delete(f.procs, p)
	f.mu.Unlock()
}

// Processes returns the pids of the function's live processes.
func (f *Function) Processes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var pids []int
	for p := range f.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Close stops every process of the function and waits for them to exit.
func (f *Function) Close() {
	f.mu.Lock()
	f.closed = true
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// start launches a new bootstrap process with its own Runtime API server. f.mu is held.
func (f *Function) start() (*process, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API listener: %w", err)
	}
	p := &process{fn: f, next: make(chan *invocation), exited: make(chan struct{}), started: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", p.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", p.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", p.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", p.handleInitError)
	// The Extensions API, as far as lambda.WithEnableSIGTERM uses it: registering an
	// extension is what makes Lambda send SIGTERM at shutdown (stop sends it anyway).
	mux.HandleFunc("POST /2020-01-01/extension/register", p.handleRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", p.handleExtensionNext)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()

	stderr := f.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	cmd := exec.Command(f.Binary)
	cmd.Env = append(append([]string{}, f.Env...), "AWS_LAMBDA_RUNTIME_API="+ln.Addr().String())
	out := &lineWriter{w: stderr}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		_ = p.srv.Close()
		return nil, fmt.Errorf("start %s: %w", f.Binary, err)
	}
	p.cmd = cmd
	f.logger().Debug("process started", "function", f.Name, "pid", cmd.Process.Pid, "runtime_api", ln.Addr().String())
	go func() {
		err := cmd.Wait()
		close(p.exited)
		_ = p.srv.Close()
		f.forget(p)
		if p.stopping.Load() {
			// Stopped here (shutdown, a timeout, a failed init): not an error.
			f.logger().Debug("process stopped", "function", f.Name, "pid", cmd.Process.Pid)
			return
		}
		f.logger().Warn("process exited", "function", f.Name, "pid", cmd.Process.Pid, "err", err)
	}()
	return p, nil
}

func (f *Function) logger() *slog.Logger {
	if f.Log == nil {
		return slog.Default()
	}
	return f.Log
}

func (p *process) handleNext(w http.ResponseWriter, r *http.Request) {
	select {
	case inv := <-p.next:
		p.mu.Lock()
		p.current = inv
		first := p.served == 0
		p.served++
		p.mu.Unlock()
		if first {
			p.fn.logger().Debug("cold start", "function", p.fn.Name, "init", time.Since(p.started))
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:"+p.fn.Name)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+newID()[:8]+"-"+newID()[:24]+";Sampled=0")
		_, _ = w.Write(inv.payload)
	case <-r.Context().Done():
	case <-p.exited:
	}
}

// take returns the invocation id names, if it is the one in flight, and clears it.
func (p *process) take(id string) *invocation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.current == nil || p.current.id != id {
		return nil
	}
	inv := p.current
	p.current = nil
	return inv
}

func (p *process) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := p.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err == nil && len(body) > 6<<20 {
		err = &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "response payload over 6 MB"}
	}
	inv.done <- result{body: body, err: err}
	w.WriteHeader(http.StatusAccepted)
}

func (p *process) handleError(w http.ResponseWriter, r *http.Request) {
	inv := p.take(r.PathValue("id"))
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
		return
	}
	inv.done <- result{err: readFunctionError(r)}
	w.WriteHeader(http.StatusAccepted)
}

func (p *process) handleInitError(w http.ResponseWriter, r *http.Request) {
	fe := readFunctionError(r)
	p.fn.logger().Error("init error", "function", p.fn.Name, "error_type", fe.Type, "error", fe.Message)
	w.WriteHeader(http.StatusAccepted)
	// Lambda discards an environment whose init failed; the process exits on its own
	// or is stopped here, and Invoke reports the exit.
	go p.stop()
}

// handleRegister registers an extension that takes no events (lambda.WithEnableSIGTERM's).
func (p *process) handleRegister(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	w.Header().Set("Lambda-Extension-Identifier", newID())
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"functionName":"` + p.fn.Name + `","functionVersion":"$LATEST","handler":"bootstrap"}`))
}

// handleExtensionNext never hands out an event: an extension registered for none
// waits until its process ends.
func (p *process) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.exited:
	}
}

func readFunctionError(r *http.Request) *FunctionError {
	fe := &FunctionError{}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, fe) != nil || fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return fe
}

func (p *process) exitError() error {
	code := -1
	if p.cmd.ProcessState != nil {
		code = p.cmd.ProcessState.ExitCode()
	}
	return &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("process exited (status %d)", code)}
}

// kill ends the process group at once.
func (p *process) kill() {
	p.stopping.Store(true)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// stop sends SIGTERM to the process group, as Lambda does at shutdown, then SIGKILL
// if it has not exited within 2 s.
func (p *process) stop() {
	p.stopping.Store(true)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.kill()
		<-p.exited
	}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
