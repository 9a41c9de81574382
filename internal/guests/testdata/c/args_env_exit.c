// args_env_exit prints its arguments and environment, writes a line to
// stderr and exits with the code given as its first argument.
//
//   args_env_exit CODE [ARGS...]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
	printf("argc %d\n", argc);
	for (int i = 0; i < argc; i++)
		printf("arg %d [%s]\n", i, argv[i]);
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 1, sizeof *env);
	memcpy(env, environ, n * sizeof *env);
	qsort(env, n, sizeof *env, cmp);
	for (size_t i = 0; i < n; i++)
		printf("env [%s]\n", env[i]);
	const char *g = getenv("GREETING");
	if (g)
		printf("lookup GREETING [%s]\n", g);
	fprintf(stderr, "to stderr\n");
	fflush(stdout);
	if (argc > 1) {
		char *end;
		long code = strtol(argv[1], &end, 10);
		if (*end) {
			fprintf(stderr, "bad exit code \"%s\"\n", argv[1]);
			return 2;
		}
		exit((int)code);
	}
	return 0;
}
