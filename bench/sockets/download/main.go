// Command download measures bulk TCP download for bench/isolation.sh: the
// same program runs natively and as a GOOS=wasip1 guest.
//
//	download -serve ADDR -bytes N   # serve N bytes to every connection
//	                                # (prints "listening ADDR" when ready)
//	download ADDR                   # connect, read to EOF
//
// The client prints "BYTES NANOSECONDS": what it read and how long that
// took from just before connecting to EOF (its own start-up is not in it),
// so the script can check every run moved the whole payload.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	serve := flag.String("serve", "", "serve on this address")
	n := flag.Int64("bytes", 256<<20, "bytes per connection")
	flag.Parse()
	if *serve != "" {
		if err := server(*serve, *n); err != nil {
			fmt.Fprintln(os.Stderr, "download:", err)
			os.Exit(1)
		}
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: download ADDR | download -serve ADDR [-bytes N]")
		os.Exit(2)
	}
	start := time.Now()
	c, err := dial(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "download:", err)
		os.Exit(1)
	}
	defer c.Close()
	got, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		fmt.Fprintln(os.Stderr, "download:", err)
		os.Exit(1)
	}
	fmt.Println(got, time.Since(start).Nanoseconds())
}

// server sends n zero bytes to each connection, then closes it.
func server(addr string, n int64) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", l.Addr()) // the script waits for this line
	buf := make([]byte, 256<<10)
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			for left := n; left > 0; {
				k := min(left, int64(len(buf)))
				if _, err := c.Write(buf[:k]); err != nil {
					return
				}
				left -= k
			}
		}()
	}
}
