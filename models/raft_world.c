/*
 * raft_world.c -- the world every Raft scenario starts from (see
 * raft_world.h): nodes running "raft", their clocks, the network, the raft
 * oracle, and partition changes both the network and the oracle see.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_world.h"

static void deja__raft_world_free(void *p) {
    deja_raft_world *rw = p;
    if (rw->extra_free) rw->extra_free(rw->extra);
    for (int i = 0; i < rw->nparts; i++) free(rw->parts[i].groups);
    free(rw->parts);
    free(rw);
}

int deja_raft_parse_election(const deja_params *p, int64_t *lo_ms, int64_t *hi_ms, char *err, size_t errlen) {
    const char *v = deja_params_get(p, "raft.election_ms");
    char a[32], b[32];
    const char *dash = v ? strchr(v, '-') : NULL;
    int ok = v != NULL && strlen(v) < sizeof a;
    if (ok && dash) {
        snprintf(a, sizeof a, "%.*s", (int)(dash - v), v);
        snprintf(b, sizeof b, "%s", dash + 1);
    } else if (ok) {
        snprintf(a, sizeof a, "%s", v);
        snprintf(b, sizeof b, "%s", v);
    }
    ok = ok && a[0] != '-' && b[0] != '-' && deja_parse_i64(a, lo_ms) == 0 && deja_parse_i64(b, hi_ms) == 0 &&
         *lo_ms >= 1 && *lo_ms <= *hi_ms && *hi_ms <= 3600000;
    if (!ok) {
        snprintf(err, errlen, "parameter raft.election_ms=%s: expected MIN-MAX in ms (1 <= MIN <= MAX), e.g. 150-300",
                 v ? v : "(unset)");
        return 2;
    }
    return 0;
}

int deja_raft_setup(deja_world *w, const deja_params *p, int64_t liveness_window_ns, deja_raft_world **out,
                    char *err, size_t errlen) {
    int64_t nodes, lo, hi, hb, block, batch, pv, cq, lease, sync, off, drift, lat, jit, loss;
    if (deja_params_i64(p, "sim.nodes", 1, INT32_MAX, &nodes, err, errlen) ||
        deja_raft_parse_election(p, &lo, &hi, err, errlen) ||
        deja_params_i64(p, "raft.heartbeat_ms", 0, 3600000, &hb, err, errlen) ||
        deja_params_i64(p, "raft.block_ms", 0, 3600000, &block, err, errlen) ||
        deja_params_i64(p, "raft.max_batch", 0, 32, &batch, err, errlen) ||
        deja_params_i64(p, "raft.prevote", 0, 1, &pv, err, errlen) ||
        deja_params_i64(p, "raft.check_quorum", 0, 1, &cq, err, errlen) ||
        deja_params_i64(p, "raft.lease_ms", 0, 3600000, &lease, err, errlen) ||
        deja_params_i64(p, "raft.sync", 0, 1, &sync, err, errlen) ||
        deja_params_fixed9(p, "clock.offset_ms", 0, 1000000000, &off, err, errlen) ||
        deja_params_fixed9(p, "clock.drift_ppm", 0, 500000, &drift, err, errlen) ||
        deja_params_fixed9(p, "net.latency_ms", 0, 1000000, &lat, err, errlen) ||
        deja_params_fixed9(p, "net.jitter_ms", 0, 1000000, &jit, err, errlen) ||
        deja_params_fixed9(p, "net.loss_pct", 0, 100, &loss, err, errlen))
        return 2;
    const char *sr = deja_params_get(p, "raft.stepdown_reset");
    if (sr != NULL && strcmp(sr, "any") != 0 && strcmp(sr, "leader") != 0) {
        snprintf(err, errlen, "parameter raft.stepdown_reset=%s: expected any or leader", sr);
        return 2;
    }
    int64_t proc_us;
    if (deja_params_get(p, "raft.process_us") &&
        deja_params_i64(p, "raft.process_us", 0, 3600000000LL, &proc_us, err, errlen))
        return 2;
    const char *boot = deja_params_get(p, "raft.boot_logs");
    for (const char *c = boot; c && *c; c++)
        if ((*c < '0' || *c > '9') && *c != ',') {
            snprintf(err, errlen, "parameter raft.boot_logs=%s: expected comma-separated lengths", boot);
            return 2;
        }
    int64_t off_ns = off / 1000, drift_ppb = drift / 1000000, lat_ns = lat / 1000, jit_ns = jit / 1000;
    deja_net_config(w, lat_ns, jit_ns, (uint32_t)(loss / 100000));
    deja_raft_world *rw = calloc(1, sizeof *rw);
    if (!rw) abort();
    rw->election_min_ns = lo * RT_MS;
    rw->election_max_ns = hi * RT_MS;
    rw->heartbeat_ns = hb > 0 ? hb * RT_MS : rw->election_min_ns / 2;
    rw->crash_at = -1;
    rw->nodes = (uint32_t)nodes;
    deja_world_set_data(w, rw, deja__raft_world_free);
    deja_prng *clk = deja_world_stream(w, "clock");
    for (int64_t i = 0; i < nodes; i++) {
        int64_t o = deja_prng_range(clk, -off_ns, off_ns);
        int64_t d = deja_prng_range(clk, -drift_ppb, drift_ppb);
        int id = deja_node_add(w, "raft", o, d);
        if (id < 0) {
            snprintf(err, errlen, "program 'raft' is not registered");
            return 2;
        }
        deja_world_trace(w, "node %d clock offset_ns=%lld drift_ppb=%lld", id, (long long)o, (long long)d);
    }
    rw->oracle = deja_raft_oracle_new(w, liveness_window_ns);
    int64_t lag = 64;
    if (deja_params_get(p, "raft.slot_max_lag") &&
        deja_params_i64(p, "raft.slot_max_lag", 1, 1 << 30, &lag, err, errlen))
        return 2;
    deja_raft_oracle_set_slot_max_lag(rw->oracle, (uint64_t)lag);
    int64_t voters = 0;
    if (deja_params_get(p, "raft.voters") && deja_params_i64(p, "raft.voters", 0, nodes, &voters, err, errlen))
        return 2;
    if (voters > 0) deja_raft_oracle_set_voters(rw->oracle, (uint32_t)voters);
    *out = rw;
    return 0;
}

/* A partition change took effect: tells the oracle (so a partition the
 * fault plan leaves out is left out for it too). */
static void deja__raft_part_seen(void *arg, const uint8_t *groups) {
    deja_raft_world *rw = arg;
    deja_raft_oracle_set_groups(rw->oracle, groups);
}

void deja_raft_partition(deja_raft_world *rw, int64_t at_ns, const uint8_t *groups) {
    if (rw->nparts == rw->capparts) {
        rw->capparts = rw->capparts ? 2 * rw->capparts : 64;
        rw->parts = realloc(rw->parts, (size_t)rw->capparts * sizeof *rw->parts);
        if (!rw->parts) abort();
    }
    struct deja_raft_part *pt = &rw->parts[rw->nparts++];
    pt->rw = rw;
    pt->at_ns = at_ns;
    pt->groups = malloc(rw->nodes);
    if (!pt->groups) abort();
    memcpy(pt->groups, groups, rw->nodes);
}

void deja_raft_partitions_schedule(deja_world *w, deja_raft_world *rw) {
    deja_net_on_partition(w, deja__raft_part_seen, rw);
    for (int i = 0; i < rw->nparts; i++) deja_net_partition(w, rw->parts[i].at_ns, rw->parts[i].groups);
}

void deja_raft_finish(deja_world *w, deja_summary *s) {
    (void)w, (void)s; /* the raft oracle judged the run already (the runner finishes oracles first) */
}
