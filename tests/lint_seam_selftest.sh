#!/bin/sh
# lint_seam_selftest.sh -- proves the seam lint bites: a library whose code
# reads the real clock and calls malloc must be refused, one that calls only
# rt_* and memcpy must pass.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/bad.c" <<'C'
#include <stdlib.h>
#include <time.h>
long bad(void) { struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts); free(malloc(8)); return ts.tv_sec; }
C
cat >"$tmp/good.c" <<'C'
#include <string.h>
void *rt_malloc(unsigned long n);
void *good(const void *p) { void *q = rt_malloc(8); memcpy(q, p, 8); return q; }
C
$cc -c -o "$tmp/bad.o" "$tmp/bad.c"
$cc -c -o "$tmp/good.o" "$tmp/good.c"
ar rcs "$tmp/libbad.a" "$tmp/bad.o"
ar rcs "$tmp/libgood.a" "$tmp/good.o"
if "$here/lint_seam.sh" "$tmp/libbad.a" 2>"$tmp/err"; then
    echo "selftest: the lint accepted clock_gettime/malloc" >&2
    exit 1
fi
grep -q clock_gettime "$tmp/err" && grep -q malloc "$tmp/err" || { cat "$tmp/err"; exit 1; }
"$here/lint_seam.sh" "$tmp/libgood.a"
