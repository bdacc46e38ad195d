#!/bin/sh
# own_node.sh -- the tutorial node (docs/own-node/) built out of tree
# against deja *installed into a temporary prefix*, as docs/own-node.md
# tells a team to do it: with find_package(deja) and with pkg-config. Both
# simulation binaries are linked with immediate binding (BIND_NOW). Its
# binary runs, saves a seed that replays (match=yes), names itself in the
# replay command, fails with its own verdict when its bug is on, prints its
# own fact kind by name in the text trace, takes a flood (net.flood_*: ok
# as it is, kv_unsafe_commit when its primary trusts every acknowledgement),
# replays the tutorial's seeds of deja's seeds/ (seeds/kv-*.seed) and runs
# 1,000 nodes, sweeps and plots a small grid;
# its daemon runs as a 3-node production cluster under `deja cluster
# --node-bin`, whose facts files name the kind too; kvsim's own cluster
# command judges such a cluster with the kv oracle (--scenario kv): ok for
# the node as it is, kv_gap with its bug on and datagrams lost, and --judge
# re-judges a directory (a hand-written one too; a malformed line is named
# by file and line, exit 2). Last, the installed
# prefix is moved and its deja still finds its plot scripts.
# Usage: own_node.sh SOURCE_DIR BUILD_DIR C_COMPILER
set -eu
src=$1
build=$2
cc=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/deja-own-node-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "own_node: $*" >&2; exit 1; }
step() { echo "own_node: $*" >&2; }

step "install into a temporary prefix"
cmake --install "$build" --prefix "$dir/prefix" >/dev/null
[ -x "$dir/prefix/bin/deja" ] && [ -f "$dir/prefix/include/deja/rt.h" ] || fail "the install is incomplete"

step "build with find_package(deja)"
cmake -S "$src/docs/own-node" -B "$dir/cmake" -DCMAKE_PREFIX_PATH="$dir/prefix" -DCMAKE_C_COMPILER="$cc" \
    >"$dir/cmake.log" 2>&1 || { cat "$dir/cmake.log" >&2; fail "configuring with find_package failed"; }
cmake --build "$dir/cmake" >>"$dir/cmake.log" 2>&1 || { cat "$dir/cmake.log" >&2; fail "the CMake build failed"; }

step "build with pkg-config"
mkdir "$dir/make"
cp "$src/docs/own-node/"*.c "$src/docs/own-node/"*.h "$src/docs/own-node/Makefile" "$dir/make/"
PKG_CONFIG_PATH="$dir/prefix/lib/pkgconfig" make -C "$dir/make" CC="$cc" >"$dir/make.log" 2>&1 ||
    { cat "$dir/make.log" >&2; fail "the pkg-config build failed"; }

step "both simulation binaries bind every symbol at load time (-z now: no lazy binding on a task's stack)"
if command -v readelf >/dev/null 2>&1; then
    for b in "$dir/cmake/kvsim" "$dir/make/kvsim"; do
        readelf -d "$b" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' ||
            fail "$b is linked for lazy binding (no BIND_NOW in readelf -d)"
    done
fi

kvsim=$dir/cmake/kvsim
cd "$dir"
step "run"
"$kvsim" run kv --seed 3 --trace "$dir/trace.txt" >"$dir/run.txt" || fail "kvsim run kv --seed 3 failed"
grep -q '^verdict=ok$' "$dir/run.txt" || fail "kvsim run: verdict is not ok"
grep -q ' fact kv\.apply ' "$dir/trace.txt" || fail "the text trace does not name the fact kind kv.apply"
"$dir/make/kvsim" run kv --seed 3 >"$dir/run2.txt" || fail "the pkg-config kvsim failed"
[ "$(grep trace_hash "$dir/run.txt")" = "$(grep trace_hash "$dir/run2.txt")" ] ||
    fail "the two builds disagree on the trace hash of seed 3"

step "the bug behind kv.bug=1: a failing verdict, a replay command naming kvsim, a seed that replays"
set +e
"$kvsim" run kv --seed 1 --set kv.bug=1 --save "$dir/bug.seed" >"$dir/bug.txt" 2>"$dir/bug.err"
rc=$?
set -e
[ "$rc" = 1 ] || fail "kv.bug=1 exited $rc, not 1"
grep -q '^verdict=kv_gap$' "$dir/bug.txt" || fail "kv.bug=1: the verdict is not kv_gap"
grep -q "^replay: .*kvsim run kv --seed 1 --set kv.bug=1\$" "$dir/bug.err" ||
    fail "the replay command does not name kvsim: $(grep replay "$dir/bug.err")"
"$kvsim" replay "$dir/bug.seed" >"$dir/replay.txt" 2>/dev/null || fail "kvsim replay bug.seed: no match"
grep -q '^match=yes$' "$dir/replay.txt" || fail "kvsim replay: match is not yes"
grep -q 'kvsim' "$dir/bug.seed" || fail "the seed file's comment does not name kvsim"

step "a flood from a replica: absorbed as the node is, kv_unsafe_commit when the primary trusts every ack"
flood="--set net.flood_rate=2000 --set net.flood_from=1 --set net.flood_at_s=2 --set sim.duration_s=6"
# shellcheck disable=SC2086
"$kvsim" run kv --seed 3 $flood >"$dir/flood.txt" || fail "kvsim run kv with a flood failed"
grep -q '^verdict=ok$' "$dir/flood.txt" || fail "the flooded node's verdict is not ok"
grep -q '^flood_sent=[1-9][0-9]*$' "$dir/flood.txt" || fail "the flood sent nothing"
grep -q '^peak_tasks=5$' "$dir/flood.txt" || fail "the flood changed the node's task count: $(grep peak_tasks "$dir/flood.txt")"
# shellcheck disable=SC2086
"$dir/make/kvsim" run kv --seed 3 $flood >"$dir/flood2.txt" || fail "the pkg-config kvsim failed under a flood"
[ "$(grep trace_hash "$dir/flood.txt")" = "$(grep trace_hash "$dir/flood2.txt")" ] ||
    fail "the two builds disagree on the trace hash of the flooded run"
set +e
# shellcheck disable=SC2086
"$kvsim" run kv --seed 3 $flood --set kv.trust_acks=1 >"$dir/trust.txt" 2>/dev/null
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '^verdict=kv_unsafe_commit$' "$dir/trust.txt" ||
    fail "kv.trust_acks=1 under a flood: exit $rc, $(grep '^verdict' "$dir/trust.txt")"
grep -q '^kv_first_violation=entry [0-9]* committed at [0-9]* ms, applied by 1 of 3 nodes$' "$dir/trust.txt" ||
    fail "kv.trust_acks=1: $(grep first_violation "$dir/trust.txt")"
for f in "$src"/seeds/kv-*.seed; do
    "$kvsim" replay "$f" >"$dir/kvseed.txt" 2>/dev/null || fail "kvsim replay $f: no match"
    grep -q '^match=yes$' "$dir/kvseed.txt" || fail "kvsim replay $f: match is not yes"
done

step "1,000 nodes (kv.nodes has no cap of its own), and a node count below 2 refused"
"$kvsim" run kv --seed 3 --set kv.nodes=1000 --set sim.duration_s=2 >"$dir/big.txt" || fail "1,000 kv nodes failed"
grep -q '^verdict=ok$' "$dir/big.txt" && grep -q '^kv_applied_min=[1-9][0-9]*$' "$dir/big.txt" ||
    fail "1,000 kv nodes: $(grep -E '^(verdict|kv_applied_min)' "$dir/big.txt")"
set +e
"$kvsim" run kv --seed 3 --set kv.nodes=1 >/dev/null 2>"$dir/one.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'kv.nodes' "$dir/one.err" || fail "kv.nodes=1: exit $rc, $(cat "$dir/one.err")"

step "sweep and plot"
"$kvsim" sweep kv --grid kv.bug=0,1 --grid kv.loss_pct=0,2 --seeds 2 --set sim.duration_s=5 --db "$dir/s.db" \
    --quiet >/dev/null 2>&1 || fail "kvsim sweep failed"
"$kvsim" plot metric --db "$dir/s.db" --scenario kv --x kv.loss_pct --y kv_gaps --series kv.bug \
    --csv "$dir/gaps.csv" >/dev/null || fail "kvsim plot metric failed"
[ "$(head -1 "$dir/gaps.csv")" = "kv.bug,kv.loss_pct,kv_gaps_mean,kv_gaps_stddev,runs" ] ||
    fail "plot --csv header: $(head -1 "$dir/gaps.csv")"
[ "$(wc -l <"$dir/gaps.csv")" = 5 ] || fail "plot --csv: not 4 groups"
if command -v gnuplot >/dev/null 2>&1; then
    DEJA_PLOTS_DIR=$(PKG_CONFIG_PATH="$dir/prefix/lib/pkgconfig" pkg-config --variable=plotsdir deja) \
        "$kvsim" plot metric --db "$dir/s.db" --scenario kv --x kv.loss_pct --y kv_gaps --series kv.bug \
        -o "$dir/gaps.png" >/dev/null || fail "kvsim plot metric -o failed"
    [ -s "$dir/gaps.png" ] || fail "no PNG"
fi

step "a 3-node production cluster of kvnode"
"$dir/cmake/kvnode" --version | grep -q '^kvnode [0-9]' || fail "kvnode --version"
"$dir/prefix/bin/deja" cluster --nodes 3 --duration-s 2 --grace-s 5 --node-bin "$dir/cmake/kvnode" \
    --data-dir "$dir/cluster" >"$dir/cluster.txt" 2>"$dir/cluster.err" ||
    { cat "$dir/cluster.txt" "$dir/cluster.err" >&2; fail "deja cluster --node-bin kvnode failed"; }
grep -q '^verdict=ok$' "$dir/cluster.txt" || fail "the cluster's verdict is not ok"
# the backend's own detectors judge this node too: its leak inspector ran
# on every node and found nothing, nothing was lost or left running
for k in deadlocks leak_groups lost_contexts lost_timers tasks_left; do
    grep -q "^$k=0$" "$dir/cluster.txt" || fail "the kvnode cluster: $k is not 0"
done
grep -q '^inspect: node=0 ' "$dir/cluster/node-0/log" || fail "kvnode's leak inspector did not run"
for i in 0 1 2; do
    grep -q ' kv\.apply ' "$dir/cluster/node-$i/facts" || fail "node $i's facts file does not name kv.apply"
done
step "the same cluster judged by the kv oracle: kvsim cluster --scenario kv"
"$kvsim" cluster --nodes 3 --duration-s 2 --grace-s 5 --node-bin "$dir/cmake/kvnode" --scenario kv \
    --data-dir "$dir/judged" >"$dir/judged.txt" 2>"$dir/judged.err" ||
    { cat "$dir/judged.txt" "$dir/judged.err" >&2; fail "kvsim cluster --scenario kv failed"; }
for k in verdict oracle_verdict; do
    grep -q "^$k=ok\$" "$dir/judged.txt" || fail "kvsim cluster --scenario kv: $k is not ok"
done
grep -q '^oracle=kv$' "$dir/judged.txt" || fail "kvsim cluster --scenario kv: no oracle=kv"
for k in facts kv_applied_min kv_committed; do
    grep -q "^$k=[1-9][0-9]*\$" "$dir/judged.txt" || fail "kvsim cluster --scenario kv: $k is 0 or missing"
done
grep -q '^kv_gaps=0$' "$dir/judged.txt" || fail "kvsim cluster --scenario kv: kv_gaps is not 0"

step "the bug in production: kv.bug=1 and 10 % of datagrams lost give the oracle's kv_gap"
set +e
"$kvsim" cluster --nodes 3 --duration-s 2 --grace-s 5 --node-bin "$dir/cmake/kvnode" --scenario kv \
    --set kv.bug=1 --net-loss-pct 10 --data-dir "$dir/buggy" >"$dir/buggy.txt" 2>"$dir/buggy.err"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$dir/buggy.txt" "$dir/buggy.err" >&2; fail "the buggy cluster exited $rc, not 1"; }
grep -q '^verdict=kv_gap$' "$dir/buggy.txt" || fail "the buggy cluster's verdict is not kv_gap"
grep -q '^kv_gaps=[1-9]' "$dir/buggy.txt" || fail "the buggy cluster: kv_gaps is 0"
grep -q '^exit_status=0,0,0$' "$dir/buggy.txt" || fail "the buggy cluster: its nodes did not exit 0"

step "--judge: a cluster directory judged again, and a hand-written one"
set +e
"$kvsim" cluster --judge "$dir/buggy" --scenario kv >"$dir/rejudged.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '^verdict=kv_gap$' "$dir/rejudged.txt" || fail "--judge of the buggy cluster: not kv_gap ($rc)"
z=00000000000000000000000000000000
mkdir -p "$dir/hand/node-0" "$dir/hand/node-1"
printf '1000 start 0 0 %s %s 0 %s\n2000 kv.apply 1 0 %s %s 0 %s\n3000 kv.apply 3 0 %s %s 0 %s\n' \
    $z $z $z $z $z $z $z $z $z >"$dir/hand/node-0/facts"
printf '1500 start 0 0 %s %s 1 %s\n2500 kv.apply 1 0 %s %s 0 %s\n' $z $z $z $z $z $z >"$dir/hand/node-1/facts"
set +e
"$kvsim" cluster --judge "$dir/hand" --scenario kv >"$dir/hand.txt" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '^kv_first_violation=node 0 applied 3 after 1 at 0 ms$' "$dir/hand.txt" ||
    { cat "$dir/hand.txt" >&2; fail "--judge of a hand-written gap: not kv_gap ($rc)"; }
grep -q '^nodes=2$' "$dir/hand.txt" || fail "--judge did not infer 2 nodes from the facts files (kv.nodes follows)"
for bad in "--nodes 3" "--set kv.nodes=3"; do
    set +e
    "$kvsim" cluster --judge "$dir/hand" --scenario kv $bad >/dev/null 2>"$dir/count.err"
    rc=$?
    set -e
    [ "$rc" = 2 ] && [ "$(wc -l <"$dir/count.err")" = 1 ] && grep -q "nodes" "$dir/count.err" ||
        fail "--judge with $bad against 2 facts files: exit $rc, $(cat "$dir/count.err")"
done
echo "2600 kv.apply 2 0 $z nothex 0" >>"$dir/hand/node-1/facts"
set +e
"$kvsim" cluster --judge "$dir/hand" --scenario kv >/dev/null 2>"$dir/bad.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "--judge of a malformed facts file exited $rc, not 2"
grep -q "node-1/facts:3: PARENT is not 32 hex digits" "$dir/bad.err" || fail "malformed facts: $(cat "$dir/bad.err")"
[ "$(wc -l <"$dir/bad.err")" = 1 ] || fail "malformed facts: not a one-line message"

step "the installed deja, moved elsewhere, still finds its plot scripts"
mv "$dir/prefix" "$dir/moved"
env -u DEJA_PLOTS_DIR "$dir/moved/bin/deja" plot --help | grep -qF "reads them from $dir/moved/bin/../share/deja/plots" ||
    fail "the moved deja does not read its plot scripts beside itself: $("$dir/moved/bin/deja" plot --help | tail -4)"
"$dir/moved/bin/deja" run drift-fork --seed 7 --set sim.duration_s=10 | grep -q '^verdict=ok$' ||
    fail "the moved deja cannot run drift-fork"
if command -v gnuplot >/dev/null 2>&1; then
    env -u DEJA_PLOTS_DIR "$dir/moved/bin/deja" plot metric --db "$dir/s.db" --scenario kv --x kv.loss_pct \
        --y kv_gaps -o "$dir/moved.png" >/dev/null || fail "the moved deja cannot plot"
fi
echo "own_node: ok"
