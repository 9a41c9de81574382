/* libwasisock: setsockopt and getsockopt (replacing wasi-libc's getsockopt,
 * which knows only SO_TYPE). SOL_SOCKET options (Linux numbering in
 * include/sys/socket.h) map to the socket extension's level 0 options.
 * SO_TYPE is answered from the fd's WASI file type. The host has no other
 * levels: IPPROTO_TCP/TCP_NODELAY and IPPROTO_IPV6/IPV6_V6ONLY are accepted
 * and remembered per fd (so getsockopt reads back what was set) but have no
 * effect; other options are ENOPROTOOPT. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "wasisock.h"

/* The extension's SOL_SOCKET option number for a Linux one, or -1. */
static int ext_option(int name) {
	switch (name) {
	case SO_REUSEADDR: return 0;
	case SO_TYPE: return 1;
	case SO_ERROR: return 2;
	case SO_DONTROUTE: return 3;
	case SO_BROADCAST: return 4;
	case SO_SNDBUF: return 5;
	case SO_RCVBUF: return 6;
	case SO_KEEPALIVE: return 7;
	case SO_OOBINLINE: return 8;
	case SO_LINGER: return 9;
	case SO_RCVLOWAT: return 10;
	case SO_RCVTIMEO: return 11;
	case SO_SNDTIMEO: return 12;
	case SO_ACCEPTCONN: return 13;
	case SO_BINDTODEVICE: return 14;
	}
	return -1;
}

/* Options without a host equivalent, remembered per fd (bit per option). */
#define FLAG_NODELAY 1
#define FLAG_V6ONLY 2
#define MAX_FLAG_FD 1024
static unsigned char fd_flags[MAX_FLAG_FD];

void wasisock_forget_fd(int fd) {
	if (fd >= 0 && fd < MAX_FLAG_FD)
		fd_flags[fd] = 0;
}

static int local_flag(int level, int name) {
	if (level == IPPROTO_TCP && name == TCP_NODELAY)
		return FLAG_NODELAY;
	if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY)
		return FLAG_V6ONLY;
	return 0;
}

/* is_socket reports whether fd is a socket (setting errno if not). */
static int is_socket(int fd, __wasi_filetype_t *type) {
	__wasi_fdstat_t st;
	int e = __wasi_fd_fdstat_get(fd, &st);
	if (e != 0)
		return wasisock_fail(e), 0;
	if (st.fs_filetype != __WASI_FILETYPE_SOCKET_STREAM &&
			st.fs_filetype != __WASI_FILETYPE_SOCKET_DGRAM)
		return wasisock_fail(ENOTSOCK), 0;
	if (type != NULL)
		*type = st.fs_filetype;
	return 1;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
	int opt, flag, e;
	if (level == SOL_SOCKET) {
		opt = ext_option(name);
		if (opt < 0)
			return wasisock_fail(ENOPROTOOPT);
		e = wasisock_setsockopt(fd, WASISOCK_SOL_SOCKET, opt, val, len);
		return e ? wasisock_fail(e) : 0;
	}
	flag = local_flag(level, name);
	if (flag == 0)
		return wasisock_fail(ENOPROTOOPT);
	if (!is_socket(fd, NULL))
		return -1;
	if (val == NULL || len < sizeof(int))
		return wasisock_fail(EINVAL);
	if (fd < MAX_FLAG_FD) {
		if (*(const int *)val)
			fd_flags[fd] |= flag;
		else
			fd_flags[fd] &= ~flag;
	}
	return 0;
}

int getsockopt(int fd, int level, int name, void *__restrict val, socklen_t *__restrict len) {
	__wasi_filetype_t type;
	int opt, flag, e, v;
	uint32_t n;
	if (val == NULL || len == NULL)
		return wasisock_fail(EFAULT);
	if (level == SOL_SOCKET && name == SO_TYPE) {
		if (!is_socket(fd, &type))
			return -1;
		v = type == __WASI_FILETYPE_SOCKET_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
		goto out_int;
	}
	if (level == SOL_SOCKET) {
		opt = ext_option(name);
		if (opt < 0)
			return wasisock_fail(ENOPROTOOPT);
		n = *len;
		e = wasisock_getsockopt(fd, WASISOCK_SOL_SOCKET, opt, val, &n);
		if (e != 0)
			return wasisock_fail(e);
		*len = n;
		return 0;
	}
	flag = local_flag(level, name);
	if (flag == 0)
		return wasisock_fail(ENOPROTOOPT);
	if (!is_socket(fd, NULL))
		return -1;
	v = fd < MAX_FLAG_FD && (fd_flags[fd] & flag) != 0;
out_int:
	if (*len < sizeof(int))
		return wasisock_fail(EINVAL);
	memcpy(val, &v, sizeof(int));
	*len = sizeof(int);
	return 0;
}
