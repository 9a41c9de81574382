// poll waits for stdin with poll(2) and a timeout.
//
//   poll FIRST_MS SECOND_MS
//
// It first polls stdin for FIRST_MS and prints "timeout MS" (the measured
// wait) when nothing came; then it polls up to SECOND_MS and prints
// "ready MS" and "data TEXT" when input arrives, or "timeout MS" again.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
	if (argc < 3)
		return 2;
	int waits[2] = {atoi(argv[1]), atoi(argv[2])};
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 0; i < 2; i++) {
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		long long start = now_ms();
		int n = poll(&pfd, 1, waits[i]);
		long long took = now_ms() - start;
		if (n < 0) {
			perror("poll");
			return 1;
		}
		if (n == 0) {
			printf("timeout %lld\n", took);
			continue;
		}
		printf("ready %lld\n", took);
		char buf[4096];
		ssize_t r = read(0, buf, sizeof buf - 1);
		if (r < 0) {
			perror("read");
			return 1;
		}
		buf[r] = 0;
		while (r > 0 && buf[r - 1] == '\n')
			buf[--r] = 0;
		printf("data %s\n", buf);
		return 0;
	}
	return 0;
}
