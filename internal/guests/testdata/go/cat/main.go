// Command cat copies stdin to stdout, byte for byte, and reports the count
// on stderr.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	n, err := io.Copy(os.Stdout, os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cat: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "copied %d\n", n)
}
