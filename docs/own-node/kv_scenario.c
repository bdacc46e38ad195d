/*
 * kv_scenario.c -- the simulated world of the tutorial node: the scenario
 * "kv" (N nodes of the program "kv" on a lossy, jittery network) and its
 * oracle, written against deja's public API (deja/world.h).
 *
 * The oracle watches the node's own facts (kv.apply, kv.commit) and fails
 * the run with
 *   kv_gap       a node applied entry s after entry r with s != r + 1 (it
 *                skipped writes: what kv.bug=1 does when a message is lost)
 *   kv_diverged  two nodes applied entry s with different store digests
 * and adds the metrics kv_applied_min, kv_applied_max, kv_committed and
 * kv_gaps. The generic verdicts (leak, oom, exit, crash_loop) come free.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deja/world.h"
#include "kv_scenario.h"

typedef struct kv_oracle {
    uint32_t n;
    rt_fact_kind k_apply, k_commit;
    uint64_t *last;     /* per node: the last entry it applied */
    uint64_t *digests;  /* digests[s - 1]: the digest of the first node to apply s */
    uint64_t ndigests;
    uint64_t committed, gaps, diverged;
    char first[96];     /* what broke first */
} kv_oracle;

static void kv_oracle_on_fact(void *state, uint32_t node, int64_t now, const rt_fact *f) {
    kv_oracle *o = state;
    if (node >= o->n) return;
    if (f->kind == DEJA_FACT_RESTART) { /* the node starts over from an empty store */
        o->last[node] = 0;
    } else if (f->kind == o->k_commit) {
        if (f->height > o->committed) o->committed = f->height;
    } else if (f->kind == o->k_apply) {
        uint64_t s = f->height, d;
        memcpy(&d, f->hash, sizeof d);
        if (s != o->last[node] + 1 && o->gaps++ == 0 && !o->first[0])
            snprintf(o->first, sizeof o->first, "node %u applied %llu after %llu at %lld ms", node,
                     (unsigned long long)s, (unsigned long long)o->last[node], (long long)(now / RT_MS));
        o->last[node] = s;
        if (s > o->ndigests) {
            uint64_t *v = realloc(o->digests, (size_t)s * 2 * sizeof *v);
            if (!v) abort();
            memset(v + o->ndigests, 0, (size_t)(s * 2 - o->ndigests) * sizeof *v);
            o->digests = v;
            o->ndigests = s * 2;
        }
        if (!o->digests[s - 1])
            o->digests[s - 1] = d | 1; /* never 0: 0 marks "not seen" */
        else if (o->digests[s - 1] != (d | 1) && o->diverged++ == 0 && !o->first[0])
            snprintf(o->first, sizeof o->first, "node %u's store differs at entry %llu", node,
                     (unsigned long long)s);
    }
}

static void kv_oracle_finish(void *state, deja_world *w, deja_summary *s) {
    (void)w;
    kv_oracle *o = state;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        if (o->last[i] < lo) lo = o->last[i];
        if (o->last[i] > hi) hi = o->last[i];
    }
    deja_summary_set(s, "kv_applied_min", "%llu", (unsigned long long)(o->n ? lo : 0));
    deja_summary_set(s, "kv_applied_max", "%llu", (unsigned long long)hi);
    deja_summary_set(s, "kv_committed", "%llu", (unsigned long long)o->committed);
    deja_summary_set(s, "kv_gaps", "%llu", (unsigned long long)o->gaps);
    if (o->first[0]) deja_summary_set(s, "kv_first_violation", "%s", o->first);
    if (o->gaps) deja_summary_fail(s, "kv_gap");
    if (o->diverged) deja_summary_fail(s, "kv_diverged");
}

static void kv_oracle_free(void *state) {
    kv_oracle *o = state;
    free(o->last);
    free(o->digests);
    free(o);
}

static const deja_oracle_ops kv_oracle_ops = {
    .name = "kv",
    .on_fact = kv_oracle_on_fact,
    .finish = kv_oracle_finish,
    .free = kv_oracle_free,
};

static const deja_param_def kv_params[] = {
    {"kv.nodes", "3", "number of nodes (node 0 is the primary)"},
    {"sim.duration_s", "30", "simulated duration (s)"},
    {"kv.put_ms", "20", "the primary writes an entry every so many ms"},
    {"kv.resend_ms", "100", "the primary resends unacknowledged entries every so many ms"},
    {"kv.latency_ms", "5", "one-way network latency (ms)"},
    {"kv.jitter_ms", "3", "latency jitter, +- (ms)"},
    {"kv.loss_pct", "1", "chance that a message is lost (%, decimals allowed)"},
    {"kv.bug", "0", "1: replicas skip entries they missed instead of waiting for them"},
    {NULL, NULL, NULL},
};

static int kv_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t n, dur, lat, jit, loss, bug;
    if (deja_params_i64(p, "kv.nodes", 2, 64, &n, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 86400, &dur, err, errlen) ||
        deja_params_i64(p, "kv.latency_ms", 0, 10000, &lat, err, errlen) ||
        deja_params_i64(p, "kv.jitter_ms", 0, 10000, &jit, err, errlen) ||
        deja_params_fixed9(p, "kv.loss_pct", 0, 100, &loss, err, errlen) ||
        deja_params_i64(p, "kv.bug", 0, 1, &bug, err, errlen) ||
        deja_params_i64(p, "kv.put_ms", 1, 60000, &(int64_t){0}, err, errlen) ||
        deja_params_i64(p, "kv.resend_ms", 1, 60000, &(int64_t){0}, err, errlen))
        return 2;
    deja_world_set_duration(w, dur * RT_SEC);
    /* loss is a percentage scaled by 1e9; the network wants parts per million */
    deja_net_config(w, lat * RT_MS, jit * RT_MS, (uint32_t)(loss / 100000));
    for (int64_t i = 0; i < n; i++)
        if (deja_node_add(w, "kv", 0, 0) < 0) {
            snprintf(err, errlen, "program 'kv' is not registered (call kv_register first)");
            return 2;
        }
    kv_oracle *o = calloc(1, sizeof *o);
    if (!o) abort();
    o->n = (uint32_t)n;
    o->k_apply = rt_fact_kind_named("kv.apply");
    o->k_commit = rt_fact_kind_named("kv.commit");
    o->last = calloc((size_t)n, sizeof *o->last);
    if (!o->last) abort();
    deja_world_add_oracle(w, &kv_oracle_ops, o);
    return 0;
}

static const deja_scenario kv_scenario = {
    .name = "kv",
    .summary = "a primary replicates writes to N-1 replicas over a lossy network; "
               "kv.bug=1 makes replicas skip what they missed",
    .params = kv_params,
    .setup = kv_setup,
    .finish = NULL,
};

void kv_scenario_register(void) { deja_scenario_register(&kv_scenario); }
