package main

import "syscall"

// servicesAttr has the kernel send infra/services.sh SIGTERM if this program dies
// without stopping it (SIGKILL), so that it still stops the services.
func servicesAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
