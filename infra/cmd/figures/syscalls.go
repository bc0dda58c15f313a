package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// straceUnits is how many invocations the system calls are counted over.
const straceUnits = 500

// syscallCounts counts the system calls of the process pid (all its threads) while x
// runs straceUnits invocations, with strace -c -f, and returns them per invocation,
// the most frequent first ("write 4.00, read 4.00 (2.00 failed), ..."). strace slows
// the process down, which changes how long it waits but not the calls it makes for an
// invocation. It returns "" when strace is not installed or may not attach.
func (b *bench) syscallCounts(x *subject, pid int) (string, error) {
	path, err := exec.LookPath("strace")
	if err != nil {
		return "", nil
	}
	out := filepath.Join(b.tmp, "strace.txt")
	cmd := exec.CommandContext(b.ctx, path, "-f", "-c", "-o", out, "-p", strconv.Itoa(pid))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", nil
	}
	// strace says so on stderr once it has attached; it ends instead if it may not.
	attached := false
	for sc := bufio.NewScanner(stderr); !attached && sc.Scan(); {
		attached = strings.Contains(sc.Text(), "attached")
	}
	if !attached {
		_ = cmd.Wait()
		return "", nil
	}
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, stderr); close(drained) }()
	runErr := x.run(straceUnits, false)
	_ = cmd.Process.Signal(os.Interrupt)
	<-drained
	// strace ends by SIGINT's default action once it has written its table.
	_ = cmd.Wait()
	if runErr != nil {
		return "", runErr
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return "", err
	}
	return formatCounts(string(data), straceUnits), nil
}

// formatCounts turns strace -c's table into calls per invocation over n invocations.
func formatCounts(table string, n int) string {
	type row struct {
		name          string
		calls, errors int
	}
	var rows []row
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		if len(f) < 5 || f[len(f)-1] == "total" || f[len(f)-1] == "syscall" {
			continue
		}
		r := row{name: f[len(f)-1]}
		var err error
		if r.calls, err = strconv.Atoi(f[3]); err != nil {
			continue
		}
		if len(f) == 6 {
			r.errors, _ = strconv.Atoi(f[4])
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b row) int { return b.calls - a.calls })
	var parts []string
	for _, r := range rows {
		per := float64(r.calls) / float64(n)
		if per < 0.005 {
			continue
		}
		s := fmt.Sprintf("%s %.2f", r.name, per)
		if r.errors > 0 {
			s += fmt.Sprintf(" (%.2f failed)", float64(r.errors)/float64(n))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
