// Command idle sleeps for the duration given as its argument (e.g. 3s) and
// exits; the sleep is one poll_oneoff clock subscription.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	d, err := time.ParseDuration(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	time.Sleep(d)
	fmt.Println("done")
}
