package gateway

import "syscall"

func execve(exe string, args, env []string) error { return syscall.Exec(exe, args, env) }
