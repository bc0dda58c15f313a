//go:build linux

package main

import (
	"fmt"
	"testing"
)

func TestKernelPriceMeasuresBoth(t *testing.T) {
	line, err := kernelPrice()
	if err != nil {
		t.Fatal(err)
	}
	var call, trip float64
	if _, err := fmt.Sscanf(line, "kernel_price = %f µs per system call, %f µs per blocking round trip", &call, &trip); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	if call <= 0 || trip <= call {
		t.Errorf("a system call costs %.2f µs and a round trip %.2f µs: a round trip makes two calls and two waits", call, trip)
	}
}
