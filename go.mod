module github.com/wasmrun/wasmrun

go 1.26.6

require (
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/sys v0.44.0
)

require golang.org/x/term v0.37.0

require (
	github.com/BurntSushi/toml v1.5.0 // indirect
	github.com/containernetworking/cni v1.3.1 // indirect
	github.com/containernetworking/plugins v1.9.1 // indirect
	github.com/opencontainers/runtime-spec v1.2.1 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	go.opentelemetry.io/otel v1.29.0 // indirect
	go.opentelemetry.io/otel/trace v1.29.0 // indirect
)
