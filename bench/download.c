// download: the C download client of bench/isolation.sh. It connects to
// ADDR PORT (IPv4), reads to EOF in 8 KiB reads (as Go's io.Copy into
// io.Discard does) and prints "BYTES NANOSECONDS": what it read and how
// long that took from just before its connect to EOF.
//
// The same source is built natively (clang-14 -O2) and as a wasm32-wasi
// guest (clang-14 --target=wasm32-wasi -O2), where the socket comes from
// the WasmEdge socket extension's sock_open and sock_connect; both then
// read(2) it (fd_read in the guest).
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __wasi__
#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))
typedef struct {
	uint8_t *buf;
	uint32_t len;
} addr_t;
IMPORT("sock_open") int32_t x_sock_open(int32_t af, int32_t type, int32_t *fd);
IMPORT("sock_connect") int32_t x_sock_connect(int32_t fd, addr_t *addr, int32_t port);

static int dial(const uint8_t ip[4], int port) {
	int32_t fd;
	uint8_t b[4];
	memcpy(b, ip, 4);
	addr_t a = {b, 4};
	if (x_sock_open(1 /* inet4 */, 2 /* stream */, &fd) != 0 || x_sock_connect(fd, &a, port) != 0)
		return -1;
	return fd;
}
#else
#include <sys/socket.h>

static int dial(const uint8_t ip[4], int port) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	memcpy(&sa.sin_addr, ip, 4);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		return -1;
	return fd;
}
#endif

static int64_t now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	uint8_t ip[4];
	if (argc != 3 || inet_pton(AF_INET, argv[1], ip) != 1) {
		fprintf(stderr, "usage: download IPV4 PORT\n");
		return 2;
	}
	int64_t start = now();
	int fd = dial(ip, atoi(argv[2]));
	if (fd < 0) {
		perror("download: connect");
		return 1;
	}
	static char buf[8192];
	long long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			perror("download: read");
			return 1;
		}
		total += n;
	}
	printf("%lld %lld\n", total, (long long)(now() - start));
	return 0;
}
