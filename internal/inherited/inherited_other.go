//go:build !linux && !darwin

package inherited

func closeOnExec() {}
