//go:build !linux

package main

// kernelPrice is measured on Linux only.
func kernelPrice() (string, error) { return "", nil }
