/*
 * timesync.c -- the scenario `timesync`: N nodes whose clocks are off by a
 * random offset and drift, each running time sync (node/timesync.c) against
 * ntp.servers simulated time servers (sim/timesrv.c), ntp.falsetickers of
 * which lie. It measures the clock error of the raw wall clock and of the
 * calibrated clock, sampled every ntp.report_ms of every node.
 *
 * timesync.program = timesync runs time sync alone (the "timesync"
 * program); = aura runs the AuRa validators of drift-fork with time sync on
 * (chain.time_tolerance_ms > 0), which then validate block timestamps
 * against the calibrated clock, and adds the chain oracle's verdict.
 *
 * Error signs: raw = wall - true (deja_clock_error); the node reports its
 * offset estimate (calibrated wall - raw wall), so calibrated = raw +
 * estimate = calibrated wall - true. The summary gives P50 and P99 of
 * |error| over all samples of all nodes, in microseconds. Verdict: ok,
 * unless the calibrated P99 is worse than the raw P99 ("timesync"), or a
 * task leaked (set by the runner), or the chain oracle fails (aura).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aura_world.h"
#include "clock_world.h"

static const deja_param_def deja__timesync_params[] = {
    DEJA_AURA_PARAMS("600", "30", "50", "mem"),
    {"timesync.program", "timesync", "what the nodes run: timesync (time sync alone) or aura (AuRa + time sync)"},
    DEJA_NTP_PARAMS("4", "500"),
    {NULL, NULL, NULL},
};

/* Builds the world: nodes (timesync or aura) and the time servers. */
static int deja__timesync_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    const char *prog = deja_params_get(p, "timesync.program");
    int aura = prog && !strcmp(prog, "aura");
    if (!prog || (!aura && strcmp(prog, "timesync"))) {
        snprintf(err, errlen, "parameter timesync.program=%s: expected timesync or aura", prog ? prog : "(unset)");
        return 2;
    }
    int rc = aura ? deja_aura_setup(w, p, err, errlen) : deja_clock_nodes(w, p, "timesync", err, errlen);
    if (rc) return rc;
    return deja_ntp_servers(w, p, err, errlen);
}

/* Judges the run: clock-error percentiles, and the chain oracle (aura). */
static void deja__timesync_finish(deja_world *w, deja_summary *s) {
    const char *prog = deja_params_get(deja_world_params(w), "timesync.program");
    if (prog && !strcmp(prog, "aura")) deja_aura_finish(w, s);
    deja_clock_stats st;
    deja_timesrv_stats(w, &st);
    deja_summary_set(s, "clock_samples", "%llu", (unsigned long long)st.samples);
    deja_summary_set(s, "raw_err_p50_us", "%lld", (long long)(st.raw_p50 / 1000));
    deja_summary_set(s, "raw_err_p99_us", "%lld", (long long)(st.raw_p99 / 1000));
    deja_summary_set(s, "raw_err_max_us", "%lld", (long long)(st.raw_max / 1000));
    deja_summary_set(s, "cal_err_p50_us", "%lld", (long long)(st.cal_p50 / 1000));
    deja_summary_set(s, "cal_err_p99_us", "%lld", (long long)(st.cal_p99 / 1000));
    deja_summary_set(s, "cal_err_max_us", "%lld", (long long)(st.cal_max / 1000));
    if (st.cal_p99 > st.raw_p99 && !strcmp(deja_summary_get(s, "verdict"), "ok"))
        deja_summary_set(s, "verdict", "timesync");
}

const deja_scenario deja_scenario_timesync = {
    "timesync",
    "time sync against simulated NTP servers (falsetickers, delay, jitter): raw vs calibrated clock error",
    deja__timesync_params,
    deja__timesync_setup,
    deja__timesync_finish,
};
