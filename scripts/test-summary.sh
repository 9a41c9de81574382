#!/bin/sh
# Reads `go test -v` output on stdin and prints a closing summary line:
# "tests: N passed, N failed, N skipped". Exits non-zero if anything failed.
awk '
/^ *--- PASS: / { pass++ }
/^ *--- FAIL: / { fail++; failed[fail] = $3 }
/^ *--- SKIP: / { skip++ }
/^FAIL[ \t]/ { pkgfail++ }
END {
	for (i = 1; i <= fail; i++) print "FAILED: " failed[i]
	printf "tests: %d passed, %d failed, %d skipped\n", pass, fail + pkgfail * (fail == 0), skip
	exit (fail > 0 || pkgfail > 0)
}'
