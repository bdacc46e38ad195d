#!/bin/sh
# gdb_break.sh -- stopping a run in a debugger (docs/debugging.md): under
# gdb in batch mode, `deja run ... --break-on-verdict` stops in deja_break
# with the failing task's stack, through the node code that reported the
# fact the oracle judged; --break-at-event N stops at event #N of the text
# trace. Skips (status 77) where gdb is absent.
# usage: gdb_break.sh PATH_TO_DEJA
set -eu
deja=${1:?usage: gdb_break.sh PATH_TO_DEJA}
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb_break: SKIP: gdb is not installed (scripts/setup-deps.sh installs it)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run="$deja run raft --seed 7 --set raft.sync=0"
# the run fails, and says where the oracle saw it
$run >"$tmp/sum" 2>/dev/null && { echo "gdb_break: the run should fail"; exit 1; }
ev=$(sed -n 's/^violation_event=//p' "$tmp/sum")
[ -n "$ev" ] || { echo "gdb_break: no violation_event in the summary"; exit 1; }

gdb -batch -nx -ex 'break deja_break' -ex run -ex bt --args $run --break-on-verdict >"$tmp/bt" 2>&1 || true
for want in 'Breakpoint 1, deja_break' deja_world_violation rt_fact_report 'node/raft.c' node_raft_main; do
    grep -q "$want" "$tmp/bt" || { echo "gdb_break: --break-on-verdict: no '$want' in the backtrace:"; cat "$tmp/bt"; exit 1; }
done

# the violation came right after event #ev: the fact report that broke it
gdb -batch -nx -ex 'break deja_break' -ex run -ex bt --args $run --break-at-event "$ev" >"$tmp/bt2" 2>&1 || true
for want in 'Breakpoint 1, deja_break' rt_fact_report 'node/raft.c'; do
    grep -q "$want" "$tmp/bt2" || { echo "gdb_break: --break-at-event: no '$want' in the backtrace:"; cat "$tmp/bt2"; exit 1; }
done
# the text trace numbers its events, and event #ev is that fact
$run --trace "$tmp/trace" >/dev/null 2>&1 || true
grep -q "^#$ev [0-9]* n[0-9]*/t[0-9]* fact " "$tmp/trace" || { echo "gdb_break: event #$ev is not a fact in the text trace"; exit 1; }
echo "gdb_break: ok (violation after event #$ev)"
