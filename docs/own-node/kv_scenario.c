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
 *   kv_unsafe_commit  the primary committed entry s before a majority of
 *                the nodes had applied it
 * and adds the metrics kv_applied_min, kv_applied_max, kv_committed,
 * kv_gaps and kv_unsafe_commits. The generic verdicts (leak, oom, exit, crash_loop) come free.
 *
 * It takes deja's flood (net.flood_*, deja/world.h): its payload is a
 * message in the node's wire format (kv.h), what the target handles from
 * a peer -- an ACK for the primary, a PUT for a replica -- its numbers
 * drawn from the flood stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deja/world.h"
#include "kv.h"
#include "kv_scenario.h"

typedef struct kv_oracle {
    uint32_t n;
    rt_fact_kind k_apply, k_commit;
    uint64_t *last;     /* per node: the last entry it applied */
    uint64_t *top;      /* per node: the highest entry it ever applied (kept across restarts) */
    uint64_t *digests;  /* digests[s - 1]: the digest of the first node to apply s */
    uint32_t *appliers; /* appliers[s - 1]: the nodes that applied s (each counted once) */
    uint64_t ndigests;
    uint64_t committed, gaps, diverged, unsafe;
    char first[128];    /* what broke first */
} kv_oracle;

static void kv_oracle_on_fact(void *state, uint32_t node, int64_t now, const rt_fact *f) {
    kv_oracle *o = state;
    if (node >= o->n) return;
    if (f->kind == DEJA_FACT_RESTART) { /* the node starts over from an empty store */
        o->last[node] = 0;
    } else if (f->kind == o->k_commit) {
        uint64_t s = f->height;
        uint32_t have = s >= 1 && s <= o->ndigests ? o->appliers[s - 1] : 0;
        if (2 * (uint64_t)have <= o->n && o->unsafe++ == 0 && !o->first[0])
            snprintf(o->first, sizeof o->first, "entry %llu committed at %lld ms, applied by %u of %u nodes",
                     (unsigned long long)s, (long long)(now / RT_MS), have, o->n);
        if (s > o->committed) o->committed = s;
    } else if (f->kind == o->k_apply) {
        uint64_t s = f->height, d;
        memcpy(&d, f->hash, sizeof d);
        if (s != o->last[node] + 1 && o->gaps++ == 0 && !o->first[0])
            snprintf(o->first, sizeof o->first, "node %u applied %llu after %llu at %lld ms", node,
                     (unsigned long long)s, (unsigned long long)o->last[node], (long long)(now / RT_MS));
        o->last[node] = s;
        if (s > o->ndigests) {
            uint64_t *v = realloc(o->digests, (size_t)s * 2 * sizeof *v);
            uint32_t *a = realloc(o->appliers, (size_t)s * 2 * sizeof *a);
            if (!v || !a) abort();
            memset(v + o->ndigests, 0, (size_t)(s * 2 - o->ndigests) * sizeof *v);
            memset(a + o->ndigests, 0, (size_t)(s * 2 - o->ndigests) * sizeof *a);
            o->digests = v;
            o->appliers = a;
            o->ndigests = s * 2;
        }
        if (s > o->top[node]) { /* a restarted node applying s again is not one more */
            o->appliers[s - 1]++;
            o->top[node] = s;
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
    if (o->unsafe) deja_summary_set(s, "kv_unsafe_commits", "%llu", (unsigned long long)o->unsafe);
    if (o->first[0]) deja_summary_set(s, "kv_first_violation", "%s", o->first);
    if (o->gaps) deja_summary_fail(s, "kv_gap");
    if (o->diverged) deja_summary_fail(s, "kv_diverged");
    if (o->unsafe) deja_summary_fail(s, "kv_unsafe_commit");
}

static void kv_oracle_free(void *state) {
    kv_oracle *o = state;
    free(o->last);
    free(o->top);
    free(o->digests);
    free(o->appliers);
    free(o);
}

static const deja_oracle_ops kv_oracle_ops = {
    .name = "kv",
    .on_fact = kv_oracle_on_fact,
    .finish = kv_oracle_finish,
    .free = kv_oracle_free,
};

/* One flood message from node `from` to node `to`: the kind of message
 * `to` handles (an ACK for the primary, a PUT for a replica), with a
 * sequence number, key and value from one draw of the flood stream. */
static size_t kv_flood_msg(void *arg, deja_prng *rng, uint32_t from, uint32_t to, uint8_t *buf, size_t cap) {
    (void)arg;
    (void)from;
    kv_msg m;
    if (cap < sizeof m) abort();
    uint64_t r = deja_prng_next(rng); /* one draw per message, whatever the kind */
    memset(&m, 0, sizeof m);
    m.type = to == 0 ? KV_ACK : KV_PUT;
    m.seq = r;
    m.key = (uint32_t)(r >> 32);
    m.val = r;
    memcpy(buf, &m, sizeof m);
    return sizeof m;
}

static const deja_flood_payload kv_flood = {.make = kv_flood_msg, .cap = sizeof(kv_msg)};

static const deja_param_def kv_params[] = {
    {"kv.nodes", "3", "number of nodes (node 0 is the primary)"},
    {"sim.duration_s", "30", "simulated duration (s)"},
    {"kv.put_ms", "20", "the primary writes an entry every so many ms"},
    {"kv.resend_ms", "100", "the primary resends unacknowledged entries every so many ms"},
    {"kv.latency_ms", "5", "one-way network latency (ms)"},
    {"kv.jitter_ms", "3", "latency jitter, +- (ms)"},
    {"kv.loss_pct", "1", "chance that a message is lost (%, decimals allowed)"},
    {"kv.bug", "0", "1: replicas skip entries they missed instead of waiting for them"},
    {"kv.trust_acks", "0", "1: the primary believes acknowledgements of entries it never wrote"},
    DEJA_FLOOD_PARAMS, /* net.flood_rate, net.flood_from, net.flood_at_s, net.flood_s */
    {NULL, NULL, NULL},
};

static int kv_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t n, dur, lat, jit, loss, bug;
    if (deja_params_i64(p, "kv.nodes", 2, INT32_MAX, &n, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 86400, &dur, err, errlen) ||
        deja_params_i64(p, "kv.latency_ms", 0, 10000, &lat, err, errlen) ||
        deja_params_i64(p, "kv.jitter_ms", 0, 10000, &jit, err, errlen) ||
        deja_params_fixed9(p, "kv.loss_pct", 0, 100, &loss, err, errlen) ||
        deja_params_i64(p, "kv.bug", 0, 1, &bug, err, errlen) ||
        deja_params_i64(p, "kv.trust_acks", 0, 1, &(int64_t){0}, err, errlen) ||
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
    o->top = calloc((size_t)n, sizeof *o->top);
    if (!o->last || !o->top) abort();
    deja_world_add_oracle(w, &kv_oracle_ops, o);
    deja_flood_payload_set(w, &kv_flood, NULL);
    return deja_flood_setup(w, p, err, errlen); /* the net.flood_* flood, if any */
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
