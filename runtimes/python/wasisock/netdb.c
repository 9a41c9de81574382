/* libwasisock: getaddrinfo, freeaddrinfo, gai_strerror, getnameinfo
 * (numeric only), gethostbyname, gethostbyaddr and hstrerror, on the host's
 * sock_getaddrinfo (which reads the hosts file and resolv.conf the guest's
 * namespace sees). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasisock.h"

/* The wasm32 layouts sock_getaddrinfo fills (design/WASI-SOCKETS.md). */
struct ext_sockaddr {
	uint8_t family;
	uint8_t pad[3];
	uint32_t data_len;
	uint8_t *data;
};
struct ext_addrinfo {
	uint16_t flags;
	uint8_t family;
	uint8_t socktype;
	uint32_t protocol;
	uint32_t addrlen;
	struct ext_sockaddr *addr;
	char *canonname;
	uint32_t canonname_len;
	struct ext_addrinfo *next;
};
_Static_assert(sizeof(struct ext_addrinfo) == 28, "addrinfo layout");
_Static_assert(sizeof(struct ext_sockaddr) == 12, "sockaddr layout");

/* MAX_RESULTS bounds one lookup (each address comes once per socket type). */
#define MAX_RESULTS 32
#define DATA_LEN 18 /* big-endian port, then up to 16 address bytes */
#define CANON_LEN 256

struct scratch {
	struct ext_addrinfo ai[MAX_RESULTS];
	struct ext_sockaddr sa[MAX_RESULTS];
	uint8_t data[MAX_RESULTS][DATA_LEN];
	char canon[CANON_LEN];
};

/* One libc result with its address and name in the same allocation. */
struct result {
	struct addrinfo ai;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} sa;
	char canon[];
};

static int eai_from_errno(int e) {
	switch (e) {
	case WASISOCK_EAI_FIRST + 0: return EAI_ADDRFAMILY;
	case WASISOCK_EAI_FIRST + 1: return EAI_AGAIN;
	case WASISOCK_EAI_FIRST + 2: return EAI_BADFLAGS;
	case WASISOCK_EAI_FIRST + 3: return EAI_FAIL;
	case WASISOCK_EAI_FIRST + 4: return EAI_FAMILY;
	case WASISOCK_EAI_FIRST + 5: return EAI_MEMORY;
	case WASISOCK_EAI_FIRST + 6: return EAI_NODATA;
	case WASISOCK_EAI_FIRST + 7: return EAI_NONAME;
	case WASISOCK_EAI_FIRST + 8: return EAI_SERVICE;
	case WASISOCK_EAI_FIRST + 9: return EAI_SOCKTYPE;
	case WASISOCK_EAI_FIRST + 10: return EAI_SYSTEM;
	}
	errno = e;
	return EAI_SYSTEM;
}

int getaddrinfo(const char *__restrict node, const char *__restrict service,
		const struct addrinfo *__restrict hints, struct addrinfo **__restrict res) {
	struct ext_addrinfo h;
	struct scratch *s;
	struct addrinfo *head = NULL, **tail = &head;
	uint32_t first, n = 0, i;
	int e;

	if (res == NULL)
		return EAI_SYSTEM;
	*res = NULL;
	if (node == NULL && service == NULL)
		return EAI_NONAME;
	memset(&h, 0, sizeof(h));
	if (hints != NULL) {
		if (hints->ai_flags & ~0x7f)
			return EAI_BADFLAGS;
		h.flags = hints->ai_flags;
		switch (hints->ai_family) {
		case AF_UNSPEC: h.family = 0; break;
		case AF_INET: h.family = WASISOCK_AF_INET4; break;
		case AF_INET6: h.family = WASISOCK_AF_INET6; break;
		default: return EAI_FAMILY;
		}
		switch (hints->ai_socktype) {
		case 0: h.socktype = 0; break;
		case SOCK_STREAM: h.socktype = WASISOCK_SOCK_STREAM; break;
		case SOCK_DGRAM: h.socktype = WASISOCK_SOCK_DGRAM; break;
		default: return EAI_SOCKTYPE;
		}
		switch (hints->ai_protocol) {
		case 0: h.protocol = 0; break;
		case IPPROTO_TCP: h.protocol = WASISOCK_PROTO_TCP; break;
		case IPPROTO_UDP: h.protocol = WASISOCK_PROTO_UDP; break;
		default: return EAI_SOCKTYPE;
		}
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return EAI_MEMORY;
	for (i = 0; i < MAX_RESULTS; i++) {
		s->sa[i].data_len = DATA_LEN;
		s->sa[i].data = s->data[i];
		s->ai[i].addr = &s->sa[i];
		s->ai[i].next = i + 1 < MAX_RESULTS ? &s->ai[i + 1] : NULL;
	}
	s->ai[0].canonname = s->canon;
	s->ai[0].canonname_len = CANON_LEN;
	first = (uint32_t)(uintptr_t)&s->ai[0];
	if (node == NULL)
		node = "";
	if (service == NULL)
		service = "";
	e = wasisock_getaddrinfo(node, strlen(node), service, strlen(service), &h,
			&first, MAX_RESULTS, &n);
	if (e != 0) {
		free(s);
		return eai_from_errno(e);
	}
	for (i = 0; i < n && i < MAX_RESULTS; i++) {
		const struct ext_addrinfo *x = &s->ai[i];
		const uint8_t *d = x->addr->data;
		size_t canon = (i == 0 && x->canonname_len > 0) ? strnlen(s->canon, CANON_LEN - 1) + 1 : 0;
		struct result *r = calloc(1, sizeof(*r) + canon);
		if (r == NULL) {
			freeaddrinfo(head);
			free(s);
			return EAI_MEMORY;
		}
		switch (x->family) {
		case WASISOCK_AF_INET4:
			r->ai.ai_family = AF_INET;
			r->sa.in.sin_family = AF_INET;
			memcpy(&r->sa.in.sin_port, d, 2);
			memcpy(&r->sa.in.sin_addr, d + 2, 4);
			r->ai.ai_addrlen = sizeof(r->sa.in);
			break;
		case WASISOCK_AF_INET6:
			r->ai.ai_family = AF_INET6;
			r->sa.in6.sin6_family = AF_INET6;
			memcpy(&r->sa.in6.sin6_port, d, 2);
			memcpy(&r->sa.in6.sin6_addr, d + 2, 16);
			r->ai.ai_addrlen = sizeof(r->sa.in6);
			break;
		default:
			free(r);
			continue;
		}
		r->ai.ai_flags = hints != NULL ? hints->ai_flags : 0;
		r->ai.ai_socktype = x->socktype == WASISOCK_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
		r->ai.ai_protocol = x->protocol == WASISOCK_PROTO_UDP ? IPPROTO_UDP :
			x->protocol == WASISOCK_PROTO_TCP ? IPPROTO_TCP : 0;
		r->ai.ai_addr = (struct sockaddr *)&r->sa;
		if (canon > 0) {
			memcpy(r->canon, s->canon, canon - 1);
			r->ai.ai_canonname = r->canon;
		}
		*tail = &r->ai;
		tail = &r->ai.ai_next;
	}
	free(s);
	if (head == NULL)
		return EAI_NONAME;
	*res = head;
	return 0;
}

void freeaddrinfo(struct addrinfo *ai) {
	while (ai != NULL) {
		struct addrinfo *next = ai->ai_next;
		free(ai); /* the struct result allocation starts with ai */
		ai = next;
	}
}

const char *gai_strerror(int code) {
	switch (code) {
	case 0: return "Success";
	case EAI_BADFLAGS: return "Invalid flags";
	case EAI_NONAME: return "Name or service not known";
	case EAI_AGAIN: return "Temporary failure in name resolution";
	case EAI_FAIL: return "Non-recoverable failure in name resolution";
	case EAI_NODATA: return "No address associated with hostname";
	case EAI_FAMILY: return "Address family not supported";
	case EAI_SOCKTYPE: return "Socket type not supported";
	case EAI_SERVICE: return "Servname not supported for ai_socktype";
	case EAI_ADDRFAMILY: return "Address family for hostname not supported";
	case EAI_MEMORY: return "Memory allocation failure";
	case EAI_SYSTEM: return "System error";
	case EAI_OVERFLOW: return "Argument buffer overflow";
	}
	return "Unknown error";
}

/* getnameinfo formats addresses and ports numerically: the host offers no
 * reverse lookup, so NI_NAMEREQD fails with EAI_NONAME. */
int getnameinfo(const struct sockaddr *__restrict sa, socklen_t len,
		char *__restrict host, socklen_t hostlen,
		char *__restrict serv, socklen_t servlen, int flags) {
	const void *addr;
	unsigned port;
	if (sa == NULL)
		return EAI_FAIL;
	switch (sa->sa_family) {
	case AF_INET:
		if (len < sizeof(struct sockaddr_in))
			return EAI_FAMILY;
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		break;
	case AF_INET6:
		if (len < sizeof(struct sockaddr_in6))
			return EAI_FAMILY;
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		break;
	default:
		return EAI_FAMILY;
	}
	if (host != NULL && hostlen > 0) {
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		if (inet_ntop(sa->sa_family, addr, host, hostlen) == NULL)
			return EAI_OVERFLOW;
	}
	if (serv != NULL && servlen > 0) {
		if ((socklen_t)snprintf(serv, servlen, "%u", port) >= servlen)
			return EAI_OVERFLOW;
	}
	return 0;
}

int h_errno;

/* gethostbyname resolves an IPv4 name through getaddrinfo into static
 * storage (not thread-safe, as POSIX allows). */
struct hostent *gethostbyname(const char *name) {
	static struct hostent he;
	static char hname[NI_MAXHOST + 1];
	static struct in_addr addrs[MAX_RESULTS];
	static char *list[MAX_RESULTS + 1];
	static char *aliases[1];
	struct addrinfo hints, *res, *ai;
	int n = 0, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	e = getaddrinfo(name, NULL, &hints, &res);
	if (e != 0) {
		h_errno = e == EAI_AGAIN ? TRY_AGAIN : e == EAI_FAIL ? NO_RECOVERY : HOST_NOT_FOUND;
		return NULL;
	}
	snprintf(hname, sizeof(hname), "%s", res->ai_canonname ? res->ai_canonname : name);
	for (ai = res; ai != NULL && n < MAX_RESULTS; ai = ai->ai_next) {
		addrs[n] = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		list[n] = (char *)&addrs[n];
		n++;
	}
	list[n] = NULL;
	aliases[0] = NULL;
	freeaddrinfo(res);
	he.h_name = hname;
	he.h_aliases = aliases;
	he.h_addrtype = AF_INET;
	he.h_length = 4;
	he.h_addr_list = list;
	return &he;
}

/* gethostbyaddr always fails: the host offers no reverse lookup. */
struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
	(void)addr;
	(void)len;
	(void)type;
	h_errno = HOST_NOT_FOUND;
	return NULL;
}

const char *hstrerror(int code) {
	switch (code) {
	case HOST_NOT_FOUND: return "Unknown host";
	case TRY_AGAIN: return "Host name lookup failure";
	case NO_RECOVERY: return "Unknown server error";
	case NO_DATA: return "No address associated with name";
	}
	return "Unknown resolver error";
}
