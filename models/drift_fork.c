/*
 * drift_fork.c -- the scenario `drift-fork`: N validators of the slot-based
 * (AuRa) chain whose wall clocks are off by a random initial offset, drift
 * at a random rate and take NTP steps or slews, over a network with latency,
 * jitter and loss. It measures how clock error turns into forks, reorgs and
 * confirmed blocks being reverted.
 *
 * Every draw comes from the world's "clock" stream (offsets, drifts, steps);
 * the network draws from its own. With net.swarm=1 each seed also draws
 * network faults (docs/simulation.md), at most net.swarm_max_ms long: 2 s
 * by default, two slots, below the confirmation depth of three. Cuts and
 * clogs of ~5 s revert confirmed blocks (seeds/drift-fork-net-cut.seed):
 * that is the chain's finality rule, not a fault of the engine. With
 * ntp.servers > 0 and chain.time_tolerance_ms > 0 the validators run time
 * sync and take their slots and timestamp checks from its calibrated clock
 * (the fix the field report names); off by default.
 */

#include "aura_world.h"
#include "clock_world.h"

static const deja_param_def deja__drift_fork_params[] = {
    DEJA_AURA_PARAMS("600", "100", "50", "mem"),
    {"net.swarm_max_ms", "2000",
     "with net.swarm=1: longest network cut, clog and latency tail drawn (ms); confirmation at depth k assumes "
     "blocks arrive within k slots, so longer ones revert confirmed blocks by design"},
    DEJA_NTP_PARAMS("0", "0"),
    {NULL, NULL, NULL},
};

/* The AuRa world, plus the time servers when time sync is asked for. */
static int deja__drift_fork_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int rc = deja_aura_setup(w, p, err, errlen);
    return rc ? rc : deja_ntp_servers(w, p, err, errlen);
}

const deja_scenario deja_scenario_drift_fork = {
    "drift-fork",
    "AuRa validators with drifting, offset and NTP-stepped clocks: forks versus clock error",
    deja__drift_fork_params,
    deja__drift_fork_setup,
    deja_aura_finish,
};
