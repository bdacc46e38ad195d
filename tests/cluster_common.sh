# cluster_common.sh -- what the sweep-on-a-cluster tests share (sourced):
# a tiny sweep, its unsharded reference, and the row-for-row comparison of
# two sweep databases on every column that a run determines (all but id,
# created_at and wall_ms).
#
# The caller sets DEJA (the deja binary), SRC (the source tree) and TMP (a
# fresh directory it removes).

# The sweep every test shards: 2 grid points x 4 seeds of a short drift-fork.
SWEEP_ARGS="drift-fork --grid clock.offset_ms=0,600 --seeds 4 --set sim.duration_s=20"
SWEEP_ROWS=8

skip() {
    echo "SKIPPED: $*"
    exit 77
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

need_tools() {
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 ||
            skip "'$t' is not installed (DEJA_WITH_CLUSTER=1 scripts/setup-deps.sh installs slurm-wlm, munge, parallel and sqlite3)"
    done
}

# Prints the determined columns of every row of DB, ordered by grid point
# and seed, one row per line.
sweep_rows() {
    cols=$(sqlite3 "$1" "SELECT group_concat('\"' || name || '\"', ',') FROM pragma_table_info('runs')
                          WHERE name NOT IN ('id', 'created_at', 'wall_ms')") || fail "cannot read $1"
    sqlite3 -separator '|' "$1" "SELECT $cols FROM runs ORDER BY params_key, seed"
}

# The unsharded sweep into $TMP/ref.db.
sweep_reference() {
    # shellcheck disable=SC2086 # SWEEP_ARGS is a list of words
    "$DEJA" sweep $SWEEP_ARGS --jobs 1 --quiet --db "$TMP/ref.db" >/dev/null || fail "the unsharded sweep failed"
}

# Checks that the K shard databases split the sweep (each holds at least one
# row) and that MERGED equals the reference row for row.
sweep_check() {
    k=$1
    merged=$2
    i=0
    while [ "$i" -lt "$k" ]; do
        n=$(sqlite3 "$TMP/shards/shard-$i.db" "SELECT count(*) FROM runs") || fail "shard $i wrote no database"
        [ "$n" -ge 1 ] || fail "shard $i holds no row"
        i=$((i + 1))
    done
    sweep_rows "$TMP/ref.db" >"$TMP/ref.rows"
    sweep_rows "$merged" >"$TMP/merged.rows"
    [ "$(wc -l <"$TMP/ref.rows")" -eq "$SWEEP_ROWS" ] || fail "the reference has $(wc -l <"$TMP/ref.rows") rows, not $SWEEP_ROWS"
    diff "$TMP/ref.rows" "$TMP/merged.rows" >&2 || fail "the merged database differs from the unsharded sweep"
    echo "ok: $k shards merged into $SWEEP_ROWS rows equal to the unsharded sweep (seeds, trace hashes, metrics)"
}
