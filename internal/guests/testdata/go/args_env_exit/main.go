// Command args_env_exit prints its arguments and environment, writes a line
// to stderr and exits with the code given as its first argument.
//
//	args_env_exit CODE [ARGS...]
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

func main() {
	fmt.Printf("argc %d\n", len(os.Args))
	for i, a := range os.Args {
		fmt.Printf("arg %d [%s]\n", i, a)
	}
	env := os.Environ()
	sort.Strings(env)
	for _, kv := range env {
		fmt.Printf("env [%s]\n", kv)
	}
	if v, ok := os.LookupEnv("GREETING"); ok {
		fmt.Printf("lookup GREETING [%s]\n", v)
	}
	fmt.Fprintln(os.Stderr, "to stderr")
	code := 0
	if len(os.Args) > 1 {
		var err error
		if code, err = strconv.Atoi(os.Args[1]); err != nil {
			fmt.Fprintf(os.Stderr, "bad exit code %q\n", os.Args[1])
			os.Exit(2)
		}
	}
	os.Exit(code)
}
