// Command table renders hyperfine's --export-json results as the start-up
// table of bench/README.md: wall-clock mean ± stddev, median and min, CPU
// time (user+sys), and ratios of the means against the native program and
// against wazero's CLI with a warm cache. On a busy machine the CPU time is
// the steadier number, so its ratio to wazero's CLI is given too.
//
//	go run ./bench/table RESULTS.json
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// results is the part of hyperfine's JSON export we use (times in seconds).
type results struct {
	Results []struct {
		Command string    `json:"command"`
		Mean    float64   `json:"mean"`
		Stddev  float64   `json:"stddev"`
		Median  float64   `json:"median"`
		Min     float64   `json:"min"`
		User    float64   `json:"user"`
		System  float64   `json:"system"`
		Times   []float64 `json:"times"`
	} `json:"results"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: table RESULTS.json")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "table: %v\n", err)
		os.Exit(1)
	}
}

func run(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r results
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	// hyperfine names each command with -n; the baselines are found by name.
	var native, wazero, wazeroCPU float64
	for _, c := range r.Results {
		switch {
		case c.Command == "native":
			native = c.Mean
		case strings.HasPrefix(c.Command, "wazero run") && strings.Contains(c.Command, "warm"):
			wazero, wazeroCPU = c.Mean, c.User+c.System
		}
	}
	ratio := func(x, base float64) string {
		if base == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", x/base)
	}
	fmt.Println("| command | mean ± σ | median | min | CPU (user+sys) | mean vs native | mean vs wazero warm | CPU vs wazero warm |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range r.Results {
		cpu := c.User + c.System
		fmt.Printf("| %s | %.1f ms ± %.1f | %.1f ms | %.1f ms | %.1f ms | %s | %s | %s |\n",
			c.Command, c.Mean*1e3, c.Stddev*1e3, c.Median*1e3, c.Min*1e3, cpu*1e3,
			ratio(c.Mean, native), ratio(c.Mean, wazero), ratio(cpu, wazeroCPU))
	}
	return nil
}
