// tty reports whether its stdin, stdout and stderr are terminals
// (isatty: fd_fdstat says a character device), then echoes one line of
// stdin. Run under a pty (ctr run -t) it prints "tty in=1 out=1 err=1".
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
	printf("tty in=%d out=%d err=%d\n", isatty(0), isatty(1), isatty(2));
	fflush(stdout);
	char line[256];
	if (!fgets(line, sizeof line, stdin)) {
		printf("no line\n");
		return 3;
	}
	line[strcspn(line, "\r\n")] = 0;
	printf("got [%s]\n", line);
	return 0;
}
