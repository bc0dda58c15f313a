//go:build keyward.cpuprofile

package cpuprofile

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// Env names the file the profile is written to.
const Env = "KEYWARD_CPU_PROFILE"

func init() {
	path := os.Getenv(Env)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return
	}
	// 500 Hz rather than pprof's 100, for enough samples of a short run. (StartCPUProfile
	// then warns that the rate is set already; the bench discards the output.)
	runtime.SetCPUProfileRate(500)
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "cpuprofile:", err)
		return
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	go func() {
		<-term
		pprof.StopCPUProfile()
		_ = f.Close()
		os.Exit(0)
	}()
}
