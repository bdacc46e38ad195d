#!/bin/bash
# test_cluster_slurm.sh -- a sweep as a 4-task Slurm job array
# (scripts/cluster/sweep-array.sbatch, as docs/cluster.md shows), merged by
# a job that depends on the array, is row for row the unsharded sweep: same
# seeds, same trace hashes.
#
# The test brings up a one-machine Slurm of its own in a temporary
# directory: munged on its own socket and key, slurmctld and slurmd on
# localhost with their own slurm.conf, ports and state, so it touches no
# Slurm or munge of the host; it stops them (by their pid files) and removes
# the directory at the end. Skipped (exit 77) only when the tools are
# missing or the daemons cannot start (their logs are printed).
#
#   test_cluster_slurm.sh DEJA SRC
set -eu
DEJA=$1
SRC=$2
. "$SRC/tests/cluster_common.sh"
need_tools munged slurmctld slurmd sbatch squeue sinfo sqlite3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/deja-slurm-XXXXXX")
chmod 711 "$TMP"

stop_all() {
    for f in slurmd slurmctld; do
        [ -s "$TMP/$f.pid" ] && kill "$(cat "$TMP/$f.pid")" 2>/dev/null || true
    done
    if [ -S "$TMP/munge.sock" ]; then munged --stop --socket="$TMP/munge.sock" >/dev/null 2>&1 || true; fi
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        alive=0
        for f in slurmd slurmctld; do
            [ -s "$TMP/$f.pid" ] && kill -0 "$(cat "$TMP/$f.pid")" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.3
    done
    rm -rf "$TMP"
}
trap stop_all EXIT

cannot_start() {
    for f in munged.log slurmctld.log slurmd.log; do
        [ -f "$TMP/$f" ] && { echo "--- $f"; tail -n 20 "$TMP/$f"; }
    done
    skip "Slurm cannot start here: $*"
}

# Two free TCP ports on localhost, from a range keyed on our pid (several
# test runs on one machine pick different ones).
free_port() {
    p=$1
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
    echo "$p"
}
base=$((20000 + ($$ % 2000) * 10))
CTLD_PORT=$(free_port "$base")
SLURMD_PORT=$(free_port $((CTLD_PORT + 1)))

head -c 1024 /dev/urandom >"$TMP/munge.key"
chmod 400 "$TMP/munge.key"
munged --force --socket="$TMP/munge.sock" --key-file="$TMP/munge.key" --log-file="$TMP/munged.log" \
    --pid-file="$TMP/munged.pid" --seed-file="$TMP/munged.seed" || cannot_start "munged failed"

user=$(id -un)
mkdir -p "$TMP/state" "$TMP/spool" "$TMP/shards"
cat >"$TMP/slurm.conf" <<CONF
ClusterName=dejatest
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$TMP/munge.sock
CredType=cred/munge
SlurmUser=$user
SlurmdUser=$user
StateSaveLocation=$TMP/state
SlurmdSpoolDir=$TMP/spool
SlurmctldPidFile=$TMP/slurmctld.pid
SlurmdPidFile=$TMP/slurmd.pid
SlurmctldLogFile=$TMP/slurmctld.log
SlurmdLogFile=$TMP/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
ReturnToService=2
InactiveLimit=0
KillWait=2
MinJobAge=600
NodeName=localhost CPUs=2 State=UNKNOWN
PartitionName=deja Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$TMP/slurm.conf"
slurmctld -f "$SLURM_CONF" -i || cannot_start "slurmctld failed"
slurmd -f "$SLURM_CONF" -N localhost || cannot_start "slurmd failed"
up=0
for _ in $(seq 1 60); do
    if [ "$(sinfo -h -n localhost -o %t 2>/dev/null)" = idle ]; then up=1; break; fi
    sleep 0.5
done
[ $up = 1 ] || cannot_start "the node did not come up within 30 s"
echo "slurm up on ports $CTLD_PORT/$SLURMD_PORT"

sweep_reference

# The array: 4 shards, one database each; then the merge, after all of them.
# shellcheck disable=SC2086 # SWEEP_ARGS is a list of words
array=$(DEJA=$DEJA sbatch --parsable --export=ALL --array=0-3 --output="$TMP/shard-%a.out" \
    "$SRC/scripts/cluster/sweep-array.sbatch" "$TMP/shards" $SWEEP_ARGS) || fail "sbatch of the array failed"
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="$TMP/merge.out" \
    --wrap "'$DEJA' sweep --merge '$TMP/merged.db' '$TMP'/shards/shard-*.db") || fail "sbatch of the merge failed"
echo "submitted array $array and merge $merge"

# Wait (at most 120 s) until neither job is queued or running.
for _ in $(seq 1 240); do
    [ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ] && break
    sleep 0.5
done
[ -z "$(squeue -h -j "$array,$merge" -o %i 2>/dev/null)" ] || fail "the jobs did not finish within 120 s"
for f in "$TMP"/shard-*.out "$TMP/merge.out"; do
    [ -f "$f" ] && { echo "--- $(basename "$f")"; cat "$f"; }
done
[ -f "$TMP/merged.db" ] || fail "the merge job wrote no database"
sweep_check 4 "$TMP/merged.db"
