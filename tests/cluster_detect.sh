#!/bin/sh
# cluster_detect.sh -- the production backend's own detectors judge a real
# cluster: `deja cluster` reads each node's last status (deadlocks,
# leak_groups, lost_contexts, lost_timers, tasks left after the stop) and
# names the run by them before the facts, as a simulated run's detectors
# come before its oracles. A reference node that loses a context at every
# block audit (node.leak=ctx) gives `leak`, and so does judging its
# directory again with --judge; cycles a lock timeout broke are summed
# (deadlock_timeouts) without changing the verdict; a status that counts a
# deadlock gives `deadlock`; with the inspector off no task group is
# flagged.
# Usage: cluster_detect.sh DEJA
set -eu
deja=$1
name=cluster_detect
. "$(dirname "$0")/cluster_lib.sh"

# a context lost at every audit: the backend counts each, the verdict is leak
run_cluster c --nodes 3 --duration-s 4 --set node.leak=ctx --data-dir "$dir/c"
[ "$rc" = 1 ] || { cat "$dir/c.txt" "$dir/c.err" >&2; fail "a leaking cluster exited $rc, not 1"; }
[ "$(get verdict "$dir/c.txt")" = leak ] || fail "verdict $(get verdict "$dir/c.txt"), not leak"
[ "$(get lost_contexts "$dir/c.txt")" -gt 0 ] || fail "no lost context counted"
[ "$(get deadlocks "$dir/c.txt")" = 0 ] || fail "a deadlock counted"
grep -q '^detected=node [0-2]: ' "$dir/c.txt" || fail "no detected line naming a node"
grep -q 'LEAK (context)' "$dir/c/node-0/log" || fail "node 0's log has no lost-context report"

# judging the directory again gives the same verdict, before the oracle's
run_cluster j --judge "$dir/c" --scenario drift-fork
[ "$rc" = 1 ] || { cat "$dir/j.txt" "$dir/j.err" >&2; fail "--judge exited $rc, not 1"; }
[ "$(get verdict "$dir/j.txt")" = leak ] || fail "--judge: verdict $(get verdict "$dir/j.txt"), not leak"
[ "$(get oracle_verdict "$dir/j.txt")" = ok ] || fail "--judge: the oracle's verdict is not ok"
[ "$(get lost_contexts "$dir/j.txt")" = "$(get lost_contexts "$dir/c.txt")" ] || fail "--judge counts other losses"

# cycles a lock timeout broke are summed and shown, not a verdict
grep -q '^deadlock_timeouts=' "$dir/j.txt" && fail "deadlock_timeouts shown while zero"
sed -i 's/^deadlock_timeouts=.*/deadlock_timeouts=2/' "$dir/c/node-0/status"
sed -i 's/^deadlock_timeouts=.*/deadlock_timeouts=1/' "$dir/c/node-1/status"
run_cluster t --judge "$dir/c" --scenario drift-fork
[ "$(get deadlock_timeouts "$dir/t.txt")" = 3 ] || fail "deadlock_timeouts '$(get deadlock_timeouts "$dir/t.txt")', not 3"
[ "$(get verdict "$dir/t.txt")" = leak ] || fail "deadlock_timeouts changed the verdict to $(get verdict "$dir/t.txt")"

# a node whose backend reported a deadlock (it aborts then, its status says
# so): deadlock comes first
sed -i 's/^deadlocks=.*/deadlocks=1/' "$dir/c/node-2/status"
run_cluster d --judge "$dir/c" --scenario drift-fork
[ "$(get verdict "$dir/d.txt")" = deadlock ] || fail "a counted deadlock: verdict $(get verdict "$dir/d.txt")"
[ "$(get detected "$dir/d.txt")" = "node 2: deadlocks=1, see node-2/log" ] ||
    fail "detected is '$(get detected "$dir/d.txt")'"

# a node killed and restarted (--kill) keeps its first life's status as
# status.1: the cluster counts the losses of both lives
run_cluster k --nodes 3 --duration-s 6 --set node.leak=ctx --kill 1@3.5:0.5 --data-dir "$dir/k"
[ "$(get restarts "$dir/k.txt")" = 1 ] || { cat "$dir/k.txt" "$dir/k.err" >&2; fail "--kill: no restart"; }
[ -f "$dir/k/node-1/status.1" ] || fail "--kill: the first life's status was not kept"
sum=$(cat "$dir"/k/node-*/status* | sed -n 's/^lost_contexts=//p' | awk '{ s += $1 } END { print s }')
[ "$(get lost_contexts "$dir/k.txt")" = "$sum" ] || fail "--kill: lost_contexts $(get lost_contexts "$dir/k.txt"), the files say $sum"
[ "$(sed -n 's/^lost_contexts=//p' "$dir/k/node-1/status.1")" -gt 0 ] || fail "--kill: the first life lost nothing?"

# with the inspector off the nodes flag no task group and log no inspection
"$deja" cluster --nodes 2 --duration-s 2 --inspect-s 0 --data-dir "$dir/q" >"$dir/q.txt" 2>"$dir/q.err" ||
    { cat "$dir/q.txt" "$dir/q.err" >&2; fail "a healthy cluster failed"; }
[ "$(get verdict "$dir/q.txt")" = ok ] || fail "a healthy cluster: verdict $(get verdict "$dir/q.txt")"
[ "$(get leak_groups "$dir/q.txt")" = 0 ] || fail "leak_groups counted with the inspector off"
! grep -q '^inspect:' "$dir/q/node-0/log" || fail "the inspector ran with --inspect-s 0"
grep -q '^inspect:' "$dir/c/node-0/log" || fail "the inspector did not run by default"
echo "cluster_detect: ok"
