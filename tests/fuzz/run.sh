#!/bin/sh
# tests/fuzz/run.sh -- runs every libFuzzer target for SECONDS each (default 45),
# starting from the corpora in fuzz/corpus/ (never written to: new inputs go
# to a scratch directory). Builds the targets first in BUILD_DIR (default
# build-fuzz) with clang. Exit 1 when a target finds a crash; its input is
# kept as OUT/TARGET-crash-* (OUT defaults to BUILD_DIR/fuzz-out).
#   tests/fuzz/run.sh                 every target, 45 s each
#   tests/fuzz/run.sh 600 seedfile    one target, ten minutes
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-45}
[ $# -gt 0 ] && shift
targets=${*:-"msg raft_msg params seedfile"}
build=${BUILD_DIR:-build-fuzz}
out=${OUT:-$build/fuzz-out}
CC=${CC:-clang} cmake -S . -B "$build" -DDEJA_FUZZ=ON -DDEJA_TESTS=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target fuzz_targets >/dev/null
rc=0
for t in $targets; do
    mkdir -p "$out/$t"
    echo "fuzz: $t for $secs s" >&2
    if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/$t-" "$out/$t" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
        echo "fuzz: $t FOUND A CRASH (input: $(ls "$out/$t"-crash-* "$out/$t"-leak-* "$out/$t"-timeout-* 2>/dev/null | head -1)); log: $out/$t.log" >&2
        tail -30 "$out/$t.log" >&2
        rc=1
    else
        echo "fuzz: $t ok: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$out/$t.log")" >&2
    fi
done
exit $rc
