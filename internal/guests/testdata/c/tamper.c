// tamper tries to change files it should only read. Its arguments are
// steps, run in order; each prints "STEP ARG... ok" or "STEP ARG... errno
// N" (wasi-libc's errno values are the WASI errnos):
//
//   write PATH        open O_WRONLY and write a byte
//   append PATH       open O_WRONLY|O_APPEND and write a byte
//   trunc PATH        open O_WRONLY|O_TRUNC
//   create PATH       open O_WRONLY|O_CREAT|O_EXCL and write a byte
//   readwrite PATH    open O_RDONLY, then write a byte through that fd
//   truncate PATH     truncate(2) to 0
//   utimes PATH       set both times to 0
//   mkdir PATH        mkdir(2)
//   rmdir PATH        rmdir(2)
//   unlink PATH       unlink(2)
//   rename OLD NEW    rename(2)
//   link OLD NEW      link(2) (a hard link to write through)
//   symlink T PATH    symlink(2)
//   read PATH         open O_RDONLY and read a byte (a control)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int wrote(int fd) {
	if (fd < 0)
		return -1;
	int rc = write(fd, "x", 1) == 1 ? 0 : -1;
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc; i++) {
		const char *step = argv[i], *a = i + 1 < argc ? argv[i + 1] : "", *b = i + 2 < argc ? argv[i + 2] : "";
		int rc, two = 0;
		errno = 0;
		if (strcmp(step, "write") == 0) {
			rc = wrote(open(a, O_WRONLY));
		} else if (strcmp(step, "append") == 0) {
			rc = wrote(open(a, O_WRONLY | O_APPEND));
		} else if (strcmp(step, "trunc") == 0) {
			int fd = open(a, O_WRONLY | O_TRUNC);
			rc = fd < 0 ? -1 : close(fd);
		} else if (strcmp(step, "create") == 0) {
			rc = wrote(open(a, O_WRONLY | O_CREAT | O_EXCL, 0644));
		} else if (strcmp(step, "readwrite") == 0) {
			rc = wrote(open(a, O_RDONLY));
		} else if (strcmp(step, "truncate") == 0) {
			rc = truncate(a, 0);
		} else if (strcmp(step, "utimes") == 0) {
			struct timespec ts[2] = {{0, 0}, {0, 0}};
			rc = utimensat(AT_FDCWD, a, ts, 0);
		} else if (strcmp(step, "mkdir") == 0) {
			rc = mkdir(a, 0755);
		} else if (strcmp(step, "rmdir") == 0) {
			rc = rmdir(a);
		} else if (strcmp(step, "unlink") == 0) {
			rc = unlink(a);
		} else if (strcmp(step, "rename") == 0) {
			rc = rename(a, b);
			two = 1;
		} else if (strcmp(step, "link") == 0) {
			rc = link(a, b);
			two = 1;
		} else if (strcmp(step, "symlink") == 0) {
			rc = symlink(a, b);
			two = 1;
		} else if (strcmp(step, "read") == 0) {
			char c;
			int fd = open(a, O_RDONLY);
			rc = fd < 0 ? -1 : (read(fd, &c, 1) == 1 ? 0 : -1);
			if (fd >= 0)
				close(fd);
		} else {
			printf("error bad step %s\n", step);
			return 2;
		}
		if (two)
			printf("%s %s %s", step, a, b);
		else
			printf("%s %s", step, a);
		if (rc < 0)
			printf(" errno %d\n", errno);
		else
			printf(" ok\n");
		i += 1 + two;
	}
	return 0;
}
