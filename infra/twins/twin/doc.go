// Package twin holds what the bench's minimal twins share. A twin is an aws-lambda-go
// bootstrap that does only the unavoidable work of one Keyward function: the same SDK
// calls through clients configured by package awsclient, as the functions' are, and
// the same signature. make bench (infra/cmd/figures) starts each twin through the same
// runtime emulator, with the same environment, as the function it stands beside, and
// compares their CPU per invocation and their cold starts. Run with EnvLoop set, a
// twin does its unavoidable work in a plain Go loop instead (LoopIfAsked): the
// bench's measure of the SDK calls alone, in a process like the twin's.
//
// The bench names the items a twin reads in the variables below; a twin imports no
// Keyward package but awsclient, so that its init is the SDK's and the runtime's only.
package twin
