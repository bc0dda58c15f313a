package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkLocalStackRSS is make bench's figure for the local stack's memory: it
// starts the stack, runs the README walkthrough against it, and adds up the resident
// memory of every process of the stack (DynamoDB Local, moto, the gateway, the
// bootstraps, infra/services.sh).
func BenchmarkLocalStackRSS(b *testing.B) {
	if testing.Short() {
		b.Skip("starts the whole local stack")
	}
	s := startStack(b)
	testWalkthrough(b, s)
	total, parts := stackRSS(s)
	if total == 0 {
		b.Fatal("no process of the stack found")
	}
	line := fmt.Sprintf("figure local_stack_rss = %d MB (goal <= 450) [%s]\n", total>>10, parts)
	fmt.Print(line)
	// make bench prints every .local/bench/*.txt last.
	if dir := filepath.Join(s.p.Root, ".local", "bench"); dirExists(dir) {
		if err := os.WriteFile(filepath.Join(dir, "stack.txt"), []byte(line), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
	}
}

func dirExists(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// stackRSS is the summed VmRSS, in KiB, of the stack's processes, and a breakdown by
// program ("java 140 MB, moto_server 75 MB, ...").
func stackRSS(s *localStack) (int, string) {
	by := map[string]int{}
	total := 0
	for _, l := range append(processesTagged(s.tag), processesUnder(s.dir)...) {
		var pid int
		if _, err := fmt.Sscan(l, &pid); err != nil {
			continue
		}
		kb := vmRSS(pid)
		fields := strings.Fields(l)
		name := "?"
		if len(fields) > 1 {
			name = filepath.Base(fields[1])
			if name == "bash" || strings.HasPrefix(name, "python") {
				if len(fields) > 2 {
					name = filepath.Base(fields[2]) // the script: services.sh, moto_server
				}
			}
			if name == "bootstrap" {
				name = filepath.Base(filepath.Dir(fields[1]))
			}
		}
		by[name] += kb
		total += kb
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return by[names[i]] > by[names[j]] })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d MB", n, by[n]>>10))
	}
	return total, strings.Join(parts, ", ")
}

// vmRSS reads a process's resident set size in KiB (0 if it is gone).
func vmRSS(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}
