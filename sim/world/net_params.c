/*
 * net_params.c -- the net.* fault parameters every scenario accepts
 * (duplication, reordering, corruption, latency tail, region matrix,
 * bandwidth, one-way and bridge partitions, clogs) and the network swarm
 * (net.swarm=1: each seed draws a mix of those faults), applied to a world
 * whose nodes exist by deja_world_apply_common.
 *
 * Scheduled faults stop fault.quiet_s before the end, like crashes and
 * pauses; per-message faults last the whole run. Schedules draw from
 * "net.cut" (one-way and bridge) and "net.clog", the swarm from
 * "swarm.net"; with every parameter at its default nothing is drawn and no
 * event is added.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

const deja_param_def deja_net_fault_params[] = {
    {"net.dup_pct", "0", "chance that a message is delivered twice (%; stream net.dup)"},
    {"net.reorder_pct", "0", "chance that a message is held back and overtaken (%; stream net.reorder)"},
    {"net.reorder_ms", "200", "a held-back message waits uniform in [this/2, this] more (ms)"},
    {"net.corrupt_pct", "0", "chance that 1 to 3 bits of a delivered message are flipped (%; stream net.corrupt)"},
    {"net.latency_dist", "uniform",
     "uniform: latency +- jitter; pareto: plus a long tail latency * (U^(-1/alpha) - 1) (stream net.latency)"},
    {"net.tail_alpha", "2", "shape of the Pareto tail (0.1 to 100; smaller: longer tail)"},
    {"net.tail_max_ms", "2000", "cap on the Pareto tail (ms)"},
    {"net.region_ms", "",
     "R*R latencies in ms, row-major (R <= 8): node i sits in region i % R; replaces net.latency_ms per link"},
    {"net.bandwidth_kbps", "0", "bandwidth of every directed link (kbit/s; a message queues for the wire; 0: unlimited)"},
    {"net.oneway_every_s", "0",
     "a one-way partition (one random side's messages to the other are lost) this often on average (s; 0: none; "
     "stream net.cut)"},
    {"net.oneway_ms", "3000", "length of each one-way partition (ms)"},
    {"net.bridge_every_s", "0",
     "a bridge partition (two halves, one node in both) this often on average (s; 0: none; stream net.cut)"},
    {"net.bridge_ms", "3000", "length of each bridge partition (ms)"},
    {"net.clog_every_s", "0",
     "a clog (a node's links, or one link, hold every message until it heals) this often on average (s; 0: none; "
     "stream net.clog)"},
    {"net.clog_ms", "2000", "length of each clog (ms)"},
    {"net.clog_link_pct", "50", "chance that a clog hits one link rather than every link of a node (%)"},
    {"net.swarm", "0",
     "1: each seed draws a mix of the faults above (dup, reorder, corruption, tail, bandwidth, one-way, bridge, "
     "clogs; stream swarm.net)"},
    {"net.swarm_max_ms", "5000",
     "the swarm's longest one-way or bridge partition, clog and latency tail (ms; each drawn in [this/10, this])"},
    {NULL, NULL, NULL},
};

/* Parses net.region_ms into n (regions and matrix); 0, or 2 naming it. */
static int deja__regions(const char *v, uint32_t *regions, int64_t *m, char *err, size_t errlen) {
    *regions = 0;
    if (!v || !*v) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    int count = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t x;
        if (count >= DEJA__NET_REGIONS * DEJA__NET_REGIONS || deja_parse_fixed9(tok, &x) != 0 || x < 0 ||
            x > (int64_t)1000000 * 1000000000) {
            snprintf(err, errlen, "parameter net.region_ms=%s: expected R*R latencies in ms (R <= %d), comma-separated",
                     v, DEJA__NET_REGIONS);
            return 2;
        }
        m[count++] = x / 1000; /* fixed9 ms to ns */
    }
    uint32_t r = 1;
    while ((int)(r * r) < count) r++;
    if ((int)(r * r) != count) {
        snprintf(err, errlen, "parameter net.region_ms=%s: %d values is not a square (R*R)", v, count);
        return 2;
    }
    *regions = r;
    return 0;
}

/* Draws sides 0/1 for every node, both sides non-empty (n >= 2). */
static void deja__split(deja_prng *r, uint32_t n, uint8_t *side) {
    uint32_t ones = 0;
    for (uint32_t i = 0; i < n; i++) ones += side[i] = (uint8_t)deja_prng_below(r, 2);
    if (ones == 0 || ones == n) {
        uint32_t x = (uint32_t)deja_prng_below(r, n);
        side[x] ^= 1;
    }
}

/* A gap of a schedule with mean `mean`: uniform in [mean/2, 3*mean/2]. */
static int64_t deja__gap(deja_prng *r, int64_t mean) { return deja_prng_range(r, mean / 2, mean + mean / 2); }

/* Schedules one-way (mode 0) or bridge (mode 1) cuts every `every` ns on
 * average, each len ns long, until end. */
static void deja__cuts(deja_world *w, deja_prng *r, int bridge, int64_t every, int64_t len, int64_t end) {
    uint32_t n = w->n_nodes;
    if (n < (bridge ? 3u : 2u)) return;
    uint8_t *side = malloc(n);
    assert(side);
    for (int64_t t = deja__gap(r, every); t < end; t += deja__gap(r, every)) {
        int64_t l = t + len < end ? len : end - t;
        deja__split(r, n, side);
        if (bridge)
            deja_net_bridge(w, t, l, side, (uint32_t)deja_prng_below(r, n));
        else
            deja_net_oneway(w, t, l, side);
    }
    free(side);
}

/* Schedules clogs every `every` ns on average, each len ns long, until end;
 * link_pct of them hit one link, the others every link of a node. */
static void deja__clogs(deja_world *w, deja_prng *r, int64_t every, int64_t len, int64_t link_pct, int64_t end) {
    uint32_t n = w->n_nodes;
    if (n < 2) return;
    for (int64_t t = deja__gap(r, every); t < end; t += deja__gap(r, every)) {
        int64_t l = t + len < end ? len : end - t;
        uint32_t node = (uint32_t)deja_prng_below(r, n);
        int32_t peer = -1;
        if ((int64_t)deja_prng_below(r, 100) < link_pct) {
            peer = (int32_t)deja_prng_below(r, n - 1);
            if (peer >= (int32_t)node) peer++;
        }
        deja_net_clog(w, t, l, node, peer);
    }
}

int deja__net_apply(deja_world *w, const deja_params *p, int64_t end, char *err, size_t errlen) {
    int64_t dup, reo, reo_ms, cor, alpha, tmax, bw, ow_s, ow_ms, br_s, br_ms, cl_s, cl_ms, cl_link, swarm, smax;
    if (deja_params_fixed9(p, "net.dup_pct", 0, 100, &dup, err, errlen) ||
        deja_params_fixed9(p, "net.reorder_pct", 0, 100, &reo, err, errlen) ||
        deja_params_i64(p, "net.reorder_ms", 0, 3600000, &reo_ms, err, errlen) ||
        deja_params_fixed9(p, "net.corrupt_pct", 0, 100, &cor, err, errlen) ||
        deja_params_fixed9(p, "net.tail_alpha", 0, 100, &alpha, err, errlen) ||
        deja_params_i64(p, "net.tail_max_ms", 0, 3600000, &tmax, err, errlen) ||
        deja_params_i64(p, "net.bandwidth_kbps", 0, 100000000, &bw, err, errlen) ||
        deja_params_i64(p, "net.oneway_every_s", 0, 1000000, &ow_s, err, errlen) ||
        deja_params_i64(p, "net.oneway_ms", 0, 1000000000, &ow_ms, err, errlen) ||
        deja_params_i64(p, "net.bridge_every_s", 0, 1000000, &br_s, err, errlen) ||
        deja_params_i64(p, "net.bridge_ms", 0, 1000000000, &br_ms, err, errlen) ||
        deja_params_i64(p, "net.clog_every_s", 0, 1000000, &cl_s, err, errlen) ||
        deja_params_i64(p, "net.clog_ms", 0, 1000000000, &cl_ms, err, errlen) ||
        deja_params_i64(p, "net.clog_link_pct", 0, 100, &cl_link, err, errlen) ||
        deja_params_i64(p, "net.swarm", 0, 1, &swarm, err, errlen) ||
        deja_params_i64(p, "net.swarm_max_ms", 10, 3600000, &smax, err, errlen))
        return 2;
    if (alpha < 100000000) {
        snprintf(err, errlen, "parameter net.tail_alpha=%s: expected a number in [0.1, 100]",
                 deja_params_get(p, "net.tail_alpha"));
        return 2;
    }
    const char *dist = deja_params_get(p, "net.latency_dist");
    int tail = dist && !strcmp(dist, "pareto");
    if (!dist || (!tail && strcmp(dist, "uniform"))) {
        snprintf(err, errlen, "parameter net.latency_dist=%s: expected uniform or pareto", dist ? dist : "(unset)");
        return 2;
    }
    int64_t matrix[DEJA__NET_REGIONS * DEJA__NET_REGIONS];
    deja_net_fault_cfg c = {0};
    if (deja__regions(deja_params_get(p, "net.region_ms"), &c.regions, matrix, err, errlen)) return 2;
    c.region_ns = matrix;
    c.dup_ppm = (uint32_t)(dup / 100000); /* fixed9 percent to ppm */
    c.reorder_ppm = (uint32_t)(reo / 100000);
    c.reorder_ns = reo_ms * RT_MS;
    c.corrupt_ppm = (uint32_t)(cor / 100000);
    c.tail = tail;
    c.tail_alpha9 = alpha;
    c.tail_max_ns = tmax * RT_MS;
    c.bandwidth_kbps = bw;
    if (swarm) {
        deja_prng *r = deja_world_stream(w, "swarm.net");
        if (deja_prng_below(r, 2) && !c.dup_ppm) c.dup_ppm = (uint32_t)deja_prng_range(r, 10000, 100000);
        if (deja_prng_below(r, 2) && !c.reorder_ppm) {
            c.reorder_ppm = (uint32_t)deja_prng_range(r, 10000, 100000);
            c.reorder_ns = deja_prng_range(r, 20, 300) * RT_MS;
        }
        if (deja_prng_below(r, 2) && !c.corrupt_ppm) c.corrupt_ppm = (uint32_t)deja_prng_range(r, 1000, 30000);
        if (deja_prng_below(r, 2) && !c.tail) {
            c.tail = 1;
            c.tail_alpha9 = deja_prng_range(r, 1200, 3000) * 1000000;
            c.tail_max_ns = deja_prng_range(r, smax / 10, smax) * RT_MS;
        }
        if (deja_prng_below(r, 3) == 0 && !c.bandwidth_kbps) c.bandwidth_kbps = deja_prng_range(r, 2000, 50000);
        if (deja_prng_below(r, 2) && !ow_s) {
            ow_s = deja_prng_range(r, 10, 40);
            ow_ms = deja_prng_range(r, smax / 10, smax);
        }
        if (deja_prng_below(r, 2) && !br_s) {
            br_s = deja_prng_range(r, 10, 40);
            br_ms = deja_prng_range(r, smax / 10, smax);
        }
        if (deja_prng_below(r, 2) && !cl_s) {
            cl_s = deja_prng_range(r, 10, 40);
            cl_ms = deja_prng_range(r, smax / 10, smax);
        }
        deja_world_trace(w,
                         "swarm.net: dup %u ppm, reorder %u ppm %lld ms, corrupt %u ppm, tail %d alpha9 %lld max %lld "
                         "ms, bandwidth %lld kbps, one-way every %lld s %lld ms, bridge every %lld s %lld ms, clog "
                         "every %lld s %lld ms",
                         c.dup_ppm, c.reorder_ppm, (long long)(c.reorder_ns / RT_MS), c.corrupt_ppm, c.tail,
                         (long long)c.tail_alpha9, (long long)(c.tail_max_ns / RT_MS), (long long)c.bandwidth_kbps,
                         (long long)ow_s, (long long)ow_ms, (long long)br_s, (long long)br_ms, (long long)cl_s,
                         (long long)cl_ms);
    }
    if (c.dup_ppm || c.reorder_ppm || c.corrupt_ppm || c.tail || c.regions || c.bandwidth_kbps)
        deja_net_faults(w, &c);
    if (ow_s > 0 || br_s > 0) {
        deja_prng *r = deja_world_stream(w, "net.cut");
        if (ow_s > 0) deja__cuts(w, r, 0, ow_s * RT_SEC, ow_ms * RT_MS, end);
        if (br_s > 0) deja__cuts(w, r, 1, br_s * RT_SEC, br_ms * RT_MS, end);
    }
    if (cl_s > 0) deja__clogs(w, deja_world_stream(w, "net.clog"), cl_s * RT_SEC, cl_ms * RT_MS, cl_link, end);
    return 0;
}
