//go:build !linux

package cni

// holdLoopback6 holds nothing here (see holdports_linux.go).
func holdLoopback6(fws []Forward) (func(), error) { return func() {}, nil }
