/* libwasisock: POSIX sockets for wasi-libc programs (CPython) on the
 * WasmEdge socket extension as wasmrun provides it. wasi-libc already has
 * recv, send, shutdown, poll and select; this file adds socket, bind,
 * listen, connect, accept/accept4 (replacing wasi-libc's, which report no
 * peer address), getsockname, getpeername, sendto, recvfrom and
 * gethostname. Socket fds are ordinary WASI fds: read, write, close, fcntl
 * and ioctl(FIONBIO) work on them through wasi-libc. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wasisock.h"

int wasisock_encode(const struct sockaddr *sa, socklen_t len,
		uint8_t buf[WASISOCK_ADDR_LEN], uint32_t *port) {
	memset(buf, 0, WASISOCK_ADDR_LEN);
	if (sa == NULL || len < sizeof(sa_family_t))
		return EINVAL;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (len < sizeof(*in))
			return EINVAL;
		buf[0] = WASISOCK_AF_INET4;
		memcpy(buf + 2, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return 0;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (len < sizeof(*in6))
			return EINVAL;
		buf[0] = WASISOCK_AF_INET6;
		memcpy(buf + 2, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path), n;
		if (len <= off)
			return EINVAL;
		n = strnlen(un->sun_path, len - off);
		if (n == 0)
			return EINVAL;
		if (n > WASISOCK_ADDR_LEN - 3)
			return ENAMETOOLONG;
		buf[0] = WASISOCK_AF_UNIX;
		memcpy(buf + 2, un->sun_path, n);
		*port = 0;
		return 0;
	}
	}
	return EAFNOSUPPORT;
}

void wasisock_decode(const uint8_t buf[WASISOCK_ADDR_LEN], uint32_t port,
		struct sockaddr *sa, socklen_t *len) {
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	socklen_t n;
	memset(&u, 0, sizeof(u));
	switch (buf[0] | buf[1] << 8) {
	case WASISOCK_AF_INET4:
		u.in.sin_family = AF_INET;
		u.in.sin_port = htons(port);
		memcpy(&u.in.sin_addr, buf + 2, 4);
		n = sizeof(u.in);
		break;
	case WASISOCK_AF_INET6:
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons(port);
		memcpy(&u.in6.sin6_addr, buf + 2, 16);
		n = sizeof(u.in6);
		break;
	case WASISOCK_AF_UNIX:
		u.un.sun_family = AF_UNIX;
		strncpy(u.un.sun_path, (const char *)buf + 2, sizeof(u.un.sun_path) - 1);
		n = offsetof(struct sockaddr_un, sun_path) + strlen(u.un.sun_path) + 1;
		break;
	default:
		/* No address (an unnamed peer). */
		u.sa.sa_family = AF_UNSPEC;
		n = sizeof(sa_family_t);
		break;
	}
	if (sa != NULL && len != NULL)
		memcpy(sa, &u, *len < n ? *len : n);
	if (len != NULL)
		*len = n;
}

int socket(int domain, int type, int protocol) {
	int32_t af, st, fd;
	int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
	int e;
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	switch (domain) {
	case AF_INET: af = WASISOCK_AF_INET4; break;
	case AF_INET6: af = WASISOCK_AF_INET6; break;
	case AF_UNIX: af = WASISOCK_AF_UNIX; break;
	default: return wasisock_fail(EAFNOSUPPORT);
	}
	switch (type) {
	case SOCK_STREAM:
		if (protocol != 0 && protocol != IPPROTO_TCP)
			return wasisock_fail(EPROTONOSUPPORT);
		st = WASISOCK_SOCK_STREAM;
		break;
	case SOCK_DGRAM:
		if (protocol != 0 && protocol != IPPROTO_UDP)
			return wasisock_fail(EPROTONOSUPPORT);
		st = WASISOCK_SOCK_DGRAM;
		break;
	default:
		return wasisock_fail(EPROTOTYPE);
	}
	e = wasisock_open(af, st, &fd);
	if (e != 0)
		return wasisock_fail(e);
	wasisock_forget_fd(fd);
	if ((flags & SOCK_NONBLOCK) && fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		e = errno;
		close(fd);
		return wasisock_fail(e);
	}
	return fd;
}

/* A guest_addr is an address in the extension's form: the V2 buffer, the
 * {buffer, length} pair the host functions take, pointing at it, and the
 * port. */
struct guest_addr {
	uint8_t buf[WASISOCK_ADDR_LEN];
	struct wasisock_addr a;
	uint32_t port;
};

/* guest_init readies g for a host function that writes an address into
 * it; until one does, g holds no address (all zeroes). */
static void guest_init(struct guest_addr *g) {
	memset(g->buf, 0, sizeof(g->buf));
	g->a.buf = g->buf;
	g->a.buf_len = sizeof(g->buf);
	g->port = 0;
}

/* to_guest converts sa (of length len) into g for a host function that
 * reads an address; it returns 0 or an errno. */
static int to_guest(struct guest_addr *g, const struct sockaddr *sa, socklen_t len) {
	guest_init(g);
	return wasisock_encode(sa, len, g->buf, &g->port);
}

/* from_guest writes the address a host function left in g as a sockaddr
 * into sa, truncated to *len, and sets *len to its full length. */
static void from_guest(const struct guest_addr *g, struct sockaddr *sa, socklen_t *len) {
	wasisock_decode(g->buf, g->port, sa, len);
}

int bind(int fd, const struct sockaddr *sa, socklen_t len) {
	struct guest_addr g;
	int e = to_guest(&g, sa, len);
	if (e == 0)
		e = wasisock_bind(fd, &g.a, g.port);
	return e ? wasisock_fail(e) : 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len) {
	struct guest_addr g;
	int e = to_guest(&g, sa, len);
	if (e == 0)
		e = wasisock_connect(fd, &g.a, g.port);
	return e ? wasisock_fail(e) : 0;
}

int listen(int fd, int backlog) {
	int e = wasisock_listen(fd, backlog);
	return e ? wasisock_fail(e) : 0;
}

/* sockname is getsockname, or getpeername when peer is set. */
static int sockname(int fd, struct sockaddr *sa, socklen_t *len, int peer) {
	struct guest_addr g;
	int e;
	if (len == NULL)
		return wasisock_fail(EFAULT);
	guest_init(&g);
	if (peer)
		e = wasisock_getpeeraddr(fd, &g.a, &g.port);
	else
		e = wasisock_getlocaladdr(fd, &g.a, &g.port);
	if (e != 0)
		return wasisock_fail(e);
	from_guest(&g, sa, len);
	return 0;
}

int getsockname(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
	return sockname(fd, sa, len, 0);
}

int getpeername(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
	return sockname(fd, sa, len, 1);
}

int accept4(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len, int flags) {
	__wasi_fd_t nfd;
	int e;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return wasisock_fail(EINVAL);
	e = __wasi_sock_accept(fd, (flags & SOCK_NONBLOCK) ? __WASI_FDFLAGS_NONBLOCK : 0, &nfd);
	if (e != 0)
		return wasisock_fail(e);
	wasisock_forget_fd(nfd);
	if (sa != NULL && len != NULL && getpeername(nfd, sa, len) != 0) {
		/* The peer may already be gone: report an unnamed address. */
		struct guest_addr none;
		guest_init(&none);
		from_guest(&none, sa, len);
	}
	return nfd;
}

int accept(int fd, struct sockaddr *__restrict sa, socklen_t *__restrict len) {
	return accept4(fd, sa, len, 0);
}

ssize_t sendto(int fd, const void *data, size_t n, int flags,
		const struct sockaddr *sa, socklen_t len) {
	struct guest_addr g;
	__wasi_ciovec_t iov = {data, n};
	uint32_t written;
	int e;
	if (sa == NULL)
		return send(fd, data, n, flags);
	if (flags != 0)
		return wasisock_fail(EOPNOTSUPP);
	e = to_guest(&g, sa, len);
	if (e == 0)
		e = wasisock_send_to(fd, &iov, 1, &g.a, g.port, 0, &written);
	return e ? wasisock_fail(e) : (ssize_t)written;
}

ssize_t recvfrom(int fd, void *__restrict data, size_t n, int flags,
		struct sockaddr *__restrict sa, socklen_t *__restrict len) {
	struct guest_addr g;
	__wasi_iovec_t iov = {data, n};
	uint32_t nread;
	uint16_t roflags;
	int e;
	if (sa == NULL || len == NULL)
		return recv(fd, data, n, flags);
	if (flags & ~(MSG_PEEK | MSG_WAITALL))
		return wasisock_fail(EOPNOTSUPP);
	guest_init(&g);
	e = wasisock_recv_from(fd, &iov, 1, &g.a, flags, &g.port, &nread, &roflags);
	if (e != 0)
		return wasisock_fail(e);
	from_guest(&g, sa, len);
	return nread;
}

/* gethostname returns $HOSTNAME, else "localhost": WASI has no host name. */
int gethostname(char *name, size_t len) {
	const char *h = getenv("HOSTNAME");
	size_t n;
	if (h == NULL || *h == '\0')
		h = "localhost";
	n = strlen(h);
	if (n + 1 > len)
		return wasisock_fail(ENAMETOOLONG);
	memcpy(name, h, n + 1);
	return 0;
}
