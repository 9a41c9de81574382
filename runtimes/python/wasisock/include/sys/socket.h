/* sys/socket.h for wasmrun's socket library (libwasisock): wasi-libc's own
 * header plus what it leaves out (socket, bind, listen, connect, ...) and
 * the SOL_SOCKET option names. Values follow Linux; libwasisock maps them
 * to the WasmEdge socket extension's numbering. */
#ifndef WASISOCK_SYS_SOCKET_H
#define WASISOCK_SYS_SOCKET_H

#include_next <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* wasi-libc defines SOL_SOCKET 0x7fffffff and SO_TYPE 3 (Linux's value). */
#define SO_DEBUG        1
#define SO_REUSEADDR    2
#define SO_ERROR        4
#define SO_DONTROUTE    5
#define SO_BROADCAST    6
#define SO_SNDBUF       7
#define SO_RCVBUF       8
#define SO_KEEPALIVE    9
#define SO_OOBINLINE    10
#define SO_LINGER       13
#define SO_RCVLOWAT     18
#define SO_RCVTIMEO     20
#define SO_SNDTIMEO     21
#define SO_BINDTODEVICE 25
#define SO_ACCEPTCONN   30

#define SOMAXCONN 128

#define PF_UNSPEC AF_UNSPEC
#define PF_INET   AF_INET
#define PF_INET6  AF_INET6
#define PF_UNIX   AF_UNIX
#define AF_LOCAL  AF_UNIX
#define PF_LOCAL  AF_UNIX

int socket(int, int, int);
int bind(int, const struct sockaddr *, socklen_t);
int connect(int, const struct sockaddr *, socklen_t);
int listen(int, int);
int getsockname(int, struct sockaddr *__restrict, socklen_t *__restrict);
int getpeername(int, struct sockaddr *__restrict, socklen_t *__restrict);
ssize_t sendto(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
ssize_t recvfrom(int, void *__restrict, size_t, int, struct sockaddr *__restrict, socklen_t *__restrict);
int setsockopt(int, int, int, const void *, socklen_t);

#ifdef __cplusplus
}
#endif

#endif
