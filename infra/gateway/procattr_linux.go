package gateway

import "syscall"

// childAttr puts a child in its own process group, and has the kernel kill it if
// the gateway dies without cleaning up.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
