//go:build tools

// Package tool pins the wasirun command for bench/sockets.sh and
// bench/wasigo.sh: go build github.com/stealthrocket/wasi-go/cmd/wasirun.
package tool

import _ "github.com/stealthrocket/wasi-go/cmd/wasirun"
