package gateway

import "syscall"

var syscallZero = syscall.Signal(0)
