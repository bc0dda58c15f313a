//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

// kernelPrice measures what this machine charges for the two things the Runtime
// API's client does most per invocation, in CPU of the calling thread: a system call
// (getppid, which does no work), and a blocking round trip with another process (a
// byte written to a child's pipe, and the wait for its answer: both sides sleep and
// are woken). aws-lambda-go and net/http make the same calls and waits on Lambda; the
// price is the host's.
func kernelPrice() (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const calls, trips = 200_000, 20_000
	c := threadCPU()
	for range calls {
		syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
	}
	perCall := (threadCPU() - c) / calls
	perTrip, err := pipeRoundTrip(trips)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("kernel_price = %.2f µs per system call, %.1f µs per blocking round trip [CPU of the calling thread: getppid, %d calls; "+
		"one byte to a child process (cat) through a pipe and its echo awaited, %d round trips]",
		float64(perCall)/float64(time.Microsecond), float64(perTrip)/float64(time.Microsecond), calls, trips), nil
}

// pipeRoundTrip is the calling thread's CPU per round trip of one byte through cat.
func pipeRoundTrip(n int) (time.Duration, error) {
	cmd := exec.Command("cat")
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = in.Close(); _ = cmd.Wait() }()
	w, r := int(in.(*os.File).Fd()), int(out.(*os.File).Fd())
	b := []byte{1}
	c := threadCPU()
	for range n {
		if _, err := syscall.Write(w, b); err != nil {
			return 0, err
		}
		if _, err := syscall.Read(r, b); err != nil {
			return 0, err
		}
	}
	return (threadCPU() - c) / time.Duration(n), nil
}

func threadCPU() time.Duration {
	var u syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
