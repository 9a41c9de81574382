// Command idlego is the shim benchmark's idle Go guest (GOOS=wasip1): it
// sleeps for an hour so its memory can be read while it runs.
package main

import "time"

func main() { time.Sleep(time.Hour) }
