// hog takes as much of one resource as the host gives it, then reports how
// much it got and stops:
//
//   mem     grows its heap 1 MiB at a time (touching every page) until
//           malloc fails: "mem N MiB"
//   fds     opens sockets until one fails: "fds N errno E"
//   tmp [M] writes /tmp/hog 1 MiB at a time until a write fails or M MiB
//           (64 by default) are written: "tmp N MiB errno E" (E 0: all
//           of it)
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_open")))
int32_t x_sock_open(int32_t af, int32_t type, int32_t *fd);

// keep makes the allocations observable, so the compiler keeps them.
char *volatile keep;

int main(int argc, char **argv) {
	if (argc != 2 && !(argc == 3 && strcmp(argv[1], "tmp") == 0)) {
		printf("usage: hog mem|fds|tmp [MiB]\n");
		return 2;
	}
	if (strcmp(argv[1], "mem") == 0) {
		int n = 0;
		for (;;) {
			char *p = malloc(1 << 20);
			if (p == NULL)
				break;
			memset(p, 1, 1 << 20);
			keep = p;
			n++;
		}
		printf("mem %d MiB\n", n);
	} else if (strcmp(argv[1], "fds") == 0) {
		int n = 0;
		int32_t fd, e;
		while ((e = x_sock_open(1, 2, &fd)) == 0)
			n++;
		printf("fds %d errno %d\n", n, e);
	} else if (strcmp(argv[1], "tmp") == 0) {
		static char buf[1 << 20];
		memset(buf, 1, sizeof buf);
		FILE *f = fopen("/tmp/hog", "w");
		if (f == NULL) {
			printf("tmp open errno %d\n", errno);
			return 1;
		}
		int n = 0, e = 0, max = argc == 3 ? atoi(argv[2]) : 64;
		while (n < max) {
			if (fwrite(buf, 1, sizeof buf, f) != sizeof buf || fflush(f) != 0) {
				e = errno;
				break;
			}
			n++;
		}
		fclose(f);
		printf("tmp %d MiB errno %d\n", n, e);
	}
	return 0;
}
