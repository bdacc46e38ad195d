#!/bin/sh
# check-determinism.sh -- the same seed must give the same trace digest in
# every build: runs a few seeds of every scenario with each given build's deja and
# fails when any two builds disagree on a trace_hash.
# usage: check-determinism.sh BUILD_DIR...
set -eu
[ $# -ge 2 ] || { echo "usage: $0 BUILD_DIR BUILD_DIR..." >&2; exit 2; }
fail=0
for args in "drift-fork --seed 7" "drift-fork --seed 8 --set clock.offset_ms=1500" \
    "drift-fork --seed 3 --set clock.step_ms=800 --set clock.step_every_s=60 --set net.loss_pct=5" \
    "storage-faults --seed 5" "storage-faults --seed 9 --set store.sync=0" \
    "timesync --seed 2" "mem-leak --seed 1"; do
    ref=""
    for b in "$@"; do
        # shellcheck disable=SC2086
        h=$("$b/deja" run $args 2>/dev/null | sed -n 's/^trace_hash=//p')
        echo "determinism: $b: deja run $args -> $h"
        [ -n "$h" ] || { echo "determinism: no trace_hash from $b" >&2; fail=1; continue; }
        if [ -z "$ref" ]; then ref=$h; elif [ "$h" != "$ref" ]; then
            echo "determinism: MISMATCH for '$args': $h != $ref" >&2
            fail=1
        fi
    done
done
[ $fail = 0 ] && echo "determinism: every build agrees"
exit $fail
