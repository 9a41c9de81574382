package main

import (
	"net"
	"strings"
	"testing"
)

func TestParseListen(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"8080", "0.0.0.0:8080", ""},
		{":8080", "0.0.0.0:8080", ""},
		{"127.0.0.1:9", "127.0.0.1:9", ""},
		{"[::1]:80", "[::1]:80", ""},
		{"localhost:0", "localhost:0", ""},
		{"http", "", "not a port number"},
		{"1:2:3", "", "want [HOST:]PORT"},
		{"70000", "", "not a port number"},
	} {
		got, err := parseListen(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseListen(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseListen(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	o, err := parseRun([]string{"--listen", "127.0.0.1:1", "--listen=2", "m.wasm"})
	if err != nil || len(o.listens) != 2 || o.listens[0] != "127.0.0.1:1" || o.listens[1] != "0.0.0.0:2" {
		t.Errorf("parseRun listens = %v, %v", o, err)
	}
}

func TestOpenListeners(t *testing.T) {
	files, err := openListeners([]string{"127.0.0.1:0", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFiles(files)
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	l, err := net.FileListener(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	if _, err := openListeners([]string{taken}); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("listening on %s again: %v", taken, err)
	}
}
