package sys

import (
	"net"
	"runtime"
	"strings"
	"testing"
)

// listenUDP4 is net.ListenPacket("udp4", "127.0.0.1:0"). Go's own UDP
// sockets do not work under Wine 8 (its Winsock refuses the
// SIO_UDP_CONNRESET ioctl Go makes on each one): the test is skipped there.
func listenUDP4(t *testing.T) (net.PacketConn, error) {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil && runtime.GOOS == "windows" && strings.Contains(err.Error(), "wsaioctl") {
		t.Skipf("Go's UDP sockets under Wine: %v", err)
	}
	return pc, err
}
