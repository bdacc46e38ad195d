/*
 * clock_world.h -- validators with skewed clocks, the part every scenario
 * shares: sim.nodes nodes running one program, each with an initial
 * wall-clock offset and a drift drawn from the world's "clock" stream (or
 * given per node by clock.offsets_ms), and NTP steps or slews of
 * +-clock.step_ms every clock.step_every_s; and the network's latency,
 * jitter and loss from net.*. The draws happen in one fixed order (per
 * node: offset, drift, then its corrections), so a scenario that builds its
 * nodes here gives the same clocks as any other for the same seed.
 */
#ifndef DEJA_MODELS_CLOCK_WORLD_H
#define DEJA_MODELS_CLOCK_WORLD_H

#include "deja/world.h"

/* Sets the run's duration (sim.duration_s) and adds sim.nodes nodes running
 * `program` with their clocks and NTP schedules. 0, or 2 naming the bad
 * parameter (or the unknown program). */
int deja_clock_nodes(deja_world *w, const deja_params *p, const char *program, char *err, size_t errlen);

/* Configures the network from net.latency_ms, net.jitter_ms, net.loss_pct.
 * 0 or 2. */
int deja_net_params(deja_world *w, const deja_params *p, char *err, size_t errlen);

#endif /* DEJA_MODELS_CLOCK_WORLD_H */
