package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/keyward/keyward/infra/gateway"
	"github.com/keyward/keyward/infra/localstack"
)

// gatewayChildEnv, set to TokenFunction's host bootstrap, makes this program the
// gateway under measurement: the local gateway and its runtime emulator serving the
// token function's routes, as make local serves them.
const gatewayChildEnv = "KEYWARD_FIGURES_GATEWAY"

// goalGatewayMS bounds the gateway's own CPU per proxied invocation.
const goalGatewayMS = 0.3

// gatewayRequests is how many requests each of the gateway figure's gatewayBlocks
// blocks measures, after a tenth as many to warm up. A block's CPU is read in clock
// ticks (10 ms): 800 requests keep that within a few per cent.
const gatewayRequests = 800

// gatewayBlocks is how many blocks the gateway figure measures; it reports the median,
// so that a burst of other load on the machine moves one block, not the figure.
const gatewayBlocks = 5

// serveGateway is the child: it prints its address, serves until its stdin closes.
func serveGateway(ctx context.Context, bin string) error {
	// As make local's gateway runs (infra/cmd/local).
	if err := gateway.ExecWithGodebug(); err != nil {
		return err
	}
	runtime.GOMAXPROCS(gateway.Procs)
	p, err := localstack.Load(".")
	if err != nil {
		return err
	}
	if err := p.Isolate("figures"); err != nil {
		return err
	}
	fn, ok := p.Function("TokenFunction")
	if !ok {
		return fmt.Errorf("no TokenFunction in the template")
	}
	// Logged as make local logs: one text line per request on stderr.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f := p.NewFunction(fn, bin, localstack.AWSEnv(), log)
	defer f.Close()
	g := gateway.New(fn.Routes, p.Template.Authorizers(), map[string]gateway.Invoker{fn.LogicalID: f}, log)
	f.Stderr = g.FunctionOutput(os.Stderr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop, err := startProfile()
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(ln.Addr().String())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Shutdown(ctx)
}

// startProfile profiles this process's CPU into $KEYWARD_CPU_PROFILE, if set, until
// the returned function is called.
func startProfile() (func(), error) {
	path := os.Getenv(profileEnv)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	runtime.SetCPUProfileRate(profileHz)
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// gatewayFigure runs the gateway in a child process and measures its CPU over
// sequential GET /.well-known/jwks.json requests: one invocation of TokenFunction
// each, with no authorizer and no table access.
func (b *bench) gatewayFigure() error {
	per, err := b.runGateway()
	if err != nil {
		return err
	}
	b.add("gateway_cpu_per_invocation = %.3f ms (goal <= %.1f) [median of %d blocks of %d requests]", per, goalGatewayMS, gatewayBlocks, gatewayRequests)
	return nil
}

// runGateway starts the gateway child with extra variables and returns its CPU per
// proxied invocation, in ms.
func (b *bench) runGateway(extra ...string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(b.ctx, exe)
	cmd.Dir = b.p.Root
	cmd.Env = append(append(os.Environ(), gatewayChildEnv+"="+b.bins["TokenFunction"]), extra...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd.Stderr = devnull
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("gateway child: %w", err)
	}
	per, err := gatewayCPU(cmd.Process.Pid, "http://"+strings.TrimSpace(addr)+"/.well-known/jwks.json")
	_ = stdin.Close()
	return per, errors.Join(err, cmd.Wait())
}

// gatewayCPU is pid's CPU per GET of url, in ms: the median block's.
func gatewayCPU(pid int, url string) (float64, error) {
	get := func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("gateway: GET %s: %s", url, resp.Status)
		}
		return nil
	}
	for range gatewayRequests / 10 {
		if err := get(); err != nil {
			return 0, err
		}
	}
	var blocks []time.Duration
	for range gatewayBlocks {
		before, err := procCPU(pid)
		if err != nil {
			return 0, err
		}
		for range gatewayRequests {
			if err := get(); err != nil {
				return 0, err
			}
		}
		after, err := procCPU(pid)
		if err != nil {
			return 0, err
		}
		blocks = append(blocks, after-before)
	}
	return ms(median(blocks)) / gatewayRequests, nil
}
