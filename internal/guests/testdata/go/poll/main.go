// Command poll waits for stdin with timeouts, the way a Go program does it:
// stdin in non-blocking mode (so the runtime's netpoller, i.e. poll_oneoff,
// waits for it), a goroutine reading it and time.After.
//
//	poll FIRST_MS SECOND_MS
//
// It first waits FIRST_MS for input and prints "timeout MS" (the measured
// wait) when none came; then it waits up to SECOND_MS and prints
// "ready MS" and "data TEXT" when input arrives, or "timeout MS" again.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	first, _ := strconv.Atoi(os.Args[1])
	second, _ := strconv.Atoi(os.Args[2])
	if err := syscall.SetNonblock(0, true); err != nil {
		fmt.Printf("FAIL setnonblock %v\n", err)
		os.Exit(1)
	}
	stdin := os.NewFile(0, "stdin")
	data := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		n, err := stdin.Read(buf)
		if err != nil {
			data <- "error " + err.Error()
			return
		}
		data <- strings.TrimRight(string(buf[:n]), "\n")
	}()
	for _, ms := range []int{first, second} {
		start := time.Now()
		select {
		case d := <-data:
			fmt.Printf("ready %d\n", time.Since(start).Milliseconds())
			fmt.Printf("data %s\n", d)
			return
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Printf("timeout %d\n", time.Since(start).Milliseconds())
		}
	}
}
