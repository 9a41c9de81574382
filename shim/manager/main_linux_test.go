package manager

import (
	"testing"

	bootapi "github.com/containerd/containerd/api/runtime/bootstrap/v1"
	"github.com/containerd/containerd/v2/pkg/protobuf/proto"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want args
	}{
		{[]string{"-namespace", "default", "-address", "/run/c.sock", "-publish-binary", "/usr/bin/containerd", "-id", "abc", "start"},
			args{action: "start", id: "abc", namespace: "default", address: "/run/c.sock", publishBinary: "/usr/bin/containerd"}},
		{[]string{"-namespace", "k8s.io", "-id", "x", "-bundle", "/b", "-debug", "delete"},
			args{action: "delete", id: "x", namespace: "k8s.io", debug: true}},
		{[]string{"--id=x", "--namespace=n", "-debug=false", "start"}, args{action: "start", id: "x", namespace: "n"}},
		{[]string{"-info"}, args{}},
		{[]string{"-v"}, args{version: true}},
		{[]string{"--version"}, args{version: true}},
		{[]string{"-namespace", "n", "-id", "x", "-address", "a"}, args{id: "x", namespace: "n", address: "a"}},
	} {
		if got := parseArgs(tc.argv); got != tc.want {
			t.Errorf("parseArgs(%q) = %+v, want %+v", tc.argv, got, tc.want)
		}
	}
}

func TestBootstrapParams(t *testing.T) {
	params, err := proto.Marshal(&bootapi.BootstrapParams{InstanceID: "id1", Namespace: "ns"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		input     []byte
		id, ns    string
		bootstrap bool
	}{
		{"params", params, "id1", "ns", true},
		{"other id", params, "id2", "ns", false},
		{"other namespace", params, "id1", "default", false},
		{"empty stdin (containerd 1.6 without options)", nil, "id1", "ns", false},
		{"not protobuf", []byte{0xff, 0xff, 0xff}, "id1", "ns", false},
	} {
		if _, got := bootstrapParams(tc.input, tc.id, tc.ns); got != tc.bootstrap {
			t.Errorf("%s: bootstrapParams ok = %v, want %v", tc.name, got, tc.bootstrap)
		}
	}
}
