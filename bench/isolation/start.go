package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// command is one program of the start-to-exit comparison.
type command struct {
	name string
	argv []string
	wall []time.Duration
	cpu  []time.Duration // user+sys of the process and the children it waited for
}

// runStart times start-to-exit of the commands given as NAME COMMAND pairs
// (COMMAND split on spaces), round-robin, so a changing machine load hits
// every command alike (hyperfine runs one command's runs in a block). Each
// run must print want to stdout. The first command is the baseline of the
// ratios.
func runStart(args []string) error {
	fs := flag.NewFlagSet("isolation start", flag.ContinueOnError)
	runs := fs.Int("runs", 30, "timed runs of each command")
	warmup := fs.Int("warmup", 3, "untimed runs of each command first")
	want := fs.String("want", "hello\n", "what every run must print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 || len(rest)%2 != 0 {
		return errors.New("want NAME COMMAND pairs")
	}
	var cmds []*command
	for i := 0; i < len(rest); i += 2 {
		cmds = append(cmds, &command{name: rest[i], argv: strings.Fields(rest[i+1])})
	}
	for r := range *warmup + *runs {
		for k := range cmds {
			c := cmds[(r+k)%len(cmds)] // rotate who goes first
			wall, cpu, err := c.once(*want)
			if err != nil {
				return err
			}
			if r >= *warmup {
				c.wall = append(c.wall, wall)
				c.cpu = append(c.cpu, cpu)
			}
		}
	}
	base := cmds[0]
	fmt.Println("| command | median | mean | min | CPU (user+sys), mean | median vs run | mean vs run | CPU vs run |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cmds {
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.name,
			ms(median(c.wall)), ms(mean(c.wall)), ms(minimum(c.wall)), ms(mean(c.cpu)),
			ratio(median(c.wall), median(base.wall)), ratio(mean(c.wall), mean(base.wall)),
			ratio(mean(c.cpu), mean(base.cpu)))
	}
	return nil
}

// once runs c and returns its wall-clock and CPU time.
func (c *command) once(want string) (wall, cpu time.Duration, err error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(c.argv[0], c.argv[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err = cmd.Run()
	wall = time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %v: %s", c.name, err, errb.String())
	}
	if out.String() != want {
		return 0, 0, fmt.Errorf("%s printed %q, want %q", c.name, out.String(), want)
	}
	ps := cmd.ProcessState
	return wall, ps.UserTime() + ps.SystemTime(), nil
}

func minimum(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	m := d[0]
	for _, x := range d[1:] {
		m = min(m, x)
	}
	return m
}
