/*
 * drift_fork.c -- the scenario `drift-fork`: N validators of the slot-based
 * (AuRa) chain whose wall clocks are off by a random initial offset, drift
 * at a random rate and take NTP steps or slews, over a network with latency,
 * jitter and loss. It measures how clock error turns into forks, reorgs and
 * confirmed blocks being reverted.
 *
 * Every draw comes from the world's "clock" stream (offsets, drifts, steps);
 * the network draws from its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/oracle.h"
#include "deja/world.h"

static const deja_param_def deja__drift_fork_params[] = {
    {"sim.nodes", "4", "number of validators"},
    {"sim.duration_s", "600", "simulated duration (s)"},
    {"aura.slot_ms", "1000", "slot length (ms); slot = wall_clock / slot length"},
    {"aura.future_tolerance_ms", "500", "reject blocks whose timestamp is further ahead than this (ms)"},
    {"chain.confirm_depth", "3", "a block is confirmed at this depth"},
    {"clock.offset_ms", "100", "each node's initial wall-clock offset, uniform in +-this (ms)"},
    {"clock.drift_ppm", "50", "each node's clock drift, uniform in +-this (ppm)"},
    {"clock.step_ms", "0", "size of each NTP correction, either sign (ms)"},
    {"clock.step_every_s", "0", "one NTP correction per node every this many seconds (0: none)"},
    {"clock.ntp", "step", "how NTP corrects: step (jump) or slew (500 ppm)"},
    {"net.latency_ms", "50", "one-way message latency (ms)"},
    {"net.jitter_ms", "10", "latency jitter, uniform in +-this (ms)"},
    {"net.loss_pct", "0", "message loss (percent)"},
    {NULL, NULL, NULL},
};

typedef struct deja__df {
    deja_chain_oracle *oracle;
} deja__df;

static void deja__df_free(void *p) {
    deja__df *df = p;
    deja_chain_oracle_free(df->oracle);
    free(df);
}

/* Builds the world from validated parameters; 2 on a bad value. */
static int deja__df_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t nodes, dur, slot, tol, depth, off, drift, step, every, lat, jit, loss;
    if (deja_params_i64(p, "sim.nodes", 1, 64, &nodes, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "aura.slot_ms", 1, 3600000, &slot, err, errlen) ||
        deja_params_i64(p, "aura.future_tolerance_ms", 0, 3600000, &tol, err, errlen) ||
        deja_params_i64(p, "chain.confirm_depth", 1, 100000, &depth, err, errlen) ||
        deja_params_fixed9(p, "clock.offset_ms", 0, 1000000000, &off, err, errlen) ||
        deja_params_fixed9(p, "clock.drift_ppm", 0, 100000, &drift, err, errlen) ||
        deja_params_fixed9(p, "clock.step_ms", 0, 1000000000, &step, err, errlen) ||
        deja_params_fixed9(p, "clock.step_every_s", 0, 1000000000, &every, err, errlen) ||
        deja_params_fixed9(p, "net.latency_ms", 0, 1000000, &lat, err, errlen) ||
        deja_params_fixed9(p, "net.jitter_ms", 0, 1000000, &jit, err, errlen) ||
        deja_params_fixed9(p, "net.loss_pct", 0, 100, &loss, err, errlen))
        return 2;
    const char *ntp = deja_params_get(p, "clock.ntp");
    int slew = ntp && !strcmp(ntp, "slew");
    if (!ntp || (!slew && strcmp(ntp, "step"))) {
        snprintf(err, errlen, "parameter clock.ntp=%s: expected step or slew", ntp ? ntp : "(unset)");
        return 2;
    }
    /* fixed9 values scaled to integer units */
    int64_t off_ns = off / 1000, drift_ppb = drift / 1000000, step_ns = step / 1000;
    int64_t every_ns = every, lat_ns = lat / 1000, jit_ns = jit / 1000;
    uint32_t loss_ppm = (uint32_t)(loss / 100000);

    deja_world_set_duration(w, dur * RT_SEC);
    deja_net_config(w, lat_ns, jit_ns, loss_ppm);
    deja__df *df = calloc(1, sizeof *df);
    int64_t window = 20 * slot * RT_MS;
    if (window < 10 * RT_SEC) window = 10 * RT_SEC;
    if (window > dur * RT_SEC / 2) window = dur * RT_SEC / 2;
    df->oracle = deja_chain_oracle_new(w, window);
    deja_world_set_data(w, df, deja__df_free);

    deja_prng *clk = deja_world_stream(w, "clock");
    for (int64_t i = 0; i < nodes; i++) {
        int64_t o = deja_prng_range(clk, -off_ns, off_ns);
        int64_t d = deja_prng_range(clk, -drift_ppb, drift_ppb);
        int id = deja_node_add(w, "aura", o, d);
        if (id < 0) {
            snprintf(err, errlen, "program 'aura' is not registered");
            return 2;
        }
        deja_world_trace(w, "node %d clock offset_ns=%lld drift_ppb=%lld", id, (long long)o, (long long)d);
        if (step_ns > 0 && every_ns > 0) {
            for (int64_t t = deja_prng_range(clk, 0, every_ns - 1); t < dur * RT_SEC; t += every_ns) {
                int64_t delta = deja_prng_below(clk, 2) ? step_ns : -step_ns;
                if (slew)
                    deja_clock_slew(w, (uint32_t)id, t, delta);
                else
                    deja_clock_step(w, (uint32_t)id, t, delta);
            }
        }
    }
    return 0;
}

/* Judges the run: the chain oracle's metrics and verdict, plus clock error. */
static void deja__df_finish(deja_world *w, deja_summary *s) {
    deja__df *df = deja_world_data(w);
    deja_chain_oracle_finish(df->oracle, w, s);
    int64_t worst = 0;
    for (uint32_t i = 0; i < deja_world_nodes(w); i++) {
        int64_t e = llabs(deja_clock_error(w, i));
        if (e > worst) worst = e;
    }
    deja_summary_set(s, "max_clock_error_ms", "%lld", (long long)(worst / RT_MS));
}

const deja_scenario deja_scenario_drift_fork = {
    "drift-fork",
    "AuRa validators with drifting, offset and NTP-stepped clocks: forks versus clock error",
    deja__drift_fork_params,
    deja__df_setup,
    deja__df_finish,
};
