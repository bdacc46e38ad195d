#!/bin/sh
# fetch_content.sh -- deja as a subproject: the tutorial node's FetchContent
# recipe (docs/own-node/fetch/CMakeLists.txt), copied out of the tree and
# pointed at this source tree (FETCHCONTENT_SOURCE_DIR_DEJA: no clone, no
# network), configured with the parent's BUILD_TESTING on. deja's tests are
# not configured and its executables are not built by the parent's build;
# kvsim links deja::cli and deja::sim, binds its symbols at load time, runs
# the scenario kv (ok) and finds its bug (kv_gap, exit 1). When the source
# tree is a git checkout, the recipe's GIT_REPOSITORY path (file://, its
# HEAD commit) is configured too, without building.
# Usage: fetch_content.sh SOURCE_DIR C_COMPILER
set -eu
src=$1
cc=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/deja-fetch-XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail() { echo "fetch_content: $*" >&2; exit 1; }
step() { echo "fetch_content: $*" >&2; }

cp -r "$src/docs/own-node" "$dir/kv"
rm -rf "$dir/kv/build"
step "configure the FetchContent recipe against the source tree"
cmake -S "$dir/kv/fetch" -B "$dir/b" -DCMAKE_C_COMPILER="$cc" -DBUILD_TESTING=ON \
    -DFETCHCONTENT_SOURCE_DIR_DEJA="$src" -DFETCHCONTENT_FULLY_DISCONNECTED=ON >"$dir/cfg.log" 2>&1 ||
    { cat "$dir/cfg.log" >&2; fail "configuring the FetchContent project failed"; }
[ ! -e "$dir/b/_deps/deja-build/tests" ] || fail "deja's tests were configured in a parent project"
cmake --build "$dir/b" --target help >"$dir/targets.txt"
! grep -q 'test_sim_core' "$dir/targets.txt" || fail "deja's test targets exist in a parent project"

step "build kvsim (deja's libraries only, -j2)"
nice cmake --build "$dir/b" --target kvsim -j2 >"$dir/build.log" 2>&1 ||
    { tail -40 "$dir/build.log" >&2; fail "building kvsim with FetchContent failed"; }
[ ! -e "$dir/b/_deps/deja-build/deja" ] || fail "deja's own executable was built for kvsim"
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$dir/b/kvsim" | grep -Eq '\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW' ||
        fail "kvsim is linked for lazy binding (no BIND_NOW in readelf -d)"
fi

step "run kvsim"
cd "$dir"
"$dir/b/kvsim" run kv --seed 3 --set sim.duration_s=5 >"$dir/run.txt" || fail "kvsim run kv --seed 3 failed"
grep -q '^verdict=ok$' "$dir/run.txt" || fail "kvsim run kv: verdict is not ok"
grep -q '^kv_committed=[1-9]' "$dir/run.txt" || fail "kvsim run kv: nothing committed"
set +e
"$dir/b/kvsim" run kv --seed 1 --set kv.bug=1 >"$dir/bug.txt" 2>/dev/null
rc=$?
set -e
[ "$rc" = 1 ] && grep -q '^verdict=kv_gap$' "$dir/bug.txt" || fail "kv.bug=1: exit $rc, not 1 with verdict kv_gap"

if command -v git >/dev/null 2>&1 && head=$(git -C "$src" rev-parse --verify -q HEAD 2>/dev/null); then
    step "configure the recipe's GIT_REPOSITORY path: file://$src at $head"
    cmake -S "$dir/kv/fetch" -B "$dir/g" -DCMAKE_C_COMPILER="$cc" -DDEJA_GIT_REPOSITORY="file://$src" \
        -DDEJA_GIT_TAG="$head" >"$dir/git.log" 2>&1 || { tail -40 "$dir/git.log" >&2; fail "FetchContent from git failed"; }
    [ "$(git -C "$dir/g/_deps/deja-src" rev-parse HEAD)" = "$head" ] || fail "FetchContent checked out another commit"
    grep -q 'add_library(deja::' "$dir/g/_deps/deja-src/CMakeLists.txt" || fail "the clone has no deja:: targets"
fi
echo "fetch_content: ok"
