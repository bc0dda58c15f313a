package gateway

import (
	"os"
	"strings"
)

// Godebug is the GODEBUG setting of a process that runs the gateway. The gateway
// mostly waits on sockets; each time it wakes from a wait with every P idle, its first
// system call wakes the runtime's sysmon thread from its deep sleep, which then polls
// every 20 µs for a while: a fifth of the gateway's CPU per proxied invocation (make
// bench, gateway_cpu_per_invocation, and the profile beside it). With a scheduler
// trace period set, sysmon never takes that deep sleep and backs off to a 10 ms poll
// instead. The period is the largest the runtime takes (about 24.8 days): it prints
// one scheduler line at most that often, and once at start on a machine up for longer.
const Godebug = "schedtrace=2147483647"

// withGodebug is env with Godebug added to its GODEBUG, and whether it was missing.
func withGodebug(env []string) ([]string, bool) {
	out := make([]string, 0, len(env)+1)
	cur := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			cur = v
			continue
		}
		out = append(out, kv)
	}
	for _, s := range strings.Split(cur, ",") {
		if strings.HasPrefix(s, "schedtrace=") {
			return env, false
		}
	}
	if cur != "" {
		cur += ","
	}
	return append(out, "GODEBUG="+cur+Godebug), true
}

// ExecWithGodebug re-executes the running program, same pid, arguments and
// environment, with Godebug added to GODEBUG, unless a schedtrace is set already. On
// success it does not return; call it first in main, before any file or child exists.
// Where the system cannot re-execute a program, it returns nil and changes nothing.
func ExecWithGodebug() error {
	env, missing := withGodebug(os.Environ())
	if !missing {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return execve(exe, os.Args, env)
}
