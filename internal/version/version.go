// Package version holds wasmrun's version, set at build time with
// -ldflags "-X github.com/wasmrun/wasmrun/internal/version.Version=...".
package version

// Version is the release version, or "dev" for a plain go build.
var Version = "dev"
