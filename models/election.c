/*
 * election.c -- the scenario `election`: the classic randomized-timeout
 * experiment (Ongaro's thesis, "Leader election" chapter). Five nodes of
 * the Raft engine, about 15 ms broadcast time (7.5 ms one way, small
 * jitter), perfect clocks. Node 0 starts as the leader of term 1 and the
 * followers hold logs of different lengths (raft.boot_logs, frozen by
 * raft.max_batch=0: heartbeats carry no entries), so some of them cannot
 * win. After election.warmup_ms of steady heartbeats the leader is crashed
 * at a uniformly random point of its heartbeat interval, right after a
 * heartbeat every follower received; it stays down. The metric is
 * downtime_ms: from the crash until a new leader is known to a majority
 * (its LEADER fact plus FOLLOW facts). A run in which no leader emerges by
 * the end (election.after_s later) fails with verdict liveness and has no
 * downtime_ms.
 *
 * The crash point is drawn from the world's "election" stream.
 */
#include "raft_world.h"

static const deja_param_def deja__election_params[] = {
    DEJA_RAFT_PARAMS("5", "150-300", "0", "0", "10,10,9,9,8", "0", "0", "7.5", "1", "0"),
    {"election.warmup_ms", "1000", "the leader leads this long (whole heartbeats) before the crash window"},
    {"election.after_s", "10", "the run goes on this long after the crash window (then: liveness)"},
    {NULL, NULL, NULL},
};

static int deja__election_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t warm, after;
    if (deja_params_i64(p, "election.warmup_ms", 0, 3600000, &warm, err, errlen) ||
        deja_params_i64(p, "election.after_s", 1, 100000, &after, err, errlen))
        return 2;
    deja_raft_world *rw = NULL;
    if (deja_raft_setup(w, p, 0, &rw, err, errlen)) return 2;
    int64_t hb = rw->heartbeat_ns;
    int64_t start = (warm * RT_MS + hb - 1) / hb * hb; /* a heartbeat instant */
    if (start < hb) start = hb;
    int64_t u = hb > 2000 ? deja_prng_range(deja_world_stream(w, "election"), 1000, hb - 1000) : hb / 2;
    rw->crash_at = start + u;
    deja_node_crash(w, 0, rw->crash_at, -1);
    deja_world_set_duration(w, start + hb + after * RT_SEC);
    deja_world_trace(w, "election: leader 0 crashes at %lld ns (%lld ns into its heartbeat interval)",
                     (long long)rw->crash_at, (long long)u);
    return 0;
}

static void deja__election_finish(deja_world *w, deja_summary *s) {
    deja_raft_world *rw = deja_world_data(w);
    deja_raft_finish(w, s);
    deja_summary_set(s, "crash_ms", "%lld.%03lld", (long long)(rw->crash_at / RT_MS),
                     (long long)(rw->crash_at % RT_MS / 1000));
}

const deja_scenario deja_scenario_election = {
    "election",
    "Raft leader election after a leader crash (Ongaro's experiment): downtime per election timeout range",
    deja__election_params,
    deja__election_setup,
    deja__election_finish,
};
