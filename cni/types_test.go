package cni

import (
	"errors"
	"strings"
	"testing"
)

func TestParseForward(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Forward
		str  string
	}{
		{"8080:3000", Forward{HostPort: 8080, GuestPort: 3000}, "8080:3000/tcp"},
		{"127.0.0.1:8080:3000/tcp", Forward{HostIP: "127.0.0.1", HostPort: 8080, GuestPort: 3000, Protocol: "tcp"}, "127.0.0.1:8080:3000/tcp"},
		{"5353:53/UDP", Forward{HostPort: 5353, GuestPort: 53, Protocol: "udp"}, "5353:53/udp"},
		{"[::1]:8080:80", Forward{HostIP: "::1", HostPort: 8080, GuestPort: 80}, "[::1]:8080:80/tcp"},
		{"[::ffff:127.0.0.1]:8080:80", Forward{HostIP: "127.0.0.1", HostPort: 8080, GuestPort: 80}, "127.0.0.1:8080:80/tcp"},
	} {
		got, err := ParseForward(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseForward(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		if got.String() != c.str {
			t.Errorf("String() = %q, want %q", got.String(), c.str)
		}
		if again, err := ParseForward(got.String()); err != nil || again.String() != c.str {
			t.Errorf("round trip of %q: %+v, %v", c.str, again, err)
		}
	}
	for _, c := range []struct{ in, reason string }{
		{"8080", "want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]"},
		{"a:b:c:d", "want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]"},
		{"70000:80", "host port 70000 is not a port (1-65535)"},
		{"80:x", `guest port "x" is not a port (1-65535)`},
		{":80", `host port "" is not a port (1-65535)`},
		{"80:0", "guest port 0 is not a port (1-65535)"},
		{"80:80/sctp", `protocol "sctp": want tcp or udp`},
		{"nope:80:80", `host address "nope" is not an IP address`},
		{"[::1:80:80", "unterminated [HOSTIP]"},
	} {
		// The error names the text given once, and says what is wrong.
		_, err := ParseForward(c.in)
		var fe *ForwardError
		if !errors.As(err, &fe) || fe.Forward != c.in || fe.Reason != c.reason {
			t.Errorf("ParseForward(%q) = %#v, want a ForwardError with reason %q", c.in, err, c.reason)
			continue
		}
		if want := "forward " + c.in + ": " + c.reason; err.Error() != want {
			t.Errorf("ParseForward(%q): %q, want %q", c.in, err, want)
		}
	}
}

func TestValidateForward(t *testing.T) {
	err := Forward{HostPort: 80, GuestPort: 0}.Validate()
	var fe *ForwardError
	if !errors.As(err, &fe) || fe.Forward != "80:0/tcp" || !strings.Contains(err.Error(), "guest port 0 is not a port") {
		t.Errorf("Validate = %v", err)
	}
	if err := (Forward{HostPort: 0, GuestPort: 80}).Validate(); err != nil {
		t.Errorf("host port 0 (the userspace forwarder picks one): %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, c := range []struct {
		cfg     Config
		errPart string
	}{
		{Config{Prefix: "a/b"}, "prefix"},
		{Config{Bridge: BridgeConfig{Subnet: "10.0.0.0"}}, "subnet"},
		{Config{Bridge: BridgeConfig{Name: "averyveryverylongname"}}, "bridge name"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.errPart) {
			t.Errorf("New(%+v) = %v, want error with %q", c.cfg, err, c.errPart)
		}
	}
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config()
	if c.Prefix != "wasmrun" || c.NetnsDir != "/run/netns" || c.Bridge.Subnet != "10.231.0.0/16" || c.Bridge.Name != "wasmrun0" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestValidateForwards(t *testing.T) {
	fw := func(s string) Forward {
		f, err := ParseForward(s)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, c := range []struct {
		fwds []string
		ok   bool
	}{
		{[]string{"8080:80", "8081:80"}, true},
		{[]string{"8080:80", "8080:80/udp"}, true},
		{[]string{"127.0.0.1:8080:80", "127.0.0.2:8080:80"}, true},
		{[]string{"0.0.0.0:8080:80", "[::1]:8080:80"}, true},
		{[]string{"8080:80", "8080:81"}, false},
		{[]string{"127.0.0.1:8080:80", "8080:81"}, false},
		{[]string{"0.0.0.0:8080:80", "127.0.0.1:8080:81"}, false},
		{[]string{"[::]:8080:80", "127.0.0.1:8080:81"}, false},
		{[]string{"[::1]:8080:80", "[::1]:8080:81"}, false},
		{[]string{"[::ffff:127.0.0.1]:8080:80", "127.0.0.1:8080:81"}, false},
	} {
		var fs []Forward
		for _, s := range c.fwds {
			fs = append(fs, fw(s))
		}
		err := ValidateForwards(fs)
		if (err == nil) != c.ok {
			t.Errorf("ValidateForwards(%v) = %v, want ok %v", c.fwds, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "both claim host port 8080/tcp") {
			t.Errorf("ValidateForwards(%v): %v", c.fwds, err)
		}
	}
}

// A bridge subnet is a private unicast network with room for a gateway and
// a namespace.
func TestCheckSubnet(t *testing.T) {
	for _, c := range []struct {
		subnet string
		ok     bool
	}{
		{"10.231.0.0/16", true},
		{"172.20.0.0/24", true},
		{"192.168.77.0/24", true},
		{"fd00:1::/64", true},
		{"10.0.0.0/8", true},
		{"127.0.0.0/8", false},
		{"169.254.0.0/16", false},
		{"224.0.0.0/4", false},
		{"8.8.8.0/24", false},
		{"0.0.0.0/0", false},
		{"10.0.0.0/7", false},
		{"10.1.2.0/31", false},
		{"fe80::/64", false},
		{"ff02::/16", false},
		{"10.1.2.3/24", false},
	} {
		if err := checkSubnet(c.subnet); (err == nil) != c.ok {
			t.Errorf("checkSubnet(%q) = %v, want ok %v", c.subnet, err, c.ok)
		}
	}
}
