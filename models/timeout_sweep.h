/*
 * timeout_sweep.h -- what the Raft timing experiments (`timeout-sweep`,
 * `lease-fork`) share and what the tests check: the field report's bound on
 * the minimum election timeout,
 *
 *     minElectionTimeout > 2*RTT_max + 2*eps_clock,
 *     eps_clock = rho_max * window + delta_max,
 *
 * in integer nanoseconds and parts per billion, and the rule that one number
 * N given as raft.election_ms means the range N-2N in these scenarios (the
 * node itself reads one number as MIN=MAX, which never breaks split votes).
 */
#ifndef DEJA_MODELS_TIMEOUT_SWEEP_H
#define DEJA_MODELS_TIMEOUT_SWEEP_H

#include <stdint.h>

#include "deja/world.h"

/* The digest's bound in ns: 2*rtt_max_ns + 2*(drift_ppb * window_ns / 1e9
 * + offset_ns). All arguments >= 0; the result is exact up to the integer
 * division of the drift term (rounded down to the ns). */
int64_t deja_timeout_bound_ns(int64_t rtt_max_ns, int64_t drift_ppb, int64_t window_ns, int64_t offset_ns);

/* Rewrites raft.election_ms given as one number N into "N-2N", both in the
 * world's own parameters (what the nodes read) and in a copy of p that it
 * returns in *out (what deja_raft_setup parses); a range is kept as given.
 * The caller frees *out with deja_params_free. 0, or 2 with a message. */
int deja_election_as_range(deja_world *w, const deja_params *p, deja_params **out, char *err, size_t errlen);

#endif /* DEJA_MODELS_TIMEOUT_SWEEP_H */
