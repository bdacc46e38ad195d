#!/bin/sh
# lint_seam.sh -- the seam lint: node code may reach the world only through
# rt.h. Lists the undefined symbols of the node library (nm -u) and fails
# when one is not rt_*, SQLite, xxHash, a pure libc function from the
# allow-list below, or compiler/sanitizer runtime glue.
# usage: lint_seam.sh path/to/libdeja_node.a
set -eu
lib=${1:?usage: lint_seam.sh LIBRARY}
[ -f "$lib" ] || { echo "lint_seam: $lib: no such file" >&2; exit 2; }

allowed='^(rt_[a-z0-9_]+|sqlite3_[a-z0-9_]+|XXH[A-Za-z0-9_]+|XXH_INLINE_[A-Za-z0-9_]+'
allowed="$allowed|memcpy|memmove|memset|memcmp|bcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|strstr|strspn|strcspn"
allowed="$allowed|strcpy|strncpy|snprintf|vsnprintf|qsort|bsearch|strtol|strtoll|strtoul|strtoull"
allowed="$allowed|abs|labs|llabs|isalnum|isalpha|isdigit|isspace|isxdigit|tolower|toupper|__ctype_b_loc"
allowed="$allowed|__ctype_tolower_loc|__ctype_toupper_loc|__assert_fail|__stack_chk_fail"
allowed="$allowed|__[a-z0-9_]+_chk|__isoc99_sscanf|__isoc23_strtol|__isoc23_strtoll|__isoc23_strtoul|__isoc23_strtoull"
allowed="$allowed|__asan_[A-Za-z0-9_]+|__ubsan_[A-Za-z0-9_]+|__sanitizer_[A-Za-z0-9_]+|_GLOBAL_OFFSET_TABLE_)$"

# undefined in some object of the library and defined in none of them
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -u "$lib" | awk 'NF && $NF !~ /:$/ {print $NF}' | sort -u >"$tmp/undef"
nm -g --defined-only "$lib" | awk 'NF==3 {print $3}' | sort -u >"$tmp/def"
comm -23 "$tmp/undef" "$tmp/def" >"$tmp/ext"
bad=$(grep -Ev "$allowed" "$tmp/ext" || true)
if [ -n "$bad" ]; then
    echo "lint_seam: node/ calls outside the seam (use rt.h instead):" >&2
    echo "$bad" | sed 's/^/  /' >&2
    # name the files that use them
    for s in $bad; do
        nm -A -u "$lib" | awk -v s="$s" '$NF==s {print "  " $1 " uses " s}' >&2
    done
    exit 1
fi
echo "lint_seam: $(wc -l <"$tmp/ext") external symbols, all inside the seam"
