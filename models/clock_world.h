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

/* The time servers nodes sync against and the block-time tolerance against
 * the calibrated clock; the arguments are the defaults (strings). With
 * ntp.servers 0 or chain.time_tolerance_ms 0 the engines use the raw clock. */
#define DEJA_NTP_PARAMS(servers, tolerance_ms)                                                          \
    {"chain.time_tolerance_ms", tolerance_ms, "accept block timestamps up to this far ahead of the calibrated clock (ms; 0: raw clock)"}, \
    {"ntp.servers", servers, "time servers every node polls (0: no time sync)"},                      \
    {"ntp.falsetickers", "1", "how many of them lie (the last ones)"},                                \
    {"ntp.falseticker_ms", "500", "how far a falseticker is off, either sign (ms)"},                  \
    {"ntp.server_err_ms", "1", "each server's own error, uniform in +-this (ms); also its claimed bound"}, \
    {"ntp.delay_ms", "10", "one-way delay to a server: per direction uniform in [d/2, 3d/2] (ms)"},    \
    {"ntp.jitter_ms", "5", "extra delay per query and direction, uniform in [0, this] (ms)"},          \
    {"ntp.poll_ms", "16000", "time between two polls of every server (ms)"},                          \
    {"ntp.report_ms", "1000", "how often each node reports its estimate (a clock-error sample) (ms)"}, \
    {"ntp.filter", "8", "samples kept per server (the lowest-distance one is used)"},                 \
    {"ntp.window", "16", "estimates in the least-squares drift fit"}

/* Validates the ntp.* parameters and, when ntp.servers > 0, configures the
 * simulated time servers. 0 or 2. */
int deja_ntp_servers(deja_world *w, const deja_params *p, char *err, size_t errlen);

#endif /* DEJA_MODELS_CLOCK_WORLD_H */
