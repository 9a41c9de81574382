/* Internal to libwasisock: the WasmEdge socket extension's host functions
 * as wasmrun provides them (module wasi_snapshot_preview1; see
 * design/WASI-SOCKETS.md) and address conversion helpers. Each returns a
 * WASI errno, which is wasi-libc's errno numbering. */
#ifndef WASISOCK_INTERNAL_H
#define WASISOCK_INTERNAL_H

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <wasi/api.h>

#define WASISOCK_IMPORT(name) \
	__attribute__((import_module("wasi_snapshot_preview1"), import_name(name)))

/* An address as the extension passes it: a pointer to a buffer and its
 * length. libwasisock always uses the V2 128-byte buffer. */
struct wasisock_addr {
	uint8_t *buf;
	uint32_t buf_len;
};

#define WASISOCK_ADDR_LEN 128

/* The extension's numbering. */
#define WASISOCK_AF_INET4 1
#define WASISOCK_AF_INET6 2
#define WASISOCK_AF_UNIX 3
#define WASISOCK_SOCK_DGRAM 1
#define WASISOCK_SOCK_STREAM 2
#define WASISOCK_PROTO_TCP 1
#define WASISOCK_PROTO_UDP 2
#define WASISOCK_SOL_SOCKET 0
/* getaddrinfo errors come back as errnos 77 (ADDRFAMILY) to 87 (SYSTEM). */
#define WASISOCK_EAI_FIRST 77

WASISOCK_IMPORT("sock_open")
int32_t wasisock_open(int32_t af, int32_t socktype, int32_t *fd);
WASISOCK_IMPORT("sock_bind")
int32_t wasisock_bind(int32_t fd, const struct wasisock_addr *addr, uint32_t port);
WASISOCK_IMPORT("sock_connect")
int32_t wasisock_connect(int32_t fd, const struct wasisock_addr *addr, uint32_t port);
WASISOCK_IMPORT("sock_listen")
int32_t wasisock_listen(int32_t fd, int32_t backlog);
WASISOCK_IMPORT("sock_getlocaladdr")
int32_t wasisock_getlocaladdr(int32_t fd, const struct wasisock_addr *addr, uint32_t *port);
WASISOCK_IMPORT("sock_getpeeraddr")
int32_t wasisock_getpeeraddr(int32_t fd, const struct wasisock_addr *addr, uint32_t *port);
WASISOCK_IMPORT("sock_send_to")
int32_t wasisock_send_to(int32_t fd, const __wasi_ciovec_t *iovs, uint32_t n,
		const struct wasisock_addr *addr, uint32_t port, uint32_t flags, uint32_t *nwritten);
WASISOCK_IMPORT("sock_recv_from")
int32_t wasisock_recv_from(int32_t fd, const __wasi_iovec_t *iovs, uint32_t n,
		const struct wasisock_addr *addr, uint32_t flags, uint32_t *port,
		uint32_t *nread, uint16_t *roflags);
WASISOCK_IMPORT("sock_setsockopt")
int32_t wasisock_setsockopt(int32_t fd, int32_t level, int32_t name, const void *val, uint32_t len);
WASISOCK_IMPORT("sock_getsockopt")
int32_t wasisock_getsockopt(int32_t fd, int32_t level, int32_t name, void *val, uint32_t *len);
WASISOCK_IMPORT("sock_getaddrinfo")
int32_t wasisock_getaddrinfo(const char *node, uint32_t node_len, const char *svc,
		uint32_t svc_len, const void *hints, uint32_t *res, uint32_t max_res,
		uint32_t *res_len);

/* wasisock_encode writes sa (of length len) into the V2 buffer buf and its
 * port into *port; it returns 0 or an errno. */
int wasisock_encode(const struct sockaddr *sa, socklen_t len,
		uint8_t buf[WASISOCK_ADDR_LEN], uint32_t *port);

/* wasisock_decode writes the V2 buffer buf with port as a sockaddr into sa,
 * truncated to *len, and sets *len to the address's full length. */
void wasisock_decode(const uint8_t buf[WASISOCK_ADDR_LEN], uint32_t port,
		struct sockaddr *sa, socklen_t *len);

/* wasisock_fail sets errno to e and returns -1. */
static inline int wasisock_fail(int e) {
	errno = e;
	return -1;
}

/* wasisock_forget_fd clears per-fd state kept by libwasisock (TCP_NODELAY). */
void wasisock_forget_fd(int fd);

#endif
