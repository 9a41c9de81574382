// Command clock_random prints what a test needs to check the clocks and the
// random source:
//
//	realtime NS            wall clock, Unix nanoseconds
//	monotonic ok|FAIL      1000 readings never went backwards
//	sleep_ms MS            time.Sleep(100ms) as measured by the monotonic clock
//	random HEX             32 random bytes, twice
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

func main() {
	fmt.Printf("realtime %d\n", time.Now().UnixNano())

	start := time.Now()
	prev := time.Duration(0)
	ok := "ok"
	for i := 0; i < 1000; i++ {
		d := time.Since(start)
		if d < prev {
			ok = "FAIL"
		}
		prev = d
	}
	fmt.Printf("monotonic %s\n", ok)

	t0 := time.Now()
	time.Sleep(100 * time.Millisecond)
	fmt.Printf("sleep_ms %d\n", time.Since(t0).Milliseconds())

	for i := 0; i < 2; i++ {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			fmt.Printf("random FAIL %v\n", err)
			continue
		}
		fmt.Printf("random %s\n", hex.EncodeToString(b))
	}
}
