// clock_random prints what a test needs to check the clocks and the random
// source (see the Go version), plus the clock resolutions and the process
// CPU clock, which C can reach:
//
//   realtime NS, monotonic ok, sleep_ms MS, random HEX (twice),
//   res_realtime NS, res_monotonic NS, cputime ok
#include <stdio.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>

static int64_t ns(clockid_t id) {
	struct timespec ts;
	if (clock_gettime(id, &ts) != 0)
		return -1;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(void) {
	printf("realtime %lld\n", (long long)ns(CLOCK_REALTIME));

	int64_t prev = ns(CLOCK_MONOTONIC);
	const char *ok = prev > 0 ? "ok" : "FAIL";
	for (int i = 0; i < 1000; i++) {
		int64_t t = ns(CLOCK_MONOTONIC);
		if (t < prev)
			ok = "FAIL";
		prev = t;
	}
	printf("monotonic %s\n", ok);

	int64_t t0 = ns(CLOCK_MONOTONIC);
	struct timespec d = {0, 100 * 1000000};
	nanosleep(&d, NULL);
	printf("sleep_ms %lld\n", (long long)((ns(CLOCK_MONOTONIC) - t0) / 1000000));

	for (int i = 0; i < 2; i++) {
		unsigned char b[32];
		if (getentropy(b, sizeof b) != 0) {
			printf("random FAIL\n");
			continue;
		}
		printf("random ");
		for (size_t j = 0; j < sizeof b; j++)
			printf("%02x", b[j]);
		printf("\n");
	}

	struct timespec res;
	clock_getres(CLOCK_REALTIME, &res);
	printf("res_realtime %lld\n", (long long)res.tv_sec * 1000000000 + res.tv_nsec);
	clock_getres(CLOCK_MONOTONIC, &res);
	printf("res_monotonic %lld\n", (long long)res.tv_sec * 1000000000 + res.tv_nsec);

	int64_t c0 = ns(CLOCK_PROCESS_CPUTIME_ID);
	volatile uint64_t x = 0;
	for (int i = 0; i < 20000000; i++)
		x += i;
	(void)x;
	int64_t c1 = ns(CLOCK_PROCESS_CPUTIME_ID);
	printf("cputime %s\n", c0 >= 0 && c1 > c0 ? "ok" : "FAIL");
	return 0;
}
