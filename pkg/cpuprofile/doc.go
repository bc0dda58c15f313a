// Package cpuprofile lets make bench profile a bootstrap under load. A bootstrap
// imports it for its side effect. Built with the tag keyward.cpuprofile (the bench's
// builds only) and started with KEYWARD_CPU_PROFILE set to a path, the process
// profiles its CPU from init and writes the profile there when it gets SIGTERM (as
// Lambda, and the local runtime emulator, end an execution environment), then exits.
//
// Invariant: without the build tag the package is empty, so the bootstraps sam build
// makes carry no profiler and no signal handler of it.
package cpuprofile
