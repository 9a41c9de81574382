/* The shim benchmark's idle C guest: sleeps for an hour (wasi-libc sleep,
 * poll_oneoff on a clock) so its memory can be read while it runs. */
#include <unistd.h>

int main(void) {
	sleep(3600);
	return 0;
}
