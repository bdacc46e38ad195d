#!/bin/sh
# cluster_judge.sh -- `deja cluster --scenario`: a real cluster of the
# reference node judged by the simulator's chain oracle (drift-fork) beside
# the cluster's own judgement, the two agreeing on the blocks produced and
# the lowest confirmed height; and the bad inputs of --scenario and --judge
# (exit 2, one line, before any node starts), --nodes beyond what Linux
# can start among them.
# Usage: cluster_judge.sh DEJA
set -eu
deja=$1
name=cluster_judge
. "$(dirname "$0")/cluster_lib.sh"

expect2() { # expect2 WHAT ARGS...: exit 2 with a one-line message
    what=$1
    shift
    set +e
    "$deja" cluster "$@" >"$dir/out" 2>"$dir/err"
    rc=$?
    set -e
    [ "$rc" = 2 ] || fail "$what: exit $rc, not 2"
    [ "$(wc -l <"$dir/err")" = 1 ] || fail "$what: not a one-line message: $(cat "$dir/err")"
    grep -q "$what" "$dir/err" || fail "$what: the message is $(cat "$dir/err")"
}
expect2 "needs --scenario" --judge "$dir"
expect2 "no scenario 'nope'" --nodes 3 --duration-s 1 --scenario nope
expect2 "sim.nodes=4: scenario drift-fork builds 4 nodes, the cluster has 3" --nodes 3 --duration-s 1 \
    --scenario drift-fork --set sim.nodes=4 --data-dir "$dir/never"
[ ! -e "$dir/never" ] || fail "a cluster that cannot be judged started anyway"
expect2 "holds no node-I/facts file" --judge "$dir" --scenario drift-fork
# deja cluster sizes its tables from --nodes; only Linux's bound on one
# argument (every node's --peers lists all nodes) limits it
expect2 "9000 is more than 8000" --nodes 9000 --duration-s 1 --data-dir "$dir/never"
expect2 "node 70 is not below --nodes 66" --nodes 66 --duration-s 1 --faketime 70=5 --data-dir "$dir/never"
[ ! -e "$dir/never" ] || fail "a cluster with a bad count started anyway"

"$deja" cluster --nodes 3 --duration-s 3 --set aura.slot_ms=250 --scenario drift-fork \
    --data-dir "$dir/c" >"$dir/c.txt" 2>"$dir/c.err" || { cat "$dir/c.txt" "$dir/c.err" >&2; fail "the judged cluster failed"; }
[ "$(get verdict "$dir/c.txt")" = ok ] && [ "$(get oracle_verdict "$dir/c.txt")" = ok ] ||
    fail "verdict $(get verdict "$dir/c.txt"), oracle_verdict $(get oracle_verdict "$dir/c.txt")"
[ "$(get oracle "$dir/c.txt")" = drift-fork ] || fail "no oracle=drift-fork"
blocks=$(get blocks "$dir/c.txt")
[ "$blocks" -gt 0 ] || fail "no blocks"
[ "$(get oracle_blocks "$dir/c.txt")" = "$blocks" ] || fail "the chain oracle counts $(get oracle_blocks "$dir/c.txt") blocks, the cluster $blocks"
[ "$(get confirmed "$dir/c.txt")" = "$(get confirmed_height "$dir/c.txt")" ] ||
    fail "the chain oracle's confirmed $(get confirmed "$dir/c.txt") is not confirmed_height $(get confirmed_height "$dir/c.txt")"
[ "$(get facts "$dir/c.txt")" -gt 0 ] || fail "no facts fed"
"$deja" cluster --judge "$dir/c" --scenario drift-fork --set aura.slot_ms=250 >"$dir/j.txt" ||
    fail "--judge of the same directory failed"
[ "$(get nodes "$dir/j.txt")" = 3 ] || fail "--judge did not infer 3 nodes from the facts files"
expect2 "nodes: 4, but $dir/c holds the facts of 3 nodes" --judge "$dir/c" --scenario drift-fork --nodes 4
expect2 "sim.nodes=4: scenario drift-fork builds 4 nodes, the cluster has 3" --judge "$dir/c" --scenario drift-fork \
    --set sim.nodes=4
[ "$(get oracle_blocks "$dir/j.txt")" = "$blocks" ] || fail "--judge counts other blocks"
echo "cluster_judge: ok"
