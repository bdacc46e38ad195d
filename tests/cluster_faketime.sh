#!/bin/sh
# cluster_faketime.sh -- `deja cluster --faketime NODE=OFFSET_MS` under the
# real libfaketime: the node starts with its clocks that far off the others'
# (its facts carry its faked wall time), the cluster still runs and stops
# cleanly, and judging it with the same --faketime takes the offset off
# before the facts are merged. In a sanitizer build the preloaded library
# must not stop the node from starting. Skipped (77) where libfaketime is
# not installed (Debian's faketime package).
# Usage: cluster_faketime.sh DEJA
set -eu
deja=$1
name=cluster_faketime
. "$(dirname "$0")/cluster_lib.sh"
start_ms() { awk '$2 == "start" { print substr($1, 1, length($1) - 6); exit }' "$1"; }

run_cluster c --nodes 2 --duration-s 2 --faketime 1=3000 --data-dir "$dir/c"
if [ "$rc" = 2 ] && grep -q "libfaketime not found" "$dir/c.err"; then
    echo "cluster_faketime: skipped: libfaketime is not installed (apt-get install faketime)"
    exit 77
fi
[ "$rc" = 0 ] || { cat "$dir/c.txt" "$dir/c.err" "$dir"/c/node-*/log >&2; fail "the cluster exited $rc"; }
[ "$(get exit_status "$dir/c.txt")" = "0,0" ] || fail "exit statuses $(get exit_status "$dir/c.txt")"
# both start at the same barrier: node 1's wall clock reads 3 s ahead
ahead=$(($(start_ms "$dir/c/node-1/facts") - $(start_ms "$dir/c/node-0/facts")))
[ "$ahead" -ge 2500 ] && [ "$ahead" -le 6000 ] || fail "node 1 started ${ahead} ms after node 0, not about 3000"

# (a clock 3 s off forks and stalls a 2 s chain: the oracle's verdict is
# not the point here, only that the facts merge on one time line)
run_cluster j --judge "$dir/c" --scenario drift-fork --faketime 1=3000
[ "$rc" != 2 ] || { cat "$dir/j.err" >&2; fail "judging the faked cluster was refused"; }
span=$(get span_ms "$dir/j.txt")
[ "$span" -lt 2500 ] || fail "the merged facts span ${span} ms: the offset was not taken off"
echo "cluster_faketime: ok (node 1 ${ahead} ms ahead, merged span ${span} ms)"
