#!/bin/sh
# gdb_break.sh -- stopping a run in a debugger (docs/debugging.md): under
# gdb in batch mode, `deja run ... --break-on-verdict` stops in deja_break
# with the failing task's stack, through the node code that reported the
# fact the oracle judged; --break-at-event N stops at event #N of the text
# trace. A timeout that a blocking task runs for the scheduler runs on the
# aside stack (sim/world/fiber.h): stopped there, the backtrace still
# reaches the node code that blocked. Skips (status 77) where gdb is absent.
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

# a timeout's wake (b = -1) run by a blocking task: among the first few,
# one that ran in deja__run_timeouts unwinds through it into node/raft.c
found=
for w in $(sed -n 's/^#\([0-9]*\) [0-9]* n[0-9]* wake [0-9]* 18446744073709551615$/\1/p' "$tmp/trace" | head -6); do
    gdb -batch -nx -ex 'break deja_break' -ex run -ex bt --args $run --break-at-event "$w" >"$tmp/bt3" 2>&1 || true
    if grep -q deja__run_timeouts "$tmp/bt3"; then
        found=$w
        break
    fi
done
[ -n "$found" ] || { echo "gdb_break: none of the first timeout wakes ran in deja__run_timeouts"; exit 1; }
for want in deja__timeout_do deja__block 'node/raft.c' deja__task_entry; do
    grep -q "$want" "$tmp/bt3" || { echo "gdb_break: timeout wake #$found: no '$want' in the backtrace:"; cat "$tmp/bt3"; exit 1; }
done
echo "gdb_break: ok (violation after event #$ev; timeout wake #$found unwinds into the node)"
