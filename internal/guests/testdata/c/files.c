// files exercises the file system functions in a preopened directory
// through wasi-libc's POSIX API, printing "ok STEP" for each check that
// passed and "FAIL STEP: why" for each that did not; it exits 1 if anything
// failed. Same steps and results as the Go and Rust versions, plus a few
// calls only C reaches (posix_fallocate, posix_fadvise, fdatasync, fcntl).
//
//   files DIR N
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static int failed;
static char dir[1024];

static const char *p(const char *name) {
	static char bufs[4][1100];
	static int i;
	char *b = bufs[i++ % 4];
	snprintf(b, 1100, "%s/%s", dir, name);
	return b;
}

static int expect(const char *step, int cond, const char *fmt, ...) {
	if (cond) {
		printf("ok %s\n", step);
		return 1;
	}
	failed = 1;
	printf("FAIL %s: ", step);
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d %s)\n", errno, strerror(errno));
	return 0;
}

static int readfile(const char *path, char *buf, size_t cap) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	int n = 0, r;
	while ((r = read(fd, buf + n, cap - n)) > 0)
		n += r;
	close(fd);
	return r < 0 ? -1 : n;
}

static void writefile(const char *path, const char *s) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		write(fd, s, strlen(s));
		close(fd);
	}
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	snprintf(dir, sizeof dir, "%s/work", argv[1]);
	int n = atoi(argv[2]);
	char buf[4096];
	struct stat st, st2;

	if (!expect("mkdir", mkdir(dir, 0755) == 0, "mkdir %s", dir))
		return 1;

	int fd = open(p("a.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (!expect("create", fd >= 0, "open"))
		return 1;
	expect("write", write(fd, "hello, world\n", 13) == 13, "write");
	lseek(fd, 0, SEEK_SET);
	ssize_t r = read(fd, buf, sizeof buf);
	expect("read", r == 13 && memcmp(buf, "hello, world\n", 13) == 0, "read %zd", r);

	off_t off = lseek(fd, 7, SEEK_SET);
	r = read(fd, buf, 5);
	expect("seek", off == 7 && r == 5 && memcmp(buf, "world", 5) == 0, "off %lld r %zd", (long long)off, r);
	off = lseek(fd, 0, SEEK_CUR);
	expect("tell", off == 12, "tell %lld", (long long)off);
	off = lseek(fd, -6, SEEK_END);
	expect("seek_end", off == 7, "off %lld", (long long)off);

	ssize_t w = pwrite(fd, "W", 1, 7);
	r = pread(fd, buf, 5, 7);
	off = lseek(fd, 0, SEEK_CUR);
	expect("pwrite_pread", w == 1 && r == 5 && memcmp(buf, "World", 5) == 0 && off == 7, "w %zd r %zd off %lld", w, r, (long long)off);
	expect("pwrite_restore", pwrite(fd, "w", 1, 7) == 1, "pwrite");

	int rc = ftruncate(fd, 5);
	fstat(fd, &st);
	expect("truncate", rc == 0 && st.st_size == 5, "rc %d size %lld", rc, (long long)st.st_size);
	rc = ftruncate(fd, 100);
	fstat(fd, &st);
	int len = readfile(p("a.txt"), buf, sizeof buf);
	int zeros = 0;
	for (int i = 5; i < len; i++)
		zeros += buf[i] == 0;
	expect("extend", rc == 0 && st.st_size == 100 && len == 100 && memcmp(buf, "hello", 5) == 0 && zeros == 95, "rc %d size %lld len %d", rc, (long long)st.st_size, len);
	rc = ftruncate(fd, 0);
	expect("rewrite", rc == 0 && pwrite(fd, "hello, world\n", 13, 0) == 13, "rewrite");
	expect("sync", fsync(fd) == 0, "fsync");
	expect("datasync", fdatasync(fd) == 0, "fdatasync");
	expect("fadvise", posix_fadvise(fd, 0, 13, POSIX_FADV_SEQUENTIAL) == 0, "posix_fadvise");
	int flags = fcntl(fd, F_GETFL);
	expect("getfl", flags >= 0 && (flags & O_ACCMODE) == O_RDWR && !(flags & O_APPEND), "flags %#x", flags);
	expect("close", close(fd) == 0, "close");

	fd = open(p("a.txt"), O_WRONLY | O_APPEND);
	if (expect("open_append", fd >= 0, "open")) {
		lseek(fd, 0, SEEK_SET);
		w = write(fd, "more", 4);
		close(fd);
		len = readfile(p("a.txt"), buf, sizeof buf);
		expect("append", w == 4 && len == 17 && memcmp(buf, "hello, world\nmore", 17) == 0, "len %d", len);
	}

	errno = 0;
	fd = open(p("a.txt"), O_WRONLY | O_CREAT | O_EXCL, 0644);
	expect("excl", fd < 0 && errno == EEXIST, "fd %d", fd);
	errno = 0;
	fd = open(p("missing"), O_RDONLY);
	expect("enoent", fd < 0 && errno == ENOENT, "fd %d", fd);

	rc = rename(p("a.txt"), p("b.txt"));
	int gone = stat(p("a.txt"), &st) != 0 && errno == ENOENT;
	len = readfile(p("b.txt"), buf, sizeof buf);
	expect("rename", rc == 0 && gone && len == 17, "rc %d gone %d len %d", rc, gone, len);

	rc = link(p("b.txt"), p("c.txt"));
	int ok = stat(p("b.txt"), &st) == 0 && stat(p("c.txt"), &st2) == 0;
	expect("link", rc == 0 && ok && st.st_nlink == 2 && st.st_ino == st2.st_ino && st.st_dev == st2.st_dev, "rc %d nlink %llu", rc, (unsigned long long)st.st_nlink);

	rc = symlink("b.txt", p("s"));
	memset(buf, 0, sizeof buf);
	r = readlink(p("s"), buf, sizeof buf);
	expect("symlink", rc == 0 && r == 5 && memcmp(buf, "b.txt", 5) == 0, "rc %d readlink %zd", rc, r);
	ok = lstat(p("s"), &st) == 0 && stat(p("s"), &st2) == 0;
	expect("lstat", ok && S_ISLNK(st.st_mode) && S_ISREG(st2.st_mode) && st2.st_size == 17, "mode %o %o", st.st_mode, st2.st_mode);
	len = readfile(p("s"), buf, sizeof buf);
	expect("follow", len == 17 && memcmp(buf, "hello, world\nmore", 17) == 0, "len %d", len);

	rc = unlink(p("c.txt"));
	ok = stat(p("b.txt"), &st) == 0;
	expect("unlink", rc == 0 && ok && st.st_nlink == 1, "rc %d nlink %llu", rc, (unsigned long long)st.st_nlink);

	rc = mkdir(p("d"), 0755);
	ok = stat(p("d"), &st) == 0;
	expect("mkdir_sub", rc == 0 && ok && S_ISDIR(st.st_mode), "rc %d", rc);
	writefile(p("d/x"), "");
	errno = 0;
	rc = rmdir(p("d"));
	expect("rmdir_notempty", rc != 0 && errno == ENOTEMPTY, "rc %d", rc);
	unlink(p("d/x"));
	rc = rmdir(p("d"));
	gone = stat(p("d"), &st) != 0 && errno == ENOENT;
	expect("rmdir", rc == 0 && gone, "rc %d", rc);

	writefile(p("times.txt"), "t");
	struct timespec ts[2] = {{1000000000, 500000000}, {1234567890, 123456789}};
	rc = utimensat(AT_FDCWD, p("times.txt"), ts, 0);
	ok = stat(p("times.txt"), &st) == 0;
	expect("times", rc == 0 && ok && st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 500000000 && st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 123456789,
	       "rc %d atime %lld.%ld mtime %lld.%ld", rc, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

	// Only C: futimens (fd_filestat_set_times), "now" for one time while
	// keeping the other (called directly: Debian's wasi-libc headers give
	// UTIME_NOW/UTIME_OMIT values its futimens does not recognise), and
	// posix_fallocate (fd_allocate).
	fd = open(p("times.txt"), O_RDWR);
	struct timespec ts2[2] = {{2000000000, 1}, {1234567890, 123456789}};
	rc = futimens(fd, ts2);
	ok = fstat(fd, &st) == 0;
	expect("futimens", rc == 0 && ok && st.st_atim.tv_sec == 2000000000 && st.st_atim.tv_nsec == 1 && st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 123456789, "rc %d", rc);
	rc = __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_ATIM_NOW);
	ok = fstat(fd, &st) == 0;
	expect("times_now", rc == 0 && ok && st.st_atim.tv_sec > 1700000000 && st.st_atim.tv_sec < 2000000000 && st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 123456789, "wasi errno %d", rc);
	rc = posix_fallocate(fd, 0, 4096);
	ok = fstat(fd, &st) == 0;
	expect("allocate", rc == 0 && ok && st.st_size == 4096, "rc %d size %lld", rc, (long long)st.st_size);
	ftruncate(fd, 1);
	close(fd);
	// Leave times.txt as the other languages do.
	utimensat(AT_FDCWD, p("times.txt"), ts, 0);

	expect("mkdir_big", mkdir(p("big"), 0755) == 0, "mkdir");
	char name[64];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "big/f%05d", i);
		fd = open(p(name), O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			expect("create_many", 0, "open %s", name);
			break;
		}
		close(fd);
	}
	unsigned char *seen = calloc(n + 1, 1);
	int other = 0, total = 0;
	DIR *d = opendir(p("big"));
	if (expect("opendir", d != NULL, "opendir")) {
		struct dirent *e;
		errno = 0;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			total++;
			char *end;
			long i = strtol(e->d_name + 1, &end, 10);
			if (e->d_name[0] != 'f' || *end || i < 0 || i >= n || strlen(e->d_name) != 6 || e->d_type != DT_REG)
				other++;
			else
				seen[i]++;
		}
		expect("readdir_end", errno == 0, "readdir");
		closedir(d);
	}
	int bad = 0;
	for (int i = 0; i < n; i++)
		bad += seen[i] != 1;
	expect("readdir", bad == 0 && other == 0 && total == n, "%d names wrong, %d unexpected, %d seen, want %d", bad, other, total, n);

	if (failed)
		return 1;
	printf("done\n");
	return 0;
}
