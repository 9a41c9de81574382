// Command download measures bulk TCP download, and UDP round trips, for
// bench/isolation.sh: the same program runs natively and as a GOOS=wasip1
// guest.
//
//	download -serve ADDR -bytes N   # serve N bytes to every connection
//	                                # (prints "listening ADDR" when ready)
//	download ADDR                   # connect, read to EOF
//	download -udp-echo ADDR         # echo every datagram
//	download -udp N ADDR            # N round trips of a 32-byte datagram
//
// The TCP client prints "BYTES NANOSECONDS": what it read and how long that
// took from just before connecting to EOF (its own start-up is not in it),
// so the script can check every run moved the whole payload. The UDP
// client prints "N NANOSECONDS" for its round trips, from its first send
// to its last answer.
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
	echo := flag.String("udp-echo", "", "echo datagrams on this address")
	trips := flag.Int("udp", 0, "UDP round trips to make")
	flag.Parse()
	if *echo != "" {
		if err := udpEcho(*echo); err != nil {
			fmt.Fprintln(os.Stderr, "download:", err)
			os.Exit(1)
		}
		return
	}
	if *trips > 0 && flag.NArg() == 1 {
		ns, err := udpTrips(flag.Arg(0), *trips)
		if err != nil {
			fmt.Fprintln(os.Stderr, "download:", err)
			os.Exit(1)
		}
		fmt.Println(*trips, ns)
		return
	}
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
	c, err := dial("tcp", flag.Arg(0))
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

// udpEcho sends every datagram back to its sender.
func udpEcho(addr string) error {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", c.LocalAddr()) // the script waits for this line
	buf := make([]byte, 2048)
	for {
		k, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		c.WriteTo(buf[:k], from)
	}
}

// udpTrips makes n round trips to the echo server at addr and returns the
// nanoseconds they took.
func udpTrips(addr string, n int) (int64, error) {
	c, err := dial("udp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg, buf := make([]byte, 32), make([]byte, 64)
	start := time.Now()
	for i := range n {
		msg[0] = byte(i)
		if _, err := c.Write(msg); err != nil {
			return 0, err
		}
		for {
			k, err := c.Read(buf)
			if err != nil {
				return 0, err
			}
			if k == len(msg) && buf[0] == byte(i) {
				break // an earlier trip's late answer is skipped
			}
		}
	}
	return time.Since(start).Nanoseconds(), nil
}
