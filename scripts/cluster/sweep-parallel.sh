#!/bin/sh
# sweep-parallel.sh -- a deja sweep cut into K shards run by GNU parallel
# (docs/cluster.md): shard I runs the sweep's jobs whose index % K == I into
# DIR/shard-I.db, then `deja sweep --merge` joins them into DIR/merged.db.
#
#   scripts/cluster/sweep-parallel.sh K DIR SCENARIO [deja sweep flags...]
#
# The flags are those of `deja sweep` except --db, --shard and --jobs (one
# worker per shard; parallel runs PARALLEL_JOBS shards at once, default:
# one per CPU). PARALLEL_FLAGS adds flags of parallel's own, e.g.
# "-S host1,host2" to spread the shards over machines that share DIR and
# have deja on their PATH. DEJA names the deja binary.
set -eu
if [ $# -lt 3 ]; then
    echo "usage: sweep-parallel.sh K DIR SCENARIO [deja sweep flags...]" >&2
    exit 2
fi
k=$1
dir=$2
shift 2
case $k in '' | *[!0-9]*) echo "sweep-parallel.sh: K '$k' is not a count" >&2; exit 2 ;; esac
[ "$k" -ge 1 ] || { echo "sweep-parallel.sh: K must be at least 1" >&2; exit 2; }
deja=${DEJA:-deja}
mkdir -p "$dir"
# shellcheck disable=SC2086 # PARALLEL_FLAGS is a list of flags
seq 0 $((k - 1)) | parallel --will-cite --halt now,fail=1 --jobs "${PARALLEL_JOBS:-100%}" ${PARALLEL_FLAGS:-} \
    "$deja" sweep "$@" --quiet --jobs 1 --shard "{}/$k" --db "$dir/shard-{}.db"
i=0
set --
while [ $i -lt "$k" ]; do
    set -- "$@" "$dir/shard-$i.db"
    i=$((i + 1))
done
exec "$deja" sweep --merge "$dir/merged.db" "$@"
