package wasi

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmrun/wasmrun/wasi/internal/sys"
)

// Guest memory for getaddrinfo: the hints at gaiHints, *res at gaiRes, and
// the preallocated list from gaiList, one entry per gaiStride bytes:
// addrinfo at +0, sockaddr at +32, data (26 bytes) at +48, canonname (30
// bytes) at +80.
const (
	gaiNode   = 4000
	gaiSvc    = 4200
	gaiHints  = 4300
	gaiRes    = 4400
	gaiResLen = 4404
	gaiList   = 8192
	gaiStride = 128
)

// prepareList lays out n chained entries as the Go library does.
func (h *harness) prepareList(n int) {
	h.writeU32(gaiRes, gaiList)
	for i := 0; i < n; i++ {
		e := uint32(gaiList + i*gaiStride)
		h.write(e, make([]byte, gaiStride))
		h.writeU32(e+8, 16)    // addrlen (guest's value)
		h.writeU32(e+12, e+32) // addr
		h.writeU32(e+16, e+80) // canonname
		h.writeU32(e+20, 30)   // canonname_len (capacity)
		if i+1 < n {
			h.writeU32(e+24, e+gaiStride) // next
		}
		h.writeU32(e+32+4, 26) // sa_data_len
		h.writeU32(e+32+8, e+48)
	}
}

// gai calls sock_getaddrinfo; node and service are written with a NUL
// counted in the length, as the Go library does.
func (h *harness) gai(node, service string, flags uint16, family sys.Family, st sys.SockType, max uint32) sys.Errno {
	h.t.Helper()
	h.write(gaiNode, append([]byte(node), 0))
	h.write(gaiSvc, append([]byte(service), 0))
	hints := make([]byte, addrinfoSize)
	binary.LittleEndian.PutUint16(hints, flags)
	hints[2], hints[3] = byte(family), byte(st)
	h.write(gaiHints, hints)
	return h.call("sock_getaddrinfo", gaiNode, uint64(len(node)+1), gaiSvc, uint64(len(service)+1), gaiHints, gaiRes, uint64(max), gaiResLen)
}

type gaiResult struct {
	family, socktype byte
	protocol         uint32
	port             uint16
	ip               []byte
	canon            string
}

func (h *harness) gaiResults() []gaiResult {
	var out []gaiResult
	n := h.u32(gaiResLen)
	for i := uint32(0); i < n; i++ {
		e := uint32(gaiList) + i*gaiStride
		ai := h.read(e, addrinfoSize)
		sa := h.read(e+32, sockaddrSize)
		if sa[0] != ai[2] {
			h.t.Errorf("entry %d: sockaddr family %d, addrinfo family %d", i, sa[0], ai[2])
		}
		if got := binary.LittleEndian.Uint32(ai[8:]); got != sockaddrSize {
			h.t.Errorf("entry %d: addrlen %d", i, got)
		}
		ipLen := uint32(4)
		if ai[2] == byte(sys.AFInet6) {
			ipLen = 16
		}
		data := h.read(e+48, 2+ipLen)
		r := gaiResult{family: ai[2], socktype: ai[3], protocol: binary.LittleEndian.Uint32(ai[4:]),
			port: binary.BigEndian.Uint16(data), ip: data[2:]}
		if cl := binary.LittleEndian.Uint32(ai[20:]); cl > 0 {
			r.canon = string(h.read(e+80, cl))
		}
		out = append(out, r)
	}
	return out
}

func TestGetaddrinfoLayout(t *testing.T) {
	h := newHarness(t, Config{})
	h.fill(0xaa)
	h.prepareList(4)
	if errno := h.gai("127.0.0.1", "8080", sys.AINumerichost|sys.AINumericserv, 0, sys.SockStream, 4); errno != 0 {
		t.Fatalf("getaddrinfo = %v", errno)
	}
	if n := h.u32(gaiResLen); n != 1 {
		t.Fatalf("res_len %d, want 1", n)
	}
	// The exact bytes of entry 0: flags untouched (0), family 1, stream 2,
	// protocol TCP 1, addrlen 12, pointers untouched, canonname_len 0.
	e := uint32(gaiList)
	want := make([]byte, addrinfoSize)
	want[2], want[3], want[4], want[8] = 1, 2, 1, 12
	binary.LittleEndian.PutUint32(want[12:], e+32)
	binary.LittleEndian.PutUint32(want[16:], e+80)
	binary.LittleEndian.PutUint32(want[24:], e+gaiStride)
	h.expectMem(e, want)
	h.expectMem(e+32, []byte{1, 0, 0, 0, 26, 0, 0, 0})
	h.expectMem(e+48, []byte{0x1f, 0x90, 127, 0, 0, 1, 0})
	// Entry 1 untouched.
	h.expectMem(e+gaiStride, []byte{0, 0, 0, 0, 0, 0, 0, 0, 16})

	// IPv6: the address at offset 2 of the data.
	h.prepareList(2)
	if errno := h.gai("::1", "53", 0, sys.AFInet6, sys.SockDgram, 2); errno != 0 {
		t.Fatalf("getaddrinfo ::1 = %v", errno)
	}
	h.expectMem(e+2, []byte{2, 1, 2, 0, 0, 0}) // inet6, dgram, UDP
	h.expectMem(e+48, append([]byte{0, 53}, append(make([]byte, 15), 1)...))
}

func TestGetaddrinfo(t *testing.T) {
	hosts := filepath.Join(tempDir(t), "hosts")
	if err := os.WriteFile(hosts, []byte("# test hosts\n127.0.0.9 svc.wasmrun.test svc\n::1 svc.wasmrun.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{Hosts: hosts})
	v4any, v6any := []byte{0, 0, 0, 0}, make([]byte, 16)
	for _, tc := range []struct {
		name          string
		node, service string
		flags         uint16
		family        sys.Family
		st            sys.SockType
		max           uint32
		want          []gaiResult
	}{
		{"passive wildcard", "", "80", sys.AIPassive, 0, sys.SockStream, 8, []gaiResult{
			{1, 2, 1, 80, v4any, ""}, {2, 2, 1, 80, v6any, ""}}},
		{"no node is loopback", "", "80", 0, sys.AFInet4, 0, 8, []gaiResult{
			{1, 2, 1, 80, []byte{127, 0, 0, 1}, ""}, {1, 1, 2, 80, []byte{127, 0, 0, 1}, ""}}},
		{"max_res", "", "80", sys.AIPassive, 0, 0, 3, []gaiResult{
			{1, 2, 1, 80, v4any, ""}, {1, 1, 2, 80, v4any, ""}, {2, 2, 1, 80, v6any, ""}}},
		{"service name", "127.0.0.1", "http", 0, 0, sys.SockStream, 8, []gaiResult{
			{1, 2, 1, 80, []byte{127, 0, 0, 1}, ""}}},
		{"hosts file", "svc.wasmrun.test", "1", 0, 0, sys.SockStream, 8, []gaiResult{
			{1, 2, 1, 1, []byte{127, 0, 0, 9}, ""}, {2, 2, 1, 1, append(make([]byte, 15), 1), ""}}},
		{"hosts file inet6", "svc.wasmrun.test", "1", 0, sys.AFInet6, sys.SockDgram, 8, []gaiResult{
			{2, 1, 2, 1, append(make([]byte, 15), 1), ""}}},
		{"canonname", "svc", "2", sys.AICanonname, sys.AFInet4, sys.SockStream, 8, []gaiResult{
			{1, 2, 1, 2, []byte{127, 0, 0, 9}, "svc"}}},
		{"v4mapped", "127.0.0.1", "3", sys.AIV4mapped, sys.AFInet6, sys.SockStream, 8, []gaiResult{
			{2, 2, 1, 3, append(make([]byte, 10), 0xff, 0xff, 127, 0, 0, 1), ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.fill(0)
			h.prepareList(8)
			if errno := h.gai(tc.node, tc.service, tc.flags, tc.family, tc.st, tc.max); errno != 0 {
				t.Fatalf("getaddrinfo = %v", errno)
			}
			got := h.gaiResults()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d results %+v, want %+v", len(got), got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.family != w.family || g.socktype != w.socktype || g.protocol != w.protocol ||
					g.port != w.port || !bytes.Equal(g.ip, w.ip) || g.canon != w.canon {
					t.Errorf("result %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}

	for _, tc := range []struct {
		name          string
		node, service string
		flags         uint16
		family        sys.Family
		st            sys.SockType
		want          sys.Errno
	}{
		{"nothing", "", "", 0, 0, 0, sys.EAI_NONAME},
		{"numerichost", "svc.wasmrun.test", "80", sys.AINumerichost, 0, 0, sys.EAI_NONAME},
		{"numericserv", "127.0.0.1", "http", sys.AINumericserv, 0, 0, sys.EAI_NONAME},
		{"unknown service", "127.0.0.1", "no-such-service-wasmrun", 0, 0, 0, sys.EAI_SERVICE},
		{"bad flags", "127.0.0.1", "80", 1 << 9, 0, 0, sys.EAI_BADFLAG},
		{"bad family", "127.0.0.1", "80", 0, 7, 0, sys.EAI_FAMILY},
		{"bad socktype", "127.0.0.1", "80", 0, 0, 9, sys.EAI_SOCKTYPE},
		{"family mismatch", "::1", "80", 0, sys.AFInet4, 0, sys.EAI_ADDRFAMILY},
		{"zone", "fe80::1%lo", "80", 0, 0, 0, sys.EAI_NONAME},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.prepareList(2)
			if got := h.gai(tc.node, tc.service, tc.flags, tc.family, tc.st, 2); got != tc.want {
				t.Errorf("getaddrinfo(%q, %q) = %v, want %v", tc.node, tc.service, got, tc.want)
			}
		})
	}
	// max_res 0, and a list whose sockaddr points out of memory.
	h.prepareList(2)
	h.expectErrno(sys.EINVAL, "sock_getaddrinfo", gaiNode, 0, gaiSvc, 3, gaiHints, gaiRes, 0, gaiResLen)
	h.writeU32(gaiList+12, 65530)
	if got := h.gai("127.0.0.1", "80", 0, 0, sys.SockStream, 2); got != sys.EFAULT {
		t.Errorf("bad sockaddr pointer: %v, want EFAULT", got)
	}
}
