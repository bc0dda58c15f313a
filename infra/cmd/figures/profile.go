package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// profileUnits is how many units each profiled bootstrap runs under the profiler.
const profileUnits = 1000

// profileEnv names the profile's file (package cpuprofile).
const profileEnv = "KEYWARD_CPU_PROFILE"

// profileHz is the sampling rate of the gateway's profile (pprof's default is 100).
const profileHz = 500

// profiles builds the profiled bootstraps (tag keyward.cpuprofile), runs each
// profiled function and its twin under load, and keeps `go tool pprof -top` of each
// in .local/bench/profiles/<name>.txt.
func (b *bench) profiles() error {
	dir := filepath.Join(b.p.Root, ".local", "bench", "profiles")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range scenarios {
		if !s.profile {
			continue
		}
		bin, err := b.buildProfiled(s.id)
		if err != nil {
			return err
		}
		twinBin, err := b.buildTwin(s.twin, "profiled", "lambda.norpc,keyward.cpuprofile")
		if err != nil {
			return err
		}
		for _, x := range []struct {
			name, bin string
			twin      bool
		}{{s.id, bin, false}, {"twin-" + s.twin, twinBin, true}} {
			if err := b.profile(s, x.name, x.bin, x.twin, dir); err != nil {
				return err
			}
		}
	}
	prof := filepath.Join(b.tmp, "gateway.pprof")
	if _, err := b.runGateway(profileEnv + "=" + prof); err != nil {
		return err
	}
	return b.top("gateway", "", prof, dir)
}

// top keeps pprof's top lists of profile prof (of binary bin, if any) as dir/name.txt:
// by own time, then by cumulative time.
func (b *bench) top(name, bin, prof, dir string) error {
	var out []byte
	for _, sort := range []string{"-flat", "-cum"} {
		args := []string{"tool", "pprof", "-top", sort, "-nodecount=30"}
		if bin != "" {
			args = append(args, bin)
		}
		top, err := exec.CommandContext(b.ctx, "go", append(args, prof)...).Output()
		if err != nil {
			return fmt.Errorf("pprof %s: %w", name, err)
		}
		out = append(out, top...)
	}
	return os.WriteFile(filepath.Join(dir, name+".txt"), out, 0o644)
}

// buildProfiled builds function id through make with the profiling tag added.
func (b *bench) buildProfiled(id string) (string, error) {
	dir := filepath.Join(b.tmp, "profiled", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(b.ctx, "make", "-s", "--no-print-directory", "build-"+id, "ARTIFACTS_DIR="+dir,
		"LAMBDA_GOOS="+runtime.GOOS, "LAMBDA_GOARCH="+runtime.GOARCH, "GO_BUILD_FLAGS=-tags lambda.norpc,keyward.cpuprofile -trimpath -ldflags='-s -w'")
	cmd.Dir = b.p.Root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build-%s (profiled): %v\n%s", id, err, out)
	}
	return filepath.Join(dir, "bootstrap"), nil
}

// profile runs bin (s's function or its twin) for profileUnits units with the
// profiler on, stops it (SIGTERM: the profile is written), and keeps its top list.
func (b *bench) profile(s scenario, name, bin string, twin bool, dir string) error {
	prof := filepath.Join(b.tmp, name+".pprof")
	extra := []string{profileEnv + "=" + prof}
	if twin {
		extra = append(extra, b.twinEnv()...)
	}
	f, err := b.function(s.id, bin, extra...)
	if err != nil {
		return err
	}
	x := &subject{b: b, s: s, twin: twin, f: f}
	err = x.run(profileUnits, false)
	f.Close()
	if err != nil {
		return err
	}
	return b.top(name, bin, prof, dir)
}
