// escape tries to leave its preopened directory in every way a path can and
// prints one line per attempt: "CASE ok" or "CASE errno N" (wasi-libc's
// errno values are the WASI errnos). See the Go version for the links the
// test creates and for "escape DIR race N".
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[1024];

static const char *p(const char *name) {
	static char buf[1100];
	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

static void report(const char *name, int rc) {
	if (rc >= 0)
		printf("%s ok\n", name);
	else
		printf("%s errno %d\n", name, errno);
}

static int closed(int fd) {
	if (fd >= 0)
		close(fd);
	return fd;
}

static void race(int n) {
	int inside = 0, outside = 0, errs = 0;
	char buf[64];
	for (int i = 0; i < n; i++) {
		int fd = open(p("race/target.txt"), O_RDONLY);
		if (fd < 0) {
			errs++;
			continue;
		}
		ssize_t r = read(fd, buf, sizeof buf);
		close(fd);
		if (r == 6 && memcmp(buf, "inside", 6) == 0)
			inside++;
		else
			outside++;
	}
	printf("race inside=%d outside=%d errors=%d\n", inside, outside, errs);
}

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	snprintf(dir, sizeof dir, "%s", argv[1]);
	if (argc > 3 && strcmp(argv[2], "race") == 0) {
		race(atoi(argv[3]));
		return 0;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd < 0) {
		report("opendir", dfd);
		return 1;
	}
	struct stat st;
	report("dotdot", closed(openat(dfd, "../outside.txt", O_RDONLY)));
	report("subdotdot", closed(openat(dfd, "sub/../../outside.txt", O_RDONLY)));
	report("absolute", closed(openat(dfd, "/etc/passwd", O_RDONLY)));
	report("abslink", closed(open(p("abslink"), O_RDONLY)));
	report("rellink", closed(open(p("rellink"), O_RDONLY)));
	report("dirlink", closed(open(p("dirlink/outside.txt"), O_RDONLY)));
	report("loop", closed(open(p("loop1"), O_RDONLY)));
	report("create_through", closed(open(p("dangling"), O_WRONLY | O_CREAT, 0644)));
	report("mkdir_through", mkdir(p("dirlink/newdir"), 0755));
	report("stat_abslink", stat(p("abslink"), &st));
	report("lstat_abslink", lstat(p("abslink"), &st));
	report("inlink", closed(open(p("inlink"), O_RDONLY)));
	report("inside", closed(openat(dfd, "sub/../inside.txt", O_RDONLY)));
	// Only C: the libc's own path lookup for a path outside every preopen.
	report("libc_absolute", closed(open("/etc/passwd", O_RDONLY)));
	report("libc_dotdot", closed(open(p("../outside.txt"), O_RDONLY)));
	return 0;
}
