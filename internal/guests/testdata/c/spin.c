// spin burns CPU in a tight loop that never calls the host, so only a real
// signal can stop it. With an argument it first prints "spinning" to stdout.
#include <stdio.h>

volatile unsigned long counter;

int main(int argc, char **argv) {
	if (argc > 1) {
		printf("spinning\n");
		fflush(stdout);
	}
	for (;;) {
		counter++;
	}
}
