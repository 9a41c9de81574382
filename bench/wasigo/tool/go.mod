// The reference runtime the benchmarks compare with: wasi-go's wasirun
// (github.com/stealthrocket/wasi-go v0.8.0), built against the wazero the
// project uses. A module of its own, so its versions stay out of wasmrun's.
module github.com/wasmrun/wasmrun/bench/wasigo/tool

go 1.26

require github.com/stealthrocket/wasi-go v0.8.0

require (
	github.com/stealthrocket/wazergo v0.19.1 // indirect
	github.com/tetratelabs/wazero v1.12.0 // indirect
	golang.org/x/sys v0.44.0 // indirect
)
