package runner

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// The names --trace writes for WASI preview1's values (the spec's
// witx) and the WasmEdge socket extension's (wasi/sock.go,
// wasi/sock_addr.go); errnos are the wasi package's (wasi.ErrnoName).

// Flags, bit i named names[i].
var (
	lookupflagNames = []string{"SYMLINK_FOLLOW"}
	fdflagNames     = []string{"APPEND", "DSYNC", "NONBLOCK", "RSYNC", "SYNC"}
	oflagNames      = []string{"CREAT", "DIRECTORY", "EXCL", "TRUNC"}
	fstflagNames    = []string{"ATIM", "ATIM_NOW", "MTIM", "MTIM_NOW"}
	riflagNames     = []string{"RECV_PEEK", "RECV_WAITALL"}
	roflagNames     = []string{"RECV_DATA_TRUNCATED"}
	sdflagNames     = []string{"RD", "WR"}
)

// Enums, value i named names[i].
var (
	whenceNames   = []string{"SET", "CUR", "END"}
	adviceNames   = []string{"NORMAL", "SEQUENTIAL", "RANDOM", "WILLNEED", "DONTNEED", "NOREUSE"}
	clockNames    = []string{"realtime", "monotonic", "process_cputime", "thread_cputime"}
	familyNames   = []string{"UNSPEC", "INET4", "INET6", "UNIX"}
	socktypeNames = []string{"ANY", "DGRAM", "STREAM"}
	filetypeNames = []string{"UNKNOWN", "BLOCK_DEVICE", "CHARACTER_DEVICE", "DIRECTORY",
		"REGULAR_FILE", "SOCKET_DGRAM", "SOCKET_STREAM", "SYMBOLIC_LINK"}
	sockoptNames = []string{"SO_REUSEADDR", "SO_TYPE", "SO_ERROR", "SO_DONTROUTE",
		"SO_BROADCAST", "SO_SNDBUF", "SO_RCVBUF", "SO_KEEPALIVE", "SO_OOBINLINE",
		"SO_LINGER", "SO_RCVLOWAT", "SO_RCVTIMEO", "SO_SNDTIMEO", "SO_ACCEPTCONN",
		"SO_BINDTODEVICE"}
)

// bitNames writes a flag set as NAME|NAME, "0" for none, and bits without
// a name as a hex remainder.
func bitNames(names []string) func(uint64) string {
	return func(v uint64) string {
		if v == 0 {
			return "0"
		}
		var parts []string
		for i, n := range names {
			if v&(1<<i) != 0 {
				parts = append(parts, n)
				v &^= 1 << i
			}
		}
		if v != 0 {
			parts = append(parts, "0x"+strconv.FormatUint(v, 16))
		}
		return strings.Join(parts, "|")
	}
}

// enumNames writes a value by its name, or as a number when it has none.
func enumNames(names []string) func(uint64) string {
	return func(v uint64) string {
		if v < uint64(len(names)) {
			return names[v]
		}
		return strconv.FormatUint(v, 10)
	}
}

// appendSockAddr writes the socket extension's address struct at ptr
// ({u32 buf, u32 buf_len}; the buffer of 4, 16 or 128 bytes as
// wasi/sock_addr.go describes) with port, as 1.2.3.4:80, [::1]:80 or a
// Unix path. addrType is a V1 output's address type (4: IPv4 in the first
// bytes of a 16-byte buffer).
func appendSockAddr(b []byte, mem api.Memory, ptr, port uint32, withPort bool, addrType uint32) []byte {
	hdr, ok := mem.Read(ptr, 8)
	if !ok {
		return append(b, "<bad pointer>"...)
	}
	buf, ok := mem.Read(le32(hdr), le32(hdr[4:]))
	if !ok {
		return append(b, "<bad pointer>"...)
	}
	var ip netip.Addr
	switch {
	case len(buf) == 4 || (len(buf) == 16 && addrType == 4):
		ip = netip.AddrFrom4([4]byte(buf[:4]))
	case len(buf) == 16:
		ip = netip.AddrFrom16([16]byte(buf))
	case len(buf) == 128 && le16(buf) == 1:
		ip = netip.AddrFrom4([4]byte(buf[2:6]))
	case len(buf) == 128 && le16(buf) == 2:
		ip = netip.AddrFrom16([16]byte(buf[2:18]))
	case len(buf) == 128 && le16(buf) == 3:
		path, _, _ := strings.Cut(string(buf[2:]), "\x00")
		return strconv.AppendQuote(b, path)
	case len(buf) == 128:
		return append(b, "<family "+strconv.Itoa(int(le16(buf)))+">"...)
	default:
		return append(b, "<"+strconv.Itoa(len(buf))+"-byte address>"...)
	}
	if !withPort {
		return append(b, ip.String()...)
	}
	return append(b, netip.AddrPortFrom(ip, uint16(port)).String()...)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
