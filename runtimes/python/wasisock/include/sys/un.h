/* sys/un.h for wasmrun's socket library: wasi-libc's struct sockaddr_un
 * has no sun_path. This one replaces it (and its struct header). Unix
 * socket paths are resolved inside the guest's preopened directories. */
#ifndef WASISOCK_SYS_UN_H
#define WASISOCK_SYS_UN_H
#define __wasilibc___struct_sockaddr_un_h

#define __need_STDDEF_H_misc
#include <stddef.h>
#include <string.h>
#include <__typedef_sa_family_t.h>

struct sockaddr_un {
	_Alignas(max_align_t) sa_family_t sun_family;
	char sun_path[108];
};

#define SUN_LEN(s) (offsetof(struct sockaddr_un, sun_path) + strlen((s)->sun_path))

#endif
