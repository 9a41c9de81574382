package manager

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	taskv3 "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wasmrun/wasmrun/shim/bundlefile"
)

// TestDeleteResponse: the hand-written DeleteResponse decodes, with the
// task API's own v2 and v3 types, to the exit it was made from, for
// zero, large and negative values alike.
func TestDeleteResponse(t *testing.T) {
	for _, e := range []bundlefile.Exit{
		{},
		{Pid: 1234, Status: 0, At: time.Unix(1764820000, 123456789)},
		{Pid: math.MaxInt32, Status: 255, At: time.Unix(1, 0)},
		{Pid: 7, Status: 137, At: time.Unix(-5, 999999999)},
		{Status: 1, At: time.Unix(0, 1)},
	} {
		b := deleteResponse(e)
		var v3 taskv3.DeleteResponse
		if err := proto.Unmarshal(b, &v3); err != nil {
			t.Fatalf("%+v: v3: %v", e, err)
		}
		var v2 taskv2.DeleteResponse
		if err := proto.Unmarshal(b, &v2); err != nil {
			t.Fatalf("%+v: v2: %v", e, err)
		}
		want := &taskv3.DeleteResponse{Pid: uint32(e.Pid), ExitStatus: uint32(e.Status)}
		if !e.At.IsZero() {
			want.ExitedAt = timestamp(e.At)
		}
		if !proto.Equal(&v3, want) {
			t.Errorf("%+v: decoded %v, want %v", e, &v3, want)
		}
		if v2.Pid != v3.Pid || v2.ExitStatus != v3.ExitStatus || v2.ExitedAt.AsTime() != v3.ExitedAt.AsTime() {
			t.Errorf("%+v: v2 %v differs from v3 %v", e, &v2, &v3)
		}
		// The same bytes as the library's marshalling (deterministic).
		lib, err := proto.MarshalOptions{Deterministic: true}.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if string(lib) != string(b) {
			t.Errorf("%+v: %x, the library marshals %x", e, b, lib)
		}
	}
}

// TestDeleteRemoved: the lean delete answers only for a bundle marked
// removed (and then removes the dead server's socket); anything else is
// left, untouched, to the server program's whole cleanup.
func TestDeleteRemoved(t *testing.T) {
	bundle := t.TempDir()
	t.Chdir(bundle)
	sock := filepath.Join(t.TempDir(), "sock")
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // a dead server's socket file
		t.Fatal(err)
	}
	if err := os.WriteFile("address", []byte("unix://"+sock), 0o644); err != nil {
		t.Fatal(err)
	}
	if deleteRemoved("t1") {
		t.Fatal("a bundle without the removal mark was answered")
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the socket went without the mark: %v", err)
	}
	if err := bundlefile.MarkRemoved(bundle); err != nil {
		t.Fatal(err)
	}
	if err := bundlefile.WriteExit(bundle, bundlefile.Exit{Pid: 42, Status: 3, At: time.Unix(100, 5)}); err != nil {
		t.Fatal(err)
	}
	out := captureStdout(t, func() {
		if !deleteRemoved("t1") {
			t.Fatal("a bundle marked removed was not answered")
		}
	})
	var resp taskv3.DeleteResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Pid != 42 || resp.ExitStatus != 3 || resp.ExitedAt.AsTime() != time.Unix(100, 5).UTC() {
		t.Errorf("response %v, want pid 42, status 3 at 100.000000005", &resp)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the dead server's socket is still there: %v", err)
	}
	// A new task in the bundle takes the mark away.
	if err := bundlefile.ClearRemoved(bundle); err != nil {
		t.Fatal(err)
	}
	if deleteRemoved("t1") {
		t.Error("answered after the mark was cleared")
	}
}

func captureStdout(t *testing.T, f func()) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b := make([]byte, 0, 256)
		buf := make([]byte, 256)
		for {
			n, err := r.Read(buf)
			b = append(b, buf[:n]...)
			if err != nil {
				done <- b
				return
			}
		}
	}()
	defer func() { os.Stdout = stdout }()
	f()
	w.Close()
	return <-done
}

func timestamp(at time.Time) *timestamppb.Timestamp { return timestamppb.New(at) }

// TestSocketAddress: the address of a group's server is the one
// containerd's shim library (CreateSocketAddress) gives, so that a server
// started by an earlier version of the shim, which used the library, is
// found after an upgrade.
func TestSocketAddress(t *testing.T) {
	for _, tc := range []struct{ dir, grpc, ns, group string }{
		{"/run/containerd/s", "/run/containerd/containerd.sock", "k8s.io", "abc123"},
		{"/tmp/s", "/tmp/c.sock", "default", "pod-1"},
	} {
		ctx := namespaces.WithNamespace(context.Background(), tc.ns)
		want, err := shim.CreateSocketAddress(ctx, tc.dir, tc.grpc, tc.group, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := socketAddress(tc.dir, tc.grpc, tc.ns, tc.group); got != want {
			t.Errorf("socketAddress %q, containerd's shim library %q", got, want)
		}
	}
}
