#!/bin/sh
# test_cluster_parallel.sh -- a sweep cut into 4 shards run by GNU parallel
# (scripts/cluster/sweep-parallel.sh, as docs/cluster.md shows), merged, is
# row for row the unsharded sweep: same seeds, same trace hashes. Skipped
# (exit 77) only when parallel or sqlite3 is missing.
#
#   test_cluster_parallel.sh DEJA SRC
set -eu
DEJA=$1
SRC=$2
. "$SRC/tests/cluster_common.sh"
need_tools parallel sqlite3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/deja-parallel-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
sweep_reference
# shellcheck disable=SC2086 # SWEEP_ARGS is a list of words
DEJA=$DEJA PARALLEL_JOBS=2 "$SRC/scripts/cluster/sweep-parallel.sh" 4 "$TMP/shards" $SWEEP_ARGS >"$TMP/log" 2>&1 ||
    { cat "$TMP/log" >&2; fail "sweep-parallel.sh failed"; }
sweep_check 4 "$TMP/shards/merged.db"
