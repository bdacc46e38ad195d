/*
 * aura_world.c -- the world every AuRa scenario starts from (see
 * aura_world.h): validators, their clocks, the network, the chain oracle.
 *
 * Every clock draw comes from the world's "clock" stream (offsets, drifts,
 * NTP corrections); the network draws from its own. The flood is the
 * framework's (deja/world.h, "flood" stream): this world gives it its
 * payload, a gossiped transaction (MSG_TX), and counts what the nodes'
 * worker pools make of it.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "aura_world.h"
#include "clock_world.h"
#include "deja/oracle.h"

typedef struct deja__aura {
    deja_chain_oracle *oracle;
    bool flooded; /* a flood is scheduled (net.flood_rate > 0, or a given plan's) */
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

/* The flood's payload (deja_flood_payload_set): one transaction, drawn
 * from the flood stream. */
static size_t deja__tx_make(void *arg, deja_prng *rng, uint32_t from, uint32_t to, uint8_t *buf, size_t cap) {
    (void)arg;
    (void)from; /* the same transaction, whoever gossips it to whom */
    (void)to;
    assert(cap >= DEJA__TX_LEN);
    deja__tx_encode(deja_prng_next(rng), buf);
    return DEJA__TX_LEN;
}

/* Counts the nodes' p2p refusals and verifications. */
static void deja__aura_on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)node;
    (void)now;
    deja__aura *aw = arg;
    if (f->kind == aw->refused_kind) aw->refused++;
    else if (f->kind == aw->verified_kind) aw->verified++;
}

/* A flood is scheduled: count what the nodes' pools make of it. */
static void deja__aura_flood_start(void *arg, deja_world *w) {
    deja__aura *aw = arg;
    assert(!aw->flooded);
    aw->flooded = true;
    aw->refused_kind = rt_fact_kind_named("p2p.refused");
    aw->verified_kind = rt_fact_kind_named("p2p.verified");
    deja_world_on_fact(w, deja__aura_on_fact, aw);
}

static const deja_flood_payload deja__aura_flood = {deja__tx_make, DEJA__TX_LEN, deja__aura_flood_start};

static void deja__aura_free(void *p) { free(p); }

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
    deja_flood_payload_set(w, &deja__aura_flood, aw);
    return deja_flood_setup(w, p, err, errlen);
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
    if (aw != NULL && aw->flooded) { /* flood_sent and peak_tasks: the flood's own (deja/world.h) */
        deja_summary_set(s, "p2p_verified", "%llu", (unsigned long long)aw->verified);
        deja_summary_set(s, "p2p_refused", "%llu", (unsigned long long)aw->refused);
    }
}

