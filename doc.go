// Package keyward has no code: its tests hold the repository together. docs/ (the
// API reference in prose) has a section for exactly the routes of openapi.yaml
// (package openapi); every relative link of docs/ and README.md names a file inside
// the repository; plain `make` prints the help, which lists every target; and the
// prerequisite check names every missing tool at once.
package keyward
