package procnet

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Simulated is the container process's side of simulated isolation: it
// has no namespace of its own, and its guest gets a port space of its own
// on the host's loopback (wasi.VirtualPorts), which it publishes on
// PortsFD (WritePorts) for `ps`. The creator's forwarder reaches those
// ports by asking the process to dial them (Child.DialFD, with
// Child.Dial translating the port).
type Simulated struct {
	// Blocked are never reached unless an allow entry names them: the
	// host's own addresses and its bridges' subnets (loopback is the
	// app's own port space).
	Blocked []netip.Prefix `json:"blocked"`
	// Subnet is the bridge subnet whose addresses are blocked too; the
	// process, which lives in the host's namespace, keeps Blocked current
	// with the host's addresses from it (HostBlocked).
	Subnet string `json:"subnet,omitempty"`
	// PortsFD is a file (a memfd of the creator's) the process keeps its
	// port table in.
	PortsFD int `json:"ports_fd"`
	// Offline: no outbound traffic, name queries included (Blocked then
	// holds every address).
	Offline bool `json:"offline,omitempty"`
}

// Port is one of an app's ports: its Proto port Port is the host socket at
// Host.
type Port struct {
	Proto string
	Port  uint16
	Host  netip.AddrPort
}

// String is "8080/tcp=127.0.0.1:41234".
func (p Port) String() string { return fmt.Sprintf("%d/%s=%s", p.Port, p.Proto, p.Host) }

// portsEnd ends a complete table: a reader racing the writer ignores what
// follows it (the tail of a longer table before the truncate).
const portsEnd = "end\n"

// WritePorts replaces the table in f: "PROTO PORT HOST:PORT" lines and
// portsEnd, written over the old table, then truncated to size.
func WritePorts(f *os.File, ports []Port) error {
	var b bytes.Buffer
	for _, p := range ports {
		fmt.Fprintf(&b, "%s %d %s\n", p.Proto, p.Port, p.Host)
	}
	b.WriteString(portsEnd)
	if _, err := f.WriteAt(b.Bytes(), 0); err != nil {
		return err
	}
	return f.Truncate(int64(b.Len()))
}

// maxPorts bounds a port table's size: its process may be the guest's,
// should it get out of the sandbox, and ReadPorts runs in `wasmrun ps`.
const maxPorts = 1 << 20

// ReadPorts reads the table WritePorts keeps at path (a process's
// /proc/PID/fd/N): nil for none yet. What is there is the process's to
// choose, so only a regular file (the memfd it was given) is read, without
// waiting (a pipe or FIFO put there instead is refused, not waited on),
// and at most maxPorts bytes of it.
func ReadPorts(path string) ([]Port, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read ports %s: not a port table", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPorts+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPorts {
		return nil, fmt.Errorf("read ports %s: a table over %d bytes", path, maxPorts)
	}
	var out []Port
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if s.Text()+"\n" == portsEnd {
			return out, nil
		}
		f := strings.Fields(s.Text())
		if len(f) != 3 {
			break
		}
		port, err1 := strconv.ParseUint(f[1], 10, 16)
		host, err2 := netip.ParseAddrPort(f[2])
		if err1 != nil || err2 != nil {
			break
		}
		out = append(out, Port{Proto: f[0], Port: uint16(port), Host: host})
	}
	if len(b) == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("read ports %s: not a complete table", path)
}
