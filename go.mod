module github.com/wasmrun/wasmrun

go 1.26.6

require (
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/sys v0.44.0
)

require golang.org/x/term v0.37.0
