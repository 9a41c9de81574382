// egress_attack tries to get around the host's egress policy with the raw
// socket-extension imports. Its arguments are a list of steps, run in
// order; each prints one line (errno is the WASI errno, 0 on success):
//
//   listen ADDR PORT          TCP listener (kept open)  "listen ADDR PORT errno N"
//   udp-listen ADDR PORT      UDP receiver (kept open)  "udp-listen ADDR PORT errno N"
//   connect V1|V2 ADDR PORT   TCP connect on a fresh socket, with a V1
//                             (4/16-byte) or V2 (128-byte) address
//                                                       "connect V ADDR PORT errno N"
//   sendto V1|V2 ADDR PORT    one UDP datagram from a fresh socket
//                                                       "sendto V ADDR PORT errno N"
//   bsendto V1|V2 ADDR PORT   the same with SO_BROADCAST set on it first
//                                                       "bsendto V ADDR PORT errno N"
//   received                  datagrams waiting at the UDP receivers
//                                                       "received N"
//   resolve NAME              sock_getaddrinfo NAME (any family, stream)
//                                                       "resolve NAME errno N"
//   wait                      print "ready", then read a line from stdin
//   setopt bindtodevice DEV   SO_BINDTODEVICE on one UDP socket (shared by
//   setopt dontroute N        the *opt steps); "setopt NAME VALUE errno N"
//   getopt bindtodevice|dontroute
//                             "getopt NAME errno N value V"
//   flood ADDR PORT MS        UDP datagrams of 1 byte to ADDR PORT from one
//                             socket, as fast as it can, for MS
//                             milliseconds: "flooding", then
//                             "flood ADDR PORT sent N errno E" (E: the
//                             first failed send's, 0 if none failed)
//
// A socket's family is the address's: IPv6 (including ::ffff:a.b.c.d) when
// ADDR has a colon.
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
IMPORT("sock_send_to") int32_t x_sock_send_to(int32_t fd, const iovec_t *iovs, int32_t n, addr_t *addr, int32_t port, int32_t flags, uint32_t *nwritten);
IMPORT("sock_recv") int32_t x_sock_recv(int32_t fd, const iovec_t *iovs, int32_t n, int32_t flags, uint32_t *nread, uint16_t *oflags);
IMPORT("sock_getaddrinfo") int32_t x_sock_getaddrinfo(const char *node, uint32_t node_len, const char *svc, uint32_t svc_len, const void *hints, void *res, uint32_t max_res, uint32_t *res_len);
IMPORT("sock_setsockopt") int32_t x_sock_setsockopt(int32_t fd, int32_t level, int32_t name, void *val, int32_t len);
IMPORT("sock_getsockopt") int32_t x_sock_getsockopt(int32_t fd, int32_t level, int32_t name, void *val, int32_t len);

// The extension's families (wasi-libc's AF_INET/AF_INET6 are for inet_pton).
enum { X_INET4 = 1, X_INET6 = 2 };
enum { X_DGRAM = 1, X_STREAM = 2 };
enum { SO_REUSEADDR = 0, X_SO_DONTROUTE = 3, X_SO_BROADCAST = 4, X_SO_BINDTODEVICE = 14 };

static uint8_t abuf[128];
static addr_t addr = {abuf, 0};

static int family_of(const char *host) { return strchr(host, ':') ? X_INET6 : X_INET4; }

// set_addr fills addr with host in the V1 (4 or 16 bytes) or V2 (128
// bytes) layout.
static void set_addr(const char *host, int v2) {
	uint8_t ip[16];
	int af = family_of(host), n = af == X_INET6 ? 16 : 4;
	if (inet_pton(af == X_INET6 ? AF_INET6 : AF_INET, host, ip) != 1) {
		printf("error bad address %s\n", host);
		exit(2);
	}
	memset(abuf, 0, sizeof abuf);
	if (v2) {
		abuf[0] = af;
		memcpy(abuf + 2, ip, n);
		addr.len = 128;
	} else {
		memcpy(abuf, ip, n);
		addr.len = n;
	}
}

static int32_t open_socket(const char *host, int type, int32_t *fd) {
	return x_sock_open(family_of(host), type, fd);
}

static int32_t receivers[16];
static int nreceivers;

static int32_t do_listen(const char *host, int port, int type) {
	int32_t fd, one = 1, e;
	if ((e = open_socket(host, type, &fd)) != 0)
		return e;
	x_sock_setsockopt(fd, 0, SO_REUSEADDR, &one, 4);
	set_addr(host, 1);
	if ((e = x_sock_bind(fd, &addr, port)) != 0)
		return e;
	if (type == X_STREAM)
		return x_sock_listen(fd, 16);
	if (nreceivers < 16)
		receivers[nreceivers++] = fd;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static int32_t do_connect(const char *v, const char *host, int port) {
	int32_t fd, e;
	if ((e = open_socket(host, X_STREAM, &fd)) != 0)
		return e;
	set_addr(host, strcmp(v, "V2") == 0);
	e = x_sock_connect(fd, &addr, port);
	close(fd);
	return e;
}

static int32_t do_sendto(const char *v, const char *host, int port, int broadcast) {
	int32_t fd, e, one = 1;
	if ((e = open_socket(host, X_DGRAM, &fd)) != 0)
		return e;
	if (broadcast && (e = x_sock_setsockopt(fd, 0, X_SO_BROADCAST, &one, 4)) != 0) {
		close(fd);
		return e;
	}
	set_addr(host, strcmp(v, "V2") == 0);
	iovec_t iov = {"x", 1};
	uint32_t n;
	e = x_sock_send_to(fd, &iov, 1, &addr, port, 0, &n);
	close(fd);
	return e;
}

// do_flood sends datagrams to host:port for ms milliseconds and returns
// how many went; *err is the first failed send's errno.
static long do_flood(const char *host, int port, long ms, int32_t *err) {
	int32_t fd;
	*err = 0;
	if ((*err = open_socket(host, X_DGRAM, &fd)) != 0)
		return 0;
	set_addr(host, 0);
	printf("flooding\n");
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sent = 0;
	iovec_t iov = {"x", 1};
	for (;;) {
		for (int i = 0; i < 256; i++) {
			uint32_t n;
			int32_t e = x_sock_send_to(fd, &iov, 1, &addr, port, 0, &n);
			if (e == 0)
				sent++;
			else if (*err == 0)
				*err = e;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			break;
	}
	close(fd);
	return sent;
}

// received counts the datagrams queued at the receivers. A datagram sent
// over loopback is queued before sendto returns, so none is still on its
// way.
static int received(void) {
	int total = 0;
	for (int i = 0; i < nreceivers; i++) {
		for (;;) {
			char buf[16];
			iovec_t iov = {buf, sizeof buf};
			uint32_t nr;
			uint16_t of;
			if (x_sock_recv(receivers[i], &iov, 1, 0, &nr, &of) != 0)
				break;
			total++;
		}
	}
	return total;
}

// The wasm32 addrinfo and sockaddr of sock_getaddrinfo.
typedef struct {
	uint16_t flags;
	uint8_t family, socktype;
	uint32_t protocol, addrlen;
	uint32_t addr, canonname, canonname_len, next;
} x_addrinfo;

typedef struct {
	uint8_t family;
	uint32_t data_len, data;
} x_sockaddr;

static int32_t do_resolve(const char *name) {
	enum { N = 4 };
	static x_addrinfo ais[N];
	static x_sockaddr sas[N];
	static uint8_t data[N][26];
	static char canon[N][64];
	for (int i = 0; i < N; i++) {
		memset(&ais[i], 0, sizeof ais[i]);
		ais[i].addr = (uint32_t)(uintptr_t)&sas[i];
		ais[i].canonname = (uint32_t)(uintptr_t)canon[i];
		ais[i].canonname_len = sizeof canon[i];
		ais[i].next = i + 1 < N ? (uint32_t)(uintptr_t)&ais[i + 1] : 0;
		sas[i].data_len = sizeof data[i];
		sas[i].data = (uint32_t)(uintptr_t)data[i];
	}
	x_addrinfo hints = {.socktype = X_STREAM};
	uint32_t first = (uint32_t)(uintptr_t)&ais[0], n = 0;
	return x_sock_getaddrinfo(name, strlen(name), "80", 2, &hints, &first, N, &n);
}

static int32_t optfd = -1;

static int opt_name(const char *name) {
	if (strcmp(name, "bindtodevice") == 0)
		return X_SO_BINDTODEVICE;
	if (strcmp(name, "dontroute") == 0)
		return X_SO_DONTROUTE;
	printf("error bad option %s\n", name);
	exit(2);
}

static int32_t do_setopt(const char *name, const char *value) {
	int opt = opt_name(name);
	if (optfd < 0 && x_sock_open(X_INET4, X_DGRAM, &optfd) != 0)
		return -1;
	if (opt == X_SO_BINDTODEVICE)
		return x_sock_setsockopt(optfd, 0, opt, (void *)value, strlen(value));
	int32_t v = atoi(value);
	return x_sock_setsockopt(optfd, 0, opt, &v, 4);
}

static void do_getopt(const char *name) {
	int opt = opt_name(name);
	if (optfd < 0 && x_sock_open(X_INET4, X_DGRAM, &optfd) != 0) {
		printf("error open\n");
		exit(1);
	}
	// The length travels by pointer (the WasmEdge/Rust shape), so a
	// device name of any length comes back with its length.
	char buf[32] = {0};
	uint32_t len = sizeof buf - 1;
	int32_t e = x_sock_getsockopt(optfd, 0, opt, buf, (int32_t)(uintptr_t)&len);
	if (opt == X_SO_BINDTODEVICE)
		printf("getopt %s errno %d value \"%.*s\"\n", name, e, e == 0 ? (int)len : 0, buf);
	else
		printf("getopt %s errno %d value %d\n", name, e, *(int32_t *)buf);
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc;) {
		const char *step = argv[i];
		int left = argc - i - 1;
		if ((strcmp(step, "listen") == 0 || strcmp(step, "udp-listen") == 0) && left >= 2) {
			int type = step[0] == 'u' ? X_DGRAM : X_STREAM;
			printf("%s %s %s errno %d\n", step, argv[i + 1], argv[i + 2], do_listen(argv[i + 1], atoi(argv[i + 2]), type));
			i += 3;
		} else if (strcmp(step, "connect") == 0 && left >= 3) {
			printf("connect %s %s %s errno %d\n", argv[i + 1], argv[i + 2], argv[i + 3], do_connect(argv[i + 1], argv[i + 2], atoi(argv[i + 3])));
			i += 4;
		} else if ((strcmp(step, "sendto") == 0 || strcmp(step, "bsendto") == 0) && left >= 3) {
			printf("%s %s %s %s errno %d\n", step, argv[i + 1], argv[i + 2], argv[i + 3], do_sendto(argv[i + 1], argv[i + 2], atoi(argv[i + 3]), step[0] == 'b'));
			i += 4;
		} else if (strcmp(step, "flood") == 0 && left >= 3) {
			int32_t e;
			long n = do_flood(argv[i + 1], atoi(argv[i + 2]), atol(argv[i + 3]), &e);
			printf("flood %s %s sent %ld errno %d\n", argv[i + 1], argv[i + 2], n, e);
			i += 4;
		} else if (strcmp(step, "resolve") == 0 && left >= 1) {
			printf("resolve %s errno %d\n", argv[i + 1], do_resolve(argv[i + 1]));
			i += 2;
		} else if (strcmp(step, "wait") == 0) {
			printf("ready\n");
			char line[64];
			if (!fgets(line, sizeof line, stdin)) {
				printf("error stdin closed\n");
				return 1;
			}
			i++;
		} else if (strcmp(step, "setopt") == 0 && left >= 2) {
			printf("setopt %s %s errno %d\n", argv[i + 1], argv[i + 2], do_setopt(argv[i + 1], argv[i + 2]));
			i += 3;
		} else if (strcmp(step, "getopt") == 0 && left >= 1) {
			do_getopt(argv[i + 1]);
			i += 2;
		} else if (strcmp(step, "received") == 0) {
			printf("received %d\n", received());
			i++;
		} else {
			printf("error bad step %s\n", step);
			return 2;
		}
	}
	return 0;
}
