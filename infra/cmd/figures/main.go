// Command figures prints make bench's figures measured on the bootstraps themselves,
// each against a baseline measured in the same run:
//   - the size of each function's bootstrap, built exactly as sam build does (make
//     build-<LogicalId> for linux/arm64);
//   - each function's cold start (process start to the first invocation answered
//     through the local runtime emulator) against its minimal twin's (infra/twins)
//     started the same way, plus the network round trips the function needs at init
//     and its twin does not, timed here beside each run;
//   - each function's process CPU per invocation (utime+stime of the bootstrap, from
//     /proc/<pid>/stat) against its twin's, and each twin's against the same SDK calls
//     in a plain Go loop (the twin's binary in loop mode, measured alike), against
//     that loop fed one unit at a time, and against the runtime-only bootstrap,
//     whose own figure is split into user and system time, context switches, threads
//     and (where strace may attach) system calls; the twin and that bootstrap are
//     also measured against a raw Runtime API that writes prepared answers (the
//     emulator's test);
//   - the local gateway's own CPU per proxied invocation (a child process running
//     the gateway and the runtime emulator, measured the same way);
//   - a CPU profile of each bootstrap and twin under load (pprof -top, into
//     .local/bench/profiles/, not printed).
//
// It runs under infra/services.sh (KEYWARD_FIGURES_STEPS picks steps), and writes its figure lines to
// .local/bench/build.txt as well, for the bench target to print last.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/infra/gateway"
)

// stepsEnv, when set, names the steps to run, comma-separated (while working on one
// figure; make bench runs them all).
const stepsEnv = "KEYWARD_FIGURES_STEPS"

func main() {
	ctx := context.Background()
	var err error
	if bin := os.Getenv(gatewayChildEnv); bin != "" {
		err = serveGateway(ctx, bin)
	} else {
		err = run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "figures: "+err.Error())
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") == "" {
		return errors.New("the local services are not running: run under infra/services.sh (make bench)")
	}
	// The runtime emulator the bootstraps talk to runs in this process: it runs as make
	// local's does (infra/cmd/local). With a second P and sysmon's deep sleep, it answers
	// later and its own threads take the CPU the bootstrap runs on, and the bootstrap
	// measured pays for it (cpu_per_invocation_runtime_only 0.17 against 0.12 ms;
	// README, "Memory and cost").
	if err := gateway.ExecWithGodebug(); err != nil {
		return err
	}
	runtime.GOMAXPROCS(gateway.Procs)
	b, err := newBench(ctx)
	if err != nil {
		return err
	}
	defer b.close()
	steps := []struct {
		name string
		do   func() error
	}{
		{"bootstrap sizes", b.sizes},
		{"host builds", b.buildHost},
		{"bench key", b.createKey},
		{"round trips", b.measureRoundTrips},
		{"cold starts", b.coldStarts},
		// Before the rotations of cpuFigures grow the JWK set the gateway's route serves.
		{"gateway CPU", b.gatewayFigure},
		{"CPU per invocation", b.cpuFigures},
		{"SDK loops", b.sdkFigures},
		{"runtime share", b.runtimeFigure},
		{"profiles", b.profiles},
	}
	only := os.Getenv(stepsEnv)
	for _, s := range steps {
		if only != "" && !slices.Contains(strings.Split(only, ","), s.name) {
			continue
		}
		t := time.Now()
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "figures: %s: %s\n", s.name, time.Since(t).Round(time.Millisecond))
	}
	return b.write()
}
