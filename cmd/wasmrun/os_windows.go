package main

import (
	"errors"
	"fmt"
	"os"
)

// errOSNotYet is what the commands of isolated apps say here.
var errOSNotYet = errors.New("wasmrun os, ps and stop are not implemented on Windows yet; wasmrun run works")

func osCmd(args []string, stdin, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}

func psCmd(args []string, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}

func stopCmd(args []string, stdout, stderr *os.File) int {
	fmt.Fprintln(stderr, "wasmrun:", errOSNotYet)
	return ExitFailure
}
