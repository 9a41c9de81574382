// cat copies stdin to stdout with read(2)/write(2), byte for byte, and
// reports the count on stderr.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
	static char buf[65536];
	long long total = 0;
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "cat: read: %s\n", strerror(errno));
			return 1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, n - off);
			if (w < 0) {
				fprintf(stderr, "cat: write: %s\n", strerror(errno));
				return 1;
			}
			off += w;
		}
		total += n;
	}
	fprintf(stderr, "copied %lld\n", total);
	return 0;
}
