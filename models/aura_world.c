/*
 * aura_world.c -- the world every AuRa scenario starts from (see
 * aura_world.h): validators, their clocks, the network, the chain oracle.
 *
 * Every clock draw comes from the world's "clock" stream (offsets, drifts,
 * NTP corrections); the network draws from its own, the flood from
 * "flood".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "aura_world.h"
#include "clock_world.h"
#include "deja/oracle.h"

/* One flood: a plan entry of kind "flood" (deja_aura_kinds_register). */
typedef struct deja__flood {
    struct deja__aura *aw;
    uint32_t from;
    int64_t gap_ns, end_ns;
    struct deja__flood *next;
} deja__flood;

typedef struct deja__aura {
    deja_chain_oracle *oracle;
    /* the floods (net.flood_rate > 0, or "flood" entries of a given plan) */
    deja__flood *floods;
    deja_prng *flood_rng; /* NULL until a flood is scheduled */
    uint64_t flood_sent;  /* transactions sent, each to every other node */
    int peak_tasks;       /* live tasks of every node, at the floods' ticks */
    rt_fact_kind refused_kind, verified_kind;
    uint64_t refused, verified; /* the nodes' p2p facts */
} deja__aura;

/* The wire form of a gossiped transaction (node/msg.h, MSG_TX): tag 0x03,
 * the transaction (8 bytes, little-endian), the seal (XXH3-64 of the
 * bytes before it, little-endian). */
#define DEJA__TX_TAG 0x03
#define DEJA__TX_LEN 17

static void deja__tx_encode(uint64_t tx, uint8_t buf[DEJA__TX_LEN]) {
    buf[0] = DEJA__TX_TAG;
    for (int i = 0; i < 8; i++) buf[1 + i] = (uint8_t)(tx >> (8 * i));
    uint64_t seal = XXH3_64bits(buf, 9);
    for (int i = 0; i < 8; i++) buf[9 + i] = (uint8_t)(seal >> (8 * i));
}

/* One tick of a flood: a transaction from the flooder to every other
 * node, then the next tick after a gap uniform in [gap/2, 3*gap/2]. */
static void deja__flood_tick(deja_world *w, void *arg) {
    deja__flood *f = arg;
    deja__aura *aw = f->aw;
    int64_t now = deja_world_now(w);
    if (now >= f->end_ns) return;
    uint8_t buf[DEJA__TX_LEN];
    for (uint32_t to = 0; to < deja_world_nodes(w); to++) {
        if (to == f->from) continue;
        deja__tx_encode(deja_prng_next(aw->flood_rng), buf);
        (void)deja_net_inject(w, f->from, to, buf, sizeof buf);
    }
    aw->flood_sent++;
    int live = deja_world_live_tasks(w, -1);
    if (live > aw->peak_tasks) aw->peak_tasks = live;
    int64_t g = f->gap_ns;
    deja_world_at(w, now + deja_prng_range(aw->flood_rng, g / 2, g + g / 2), deja__flood_tick, f);
}

/* Counts the nodes' p2p refusals and verifications. */
static void deja__aura_on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)node;
    (void)now;
    deja__aura *aw = arg;
    if (f->kind == aw->refused_kind) aw->refused++;
    else if (f->kind == aw->verified_kind) aw->verified++;
}

#define DEJA__FLOOD_MAX_RATE 1000000

/* Schedules the flood plan entry e describes: node e->node sends every
 * other node e->b transactions a second from e->at_ns for e->a ns. Left
 * alone outside an AuRa world (no net.flood_rate parameter) and when a
 * field is out of range (an entry of a hand-written plan). */
static void deja__flood_schedule(deja_world *w, const deja_plan_entry *e) {
    deja__aura *aw = deja_world_data(w);
    if (aw == NULL || deja_params_get(deja_world_params(w), "net.flood_rate") == NULL) return;
    if (e->node < 0 || (uint32_t)e->node >= deja_world_nodes(w) || e->a <= 0 || e->b <= 0 ||
        e->b > DEJA__FLOOD_MAX_RATE || e->at_ns > INT64_MAX - e->a)
        return;
    if (aw->flood_rng == NULL) {
        aw->flood_rng = deja_world_stream(w, "flood");
        aw->refused_kind = rt_fact_kind_named("p2p.refused");
        aw->verified_kind = rt_fact_kind_named("p2p.verified");
        deja_world_on_fact(w, deja__aura_on_fact, aw);
    }
    deja__flood *f = calloc(1, sizeof *f);
    if (f == NULL) abort();
    f->aw = aw;
    f->from = (uint32_t)e->node;
    f->gap_ns = RT_SEC / e->b;
    if (f->gap_ns < 2) f->gap_ns = 2;
    f->end_ns = e->at_ns + e->a;
    f->next = aw->floods;
    aw->floods = f;
    deja_world_at(w, e->at_ns, deja__flood_tick, f);
}

static const deja_plan_kind deja__flood_kind = {"flood", deja__flood_schedule};

void deja_aura_kinds_register(void) { deja_plan_kind_register(&deja__flood_kind); }

/* Injects the flood the net.flood_* parameters ask for (one plan entry of
 * kind "flood"); 2 on a bad value. Draws nothing and injects nothing
 * without one. */
static int deja__flood_setup(deja_world *w, const deja_params *p, int64_t nodes, char *err, size_t errlen) {
    int64_t rate, from, at, len;
    if (deja_params_i64(p, "net.flood_rate", 0, DEJA__FLOOD_MAX_RATE, &rate, err, errlen) ||
        deja_params_i64(p, "net.flood_from", 0, nodes - 1, &from, err, errlen) ||
        deja_params_i64(p, "net.flood_at_s", 0, 10000000, &at, err, errlen) ||
        deja_params_i64(p, "net.flood_s", 0, 10000000, &len, err, errlen))
        return 2;
    if (rate == 0 || len == 0 || nodes < 2) return 0;
    deja_plan_inject(w, &(deja_plan_entry){.kind = "flood", .node = (int32_t)from, .at_ns = at * RT_SEC,
                                           .a = len * RT_SEC, .b = rate});
    return 0;
}

static void deja__aura_free(void *p) {
    deja__aura *aw = p;
    while (aw->floods != NULL) {
        deja__flood *f = aw->floods;
        aw->floods = f->next;
        free(f);
    }
    free(aw);
}

/* Builds the world from validated parameters; 2 on a bad value. */
int deja_aura_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t dur, slot, tol, depth, sync;
    if (deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "aura.slot_ms", 1, 3600000, &slot, err, errlen) ||
        deja_params_i64(p, "aura.future_tolerance_ms", -1, 3600000, &tol, err, errlen) ||
        deja_params_i64(p, "chain.confirm_depth", 1, 100000, &depth, err, errlen) ||
        deja_params_i64(p, "store.sync", 0, 1, &sync, err, errlen))
        return 2;
    const char *store = deja_params_get(p, "store.kind");
    if (!store || (strcmp(store, "mem") && strcmp(store, "sqlite"))) {
        snprintf(err, errlen, "parameter store.kind=%s: expected mem or sqlite", store ? store : "(unset)");
        return 2;
    }
    if (deja_net_params(w, p, err, errlen)) return 2;
    deja__aura *aw = calloc(1, sizeof *aw);
    int64_t window = 20 * slot * RT_MS;
    if (window < 10 * RT_SEC) window = 10 * RT_SEC;
    if (window > dur * RT_SEC / 2) window = dur * RT_SEC / 2;
    aw->oracle = deja_chain_oracle_new(w, window);
    deja_world_set_data(w, aw, deja__aura_free);
    int rc = deja_clock_nodes(w, p, "aura", err, errlen);
    if (rc) return rc;
    int64_t nodes;
    if (deja_params_i64(p, "sim.nodes", 1, INT32_MAX, &nodes, err, errlen)) return 2;
    return deja__flood_setup(w, p, nodes, err, errlen);
}

/* Adds the clock error to the chain oracle's metrics and verdict (the
 * oracle judged the run already: the runner finishes oracles first). */
void deja_aura_finish(deja_world *w, deja_summary *s) {
    int64_t worst = 0;
    for (uint32_t i = 0; i < deja_world_nodes(w); i++) {
        int64_t e = llabs(deja_clock_error(w, i));
        if (e > worst) worst = e;
    }
    deja_summary_set(s, "max_clock_error_ms", "%lld", (long long)(worst / RT_MS));
    deja__aura *aw = deja_world_data(w);
    if (aw != NULL && aw->flood_rng != NULL) {
        deja_summary_set(s, "flood_sent", "%llu", (unsigned long long)aw->flood_sent);
        deja_summary_set(s, "p2p_verified", "%llu", (unsigned long long)aw->verified);
        deja_summary_set(s, "p2p_refused", "%llu", (unsigned long long)aw->refused);
        deja_summary_set(s, "peak_tasks", "%d", aw->peak_tasks);
    }
}

