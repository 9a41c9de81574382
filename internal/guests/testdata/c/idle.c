// idle sleeps for the duration given as its argument (a number with the
// suffix s or ms, e.g. 3s) and exits; the sleep is nanosleep(2), one
// poll_oneoff clock subscription.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	char *end;
	double v = strtod(argv[1], &end);
	double secs = strcmp(end, "ms") == 0 ? v / 1000 : v;
	struct timespec ts = {(time_t)secs, (long)((secs - (time_t)secs) * 1e9)};
	if (nanosleep(&ts, NULL) != 0) {
		perror("nanosleep");
		return 1;
	}
	printf("done\n");
	return 0;
}
