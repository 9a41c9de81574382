/* The start-up benchmark's guest: built for wasm32-wasi and natively. */
#include <stdio.h>

int main(void) {
	printf("hello\n");
	return 0;
}
