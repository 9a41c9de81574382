// sock_echo exercises the WasmEdge socket extension, declaring its imports
// by hand in one exact shape chosen at compile time:
//
//   -DSHAPE_V1     V1 everywhere: sock_accept(fd,*fd), 7-param recv_from,
//                  4-param getlocaladdr/getpeeraddr, 4/16-byte addresses,
//                  getsockopt with the literal length 4
//   -DSHAPE_V2     V2 everywhere: sock_accept(fd,flags,*fd), 8-param
//                  recv_from, 3-param getlocaladdr/getpeeraddr, 128-byte
//                  addresses, getsockopt with the literal length 4
//   -DSHAPE_MIXED  the popular Rust crate's mix: V1 accept and V1
//                  getlocaladdr/getpeeraddr, V2 recv_from, getsockopt with
//                  a length pointer, 4/16-byte addresses
//
// Unix addresses are always the 128-byte V2 layout (V1 has none).
//
//   sock_echo tcp-server ADDR N          listen on ADDR:0, print "listening PORT",
//                                        echo N connections until EOF ("peer PORT")
//   sock_echo tcp-client ADDR PORT MSG   send MSG, shut down writing, print "got REPLY"
//   sock_echo udp-server ADDR REPLYPORT  echo one datagram; V1 replies to
//                                        REPLYPORT (its recv_from has no port)
//   sock_echo unix-server PATH N         as tcp-server on a Unix stream socket
//   sock_echo unix-client PATH MSG       as tcp-client
//   sock_echo unix-dgram PATH            bind PATH, echo one datagram to its sender
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if !defined(SHAPE_V1) && !defined(SHAPE_V2) && !defined(SHAPE_MIXED)
#error "define SHAPE_V1, SHAPE_V2 or SHAPE_MIXED"
#endif

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

typedef struct {
	uint8_t *buf;
	uint32_t len;
} addr_t;

typedef struct {
	const void *buf;
	uint32_t len;
} iovec_t;

IMPORT("sock_open") int32_t x_sock_open(int32_t af, int32_t type, int32_t *fd);
IMPORT("sock_bind") int32_t x_sock_bind(int32_t fd, addr_t *addr, int32_t port);
IMPORT("sock_connect") int32_t x_sock_connect(int32_t fd, addr_t *addr, int32_t port);
IMPORT("sock_listen") int32_t x_sock_listen(int32_t fd, int32_t backlog);
IMPORT("sock_send") int32_t x_sock_send(int32_t fd, const iovec_t *iovs, int32_t n, int32_t flags, uint32_t *nwritten);
IMPORT("sock_recv") int32_t x_sock_recv(int32_t fd, const iovec_t *iovs, int32_t n, int32_t flags, uint32_t *nread, uint16_t *oflags);
IMPORT("sock_send_to") int32_t x_sock_send_to(int32_t fd, const iovec_t *iovs, int32_t n, addr_t *addr, int32_t port, int32_t flags, uint32_t *nwritten);
IMPORT("sock_shutdown") int32_t x_sock_shutdown(int32_t fd, int32_t how);
IMPORT("sock_setsockopt") int32_t x_sock_setsockopt(int32_t fd, int32_t level, int32_t name, int32_t *val, int32_t len);
IMPORT("sock_getsockopt") int32_t x_sock_getsockopt(int32_t fd, int32_t level, int32_t name, int32_t *val, int32_t len);

#if defined(SHAPE_V2)
IMPORT("sock_accept") int32_t x_sock_accept(int32_t fd, int32_t flags, int32_t *nfd);
IMPORT("sock_getlocaladdr") int32_t x_sock_getlocaladdr(int32_t fd, addr_t *addr, uint32_t *port);
IMPORT("sock_getpeeraddr") int32_t x_sock_getpeeraddr(int32_t fd, addr_t *addr, uint32_t *port);
#define ACCEPT(fd, nfd) x_sock_accept(fd, 0, nfd)
#define LOCALADDR(fd, a, port) x_sock_getlocaladdr(fd, a, port)
#define PEERADDR(fd, a, port) x_sock_getpeeraddr(fd, a, port)
#else
IMPORT("sock_accept") int32_t x_sock_accept(int32_t fd, int32_t *nfd);
IMPORT("sock_getlocaladdr") int32_t x_sock_getlocaladdr(int32_t fd, addr_t *addr, uint32_t *type, uint32_t *port);
IMPORT("sock_getpeeraddr") int32_t x_sock_getpeeraddr(int32_t fd, addr_t *addr, uint32_t *type, uint32_t *port);
static uint32_t addr_type;
#define ACCEPT(fd, nfd) x_sock_accept(fd, nfd)
#define LOCALADDR(fd, a, port) x_sock_getlocaladdr(fd, a, &addr_type, port)
#define PEERADDR(fd, a, port) x_sock_getpeeraddr(fd, a, &addr_type, port)
#endif

#if defined(SHAPE_V1)
IMPORT("sock_recv_from") int32_t x_sock_recv_from(int32_t fd, const iovec_t *iovs, int32_t n, addr_t *addr, int32_t flags, uint32_t *nread, uint16_t *oflags);
#define RECVFROM(fd, iovs, n, a, port, nread, oflags) x_sock_recv_from(fd, iovs, n, a, 0, nread, oflags)
#else
IMPORT("sock_recv_from") int32_t x_sock_recv_from(int32_t fd, const iovec_t *iovs, int32_t n, addr_t *addr, int32_t flags, uint32_t *port, uint32_t *nread, uint16_t *oflags);
#define RECVFROM(fd, iovs, n, a, port, nread, oflags) x_sock_recv_from(fd, iovs, n, a, 0, port, nread, oflags)
#endif

enum { AF_INET4 = 1, AF_INET6 = 2, AF_UNIX = 3 };
enum { SOCK_DGRAM = 1, SOCK_STREAM = 2 };
enum { SO_REUSEADDR = 0, SO_TYPE = 1 };

static void check(int32_t errno_, const char *what) {
	if (errno_ != 0) {
		printf("error %s %d\n", what, errno_);
		exit(1);
	}
}

// Address buffers: V2 128 bytes, V1 4 or 16.
static uint8_t abuf[128];
static addr_t addr = {abuf, 0};

static int family_of(const char *host) { return strchr(host, ':') ? AF_INET6 : AF_INET4; }

// set_ip fills addr with host ("127.0.0.1" style or "::1").
static void set_ip(const char *host) {
	uint8_t ip[16] = {0};
	int n = 4;
	if (family_of(host) == AF_INET6) {
		if (strcmp(host, "::1") != 0) {
			printf("error only ::1 is supported\n");
			exit(2);
		}
		ip[15] = 1;
		n = 16;
	} else {
		unsigned a, b, c, d;
		if (sscanf(host, "%u.%u.%u.%u", &a, &b, &c, &d) != 4) {
			printf("error bad address %s\n", host);
			exit(2);
		}
		ip[0] = a, ip[1] = b, ip[2] = c, ip[3] = d;
	}
	memset(abuf, 0, sizeof abuf);
#if defined(SHAPE_V2)
	abuf[0] = family_of(host);
	memcpy(abuf + 2, ip, n);
	addr.len = 128;
#else
	memcpy(abuf, ip, n);
	addr.len = n;
#endif
}

static void set_path(const char *path) {
	memset(abuf, 0, sizeof abuf);
	abuf[0] = AF_UNIX;
	strncpy((char *)abuf + 2, path, 125);
	addr.len = 128;
}

// out_addr prepares addr to receive an address of the shape's size.
static void out_addr(int unix_) {
	memset(abuf, 0xaa, sizeof abuf);
#if defined(SHAPE_V2)
	addr.len = 128;
#else
	addr.len = unix_ ? 128 : 16;
#endif
}

static int32_t sotype(int32_t fd) {
	int32_t v = -1;
#if defined(SHAPE_MIXED)
	uint32_t len = sizeof v;
	check(x_sock_getsockopt(fd, 0, SO_TYPE, &v, (int32_t)(uintptr_t)&len), "getsockopt");
	if (len != 4) {
		printf("error getsockopt len %u\n", len);
		exit(1);
	}
#else
	check(x_sock_getsockopt(fd, 0, SO_TYPE, &v, 4), "getsockopt");
#endif
	return v;
}

static void send_all(int32_t fd, const char *p, size_t n) {
	while (n > 0) {
		iovec_t iov = {p, n};
		uint32_t w;
		check(x_sock_send(fd, &iov, 1, 0, &w), "send");
		p += w, n -= w;
	}
}

static int32_t open_listener(int af, int32_t backlog) {
	int32_t fd;
	check(x_sock_open(af, SOCK_STREAM, &fd), "open");
	int32_t one = 1;
	if (af != AF_UNIX)
		check(x_sock_setsockopt(fd, 0, SO_REUSEADDR, &one, 4), "setsockopt");
	check(x_sock_bind(fd, &addr, 0), "bind");
	check(x_sock_listen(fd, backlog), "listen");
	printf("sotype %d\n", sotype(fd));
	return fd;
}

static void serve(int32_t lfd, int n, int unix_) {
	for (int i = 0; i < n; i++) {
		int32_t c;
		check(ACCEPT(lfd, &c), "accept");
		uint32_t port = 0;
		out_addr(unix_);
		check(PEERADDR(c, &addr, &port), "getpeeraddr");
		if (!unix_)
			printf("peer %u\n", port);
		char buf[4096];
		for (;;) {
			// Alternate fd_read and sock_recv: both must work on sockets.
			ssize_t r;
			if (i % 2 == 0) {
				r = read(c, buf, sizeof buf);
				if (r < 0) {
					printf("error read\n");
					exit(1);
				}
			} else {
				iovec_t iov = {buf, sizeof buf};
				uint32_t nr;
				uint16_t of;
				check(x_sock_recv(c, &iov, 1, 0, &nr, &of), "recv");
				r = nr;
			}
			if (r == 0)
				break;
			send_all(c, buf, r);
		}
		close(c);
	}
	printf("done\n");
}

static void client(int af, int32_t port, const char *msg) {
	int32_t fd;
	check(x_sock_open(af, SOCK_STREAM, &fd), "open");
	check(x_sock_connect(fd, &addr, port), "connect");
	uint32_t peerport = 0;
	out_addr(af == AF_UNIX);
	check(PEERADDR(fd, &addr, &peerport), "getpeeraddr");
	if (af != AF_UNIX && peerport != (uint32_t)port) {
		printf("error peer port %u\n", peerport);
		exit(1);
	}
	if (write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		printf("error write\n");
		exit(1);
	}
	check(x_sock_shutdown(fd, 2), "shutdown");
	char buf[4096];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
		if (r < 0) {
			printf("error read\n");
			exit(1);
		}
		if (r == 0)
			break;
		got += r;
	}
	buf[got] = 0;
	printf("got %s\n", buf);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	if (strcmp(mode, "tcp-server") == 0 && argc == 4) {
		set_ip(argv[2]);
		int32_t lfd = open_listener(family_of(argv[2]), 64);
		uint32_t port = 0;
		out_addr(0);
		check(LOCALADDR(lfd, &addr, &port), "getlocaladdr");
#if !defined(SHAPE_V2)
		printf("addrtype %u\n", addr_type);
#endif
		printf("listening %u\n", port);
		serve(lfd, atoi(argv[3]), 0);
		return 0;
	}
	if (strcmp(mode, "tcp-client") == 0 && argc == 5) {
		set_ip(argv[2]);
		client(family_of(argv[2]), atoi(argv[3]), argv[4]);
		return 0;
	}
	if (strcmp(mode, "udp-server") == 0 && argc == 4) {
		int32_t fd;
		set_ip(argv[2]);
		check(x_sock_open(family_of(argv[2]), SOCK_DGRAM, &fd), "open");
		check(x_sock_bind(fd, &addr, 0), "bind");
		printf("sotype %d\n", sotype(fd));
		uint32_t port = 0;
		out_addr(0);
		check(LOCALADDR(fd, &addr, &port), "getlocaladdr");
		printf("listening %u\n", port);
		char buf[1500];
		iovec_t iov = {buf, sizeof buf};
		uint32_t nread, from = 0;
		uint16_t oflags;
		out_addr(0);
#if defined(SHAPE_V2)
		addr.len = 128;
#else
		addr.len = family_of(argv[2]) == AF_INET6 ? 16 : 128;
#endif
		check(RECVFROM(fd, &iov, 1, &addr, &from, &nread, &oflags), "recv_from");
#if defined(SHAPE_V1)
		from = atoi(argv[3]);
#else
		printf("from %u\n", from);
#endif
		iovec_t out = {buf, nread};
		uint32_t w;
		check(x_sock_send_to(fd, &out, 1, &addr, from, 0, &w), "send_to");
		printf("echoed %u\n", w);
		return 0;
	}
	if (strcmp(mode, "unix-server") == 0 && argc == 4) {
		set_path(argv[2]);
		int32_t lfd = open_listener(AF_UNIX, 16);
		uint32_t port = 0;
		out_addr(1);
		check(LOCALADDR(lfd, &addr, &port), "getlocaladdr");
		printf("listening %s\n", (char *)abuf + 2);
		serve(lfd, atoi(argv[3]), 1);
		return 0;
	}
	if (strcmp(mode, "unix-client") == 0 && argc == 4) {
		set_path(argv[2]);
		client(AF_UNIX, 0, argv[3]);
		return 0;
	}
	if (strcmp(mode, "unix-dgram") == 0 && argc == 3) {
		int32_t fd;
		set_path(argv[2]);
		check(x_sock_open(AF_UNIX, SOCK_DGRAM, &fd), "open");
		check(x_sock_bind(fd, &addr, 0), "bind");
		printf("sotype %d\n", sotype(fd));
		printf("listening %s\n", argv[2]);
		char buf[1500];
		iovec_t iov = {buf, sizeof buf - 1};
		uint32_t nread, from = 0;
		uint16_t oflags;
		out_addr(1);
		check(RECVFROM(fd, &iov, 1, &addr, &from, &nread, &oflags), "recv_from");
		(void)from;
		buf[nread] = 0;
		printf("got %s from %s\n", buf, (char *)abuf + 2);
		iovec_t out = {buf, nread};
		uint32_t w;
		check(x_sock_send_to(fd, &out, 1, &addr, 0, 0, &w), "send_to");
		printf("echoed %u\n", w);
		return 0;
	}
	printf("error usage\n");
	return 2;
}
