/*
 * aura_world.c -- the world every AuRa scenario starts from (see
 * aura_world.h): validators, their clocks, the network, the chain oracle.
 *
 * Every clock draw comes from the world's "clock" stream (offsets, drifts,
 * NTP corrections); the network draws from its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aura_world.h"
#include "clock_world.h"
#include "deja/oracle.h"

typedef struct deja__aura {
    deja_chain_oracle *oracle;
} deja__aura;

static void deja__aura_free(void *p) {
    deja__aura *aw = p;
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
    return deja_clock_nodes(w, p, "aura", err, errlen);
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
}

