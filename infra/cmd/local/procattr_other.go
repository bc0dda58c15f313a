//go:build !linux

package main

import "syscall"

// servicesAttr is the default: only Linux has a parent-death signal.
func servicesAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{}
}
