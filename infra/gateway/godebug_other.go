//go:build !linux

package gateway

func execve(string, []string, []string) error { return nil }
