/*
 * timeout_sweep.c -- the scenario `timeout-sweep`: how often a Raft cluster
 * holds an election it did not need, against the field report's bound
 * minElectionTimeout > 2*RTT_max + 2*eps_clock (eps_clock = rho*window +
 * delta). Five nodes of the Raft engine (node/raft.h), classic Raft by
 * default (no PreVote, no CheckQuorum: what the bound is about), clocks
 * with a random offset and drift, a network with latency and jitter, and
 * GC-like pauses of random nodes (fault.pause_every_s, fault.pause_ms), for
 * ten simulated minutes. One number N as raft.election_ms means N-2N.
 *
 * Summary, besides the raft oracle's metrics: false_elections_per_hour
 * (two decimals, integer arithmetic), rtt_max_ms = 2*(latency + jitter),
 * window_ms (bound.window_ms, or the election timeout MAX when 0: the
 * longest span a node measures before it acts), eps_clock_ms, bound_ms
 * and bound_ok (1 when MIN > bound_ms), and bound_pause_ms: the same bound
 * with the pause length counted as clock error (a frozen node's view of
 * time is behind by the pause), equal to bound_ms when nothing pauses.
 * The verdict is the raft oracle's (liveness only when the run ends
 * without a leader): false elections are the measurement, not a failure,
 * unless ts.max_false_per_hour >= 0 asks for one: a run with more false
 * elections per hour than that fails with verdict false_elections.
 *
 * Clock error, three kinds: drift (clock.drift_ppm, up to 500 000 ppm: a
 * timer on a node's drifting monotonic clock fires early or late in true
 * time), pauses (fault.pause_*), and NTP steps of the wall clock
 * (clock.step_ms every clock.step_every_s), which reach the timers only when
 * they run on the wall clock (raft.timer_clock=wall). The bound's delta is
 * clock.offset_ms + clock.step_ms.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raft_world.h"
#include "timeout_sweep.h"

static const deja_param_def deja__timeout_sweep_params[] = {
    DEJA_RAFT_PARAMS("5", "150", "1000", "32", "", "0", "0", "10", "5", "50"),
    {"sim.duration_s", "600", "simulated duration (s)"},
    DEJA_RAFT_TIMING_PARAMS("any", "0", "0"),
    {"raft.timer_clock", "mono", "the clock the nodes' timers run on: mono (drift only) or wall (NTP steps too)"},
    {"clock.step_ms", "0", "NTP steps: each node's wall clock jumps by +-this (ms; a random sign each time)"},
    {"clock.step_every_s", "30", "a step about this often per node (s; the first at a random phase)"},
    NODE_WALL_SWITCH_PARAMS,
    {"clock.step_sign", "0", "0: each step forward or backward at random; 1: every step forward; -1: every step backward"},
    {"bound.window_ms", "0", "the bound's window: the span over which drift counts (ms; 0: the election MAX)"},
    {"fault.pause_every_s", "30", "each node pauses on average once per this many seconds (0: never)"},
    {"fault.pause_ms", "100", "length of each pause (ms; a GC pause or a stopped VM)"},
    {"fault.quiet_s", "10", "no fault in the last this many seconds (so a run ends with a leader)"},
    {"ts.max_false_per_hour", "-1",
     "fail the run (false_elections) when false elections per hour exceed this (-1: a measurement only)"},
    {NULL, NULL, NULL},
};

int64_t deja_timeout_bound_ns(int64_t rtt_max_ns, int64_t drift_ppb, int64_t window_ns, int64_t offset_ns) {
    assert(rtt_max_ns >= 0 && drift_ppb >= 0 && window_ns >= 0 && offset_ns >= 0);
    int64_t drift_ns = (int64_t)(((__int128)drift_ppb * window_ns) / 1000000000);
    return 2 * rtt_max_ns + 2 * (drift_ns + offset_ns);
}

int deja_election_as_range(deja_world *w, const deja_params *p, deja_params **out, char *err, size_t errlen) {
    *out = NULL;
    const char *v = deja_params_get(p, "raft.election_ms");
    deja_params *q = deja_params_clone(p);
    if (v != NULL && strchr(v, '-') == NULL) {
        int64_t lo;
        if (deja_parse_i64(v, &lo) != 0 || lo < 1 || lo > 1800000) {
            snprintf(err, errlen, "parameter raft.election_ms=%s: expected MIN (ms, MAX = 2*MIN) or MIN-MAX", v);
            deja_params_free(q);
            return 2;
        }
        char range[48];
        snprintf(range, sizeof range, "%lld-%lld", (long long)lo, (long long)(2 * lo));
        deja_params_set(q, "raft.election_ms", range);
        /* The world keeps its own copy of the parameters (deja_world_new
         * clones them) and the nodes read raft.election_ms from it. */
        deja_params_set((deja_params *)deja_world_params(w), "raft.election_ms", range);
    }
    *out = q;
    return 0;
}

/* Reads the clock and network parameters the bound needs, in ns and ppb. */
static int deja__ts_bound_inputs(const deja_params *p, int64_t *rtt_max, int64_t *drift_ppb, int64_t *offset,
                                 int64_t *window, char *err, size_t errlen) {
    int64_t lat, jit, off, drift, win, lo, hi, step;
    deja_params *q = deja_params_clone(p);
    int rc = deja_params_fixed9(p, "net.latency_ms", 0, 1000000, &lat, err, errlen) ||
             deja_params_fixed9(p, "net.jitter_ms", 0, 1000000, &jit, err, errlen) ||
             deja_params_fixed9(p, "clock.offset_ms", 0, 1000000000, &off, err, errlen) ||
             deja_params_fixed9(p, "clock.drift_ppm", 0, 500000, &drift, err, errlen) ||
             deja_params_fixed9(p, "clock.step_ms", 0, 1000000000, &step, err, errlen) ||
             deja_params_i64(p, "bound.window_ms", 0, 86400000, &win, err, errlen);
    if (!rc) {
        const char *v = deja_params_get(p, "raft.election_ms");
        if (v != NULL && strchr(v, '-') == NULL && deja_parse_i64(v, &lo) == 0) {
            char range[48];
            snprintf(range, sizeof range, "%lld-%lld", (long long)lo, (long long)(2 * lo));
            deja_params_set(q, "raft.election_ms", range);
        }
        rc = deja_raft_parse_election(q, &lo, &hi, err, errlen);
    }
    deja_params_free(q);
    if (rc) return 2;
    *rtt_max = 2 * (lat / 1000 + jit / 1000);
    *drift_ppb = drift / 1000000;
    *offset = off / 1000 + step / 1000; /* delta: the offset, plus what one NTP step may add */
    *window = win > 0 ? win * RT_MS : hi * RT_MS;
    return 0;
}

/* NTP steps of every node's wall clock (clock.step_ms, clock.step_every_s),
 * drawn from the world's "clock-steps" stream (so runs without steps keep
 * their draws): a random phase, then one step per period, either sign.
 * They matter only to timers on the wall clock (raft.timer_clock=wall). */
static int deja__ts_steps(deja_world *w, const deja_params *p, uint32_t nodes, char *err, size_t errlen) {
    int64_t step, every, dur, sign;
    const char *tc = deja_params_get(p, "raft.timer_clock");
    if (tc == NULL || (strcmp(tc, "mono") != 0 && strcmp(tc, "wall") != 0)) {
        snprintf(err, errlen, "parameter raft.timer_clock=%s: expected mono or wall", tc ? tc : "(unset)");
        return 2;
    }
    if (deja_params_fixed9(p, "clock.step_ms", 0, 1000000000, &step, err, errlen) ||
        deja_params_fixed9(p, "clock.step_every_s", 0, 1000000000, &every, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "clock.step_sign", -1, 1, &sign, err, errlen))
        return 2;
    int64_t step_ns = step / 1000, every_ns = every; /* fixed9 seconds are ns */
    if (step_ns <= 0 || every_ns <= 0) return 0;
    deja_prng *r = deja_world_stream(w, "clock-steps");
    for (uint32_t i = 0; i < nodes; i++)
        for (int64_t t = deja_prng_range(r, 0, every_ns - 1); t < dur * RT_SEC; t += every_ns) {
            bool fwd = deja_prng_below(r, 2) != 0; /* drawn either way: the sign never shifts the draws */
            deja_clock_step(w, i, t, (sign > 0 || (sign == 0 && fwd)) ? step_ns : -step_ns);
        }
    return 0;
}

static int deja__ts_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t dur, rtt, drift, off, win;
    if (deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja__ts_bound_inputs(p, &rtt, &drift, &off, &win, err, errlen))
        return 2;
    deja_params *q = NULL;
    if (deja_election_as_range(w, p, &q, err, errlen)) return 2;
    deja_world_set_duration(w, dur * RT_SEC);
    deja_raft_world *rw = NULL;
    int rc = deja_raft_setup(w, q, 0, &rw, err, errlen);
    deja_params_free(q);
    if (rc) return 2;
    if (deja__ts_steps(w, p, rw->nodes, err, errlen)) return 2;
    deja_world_trace(w, "timeout-sweep: election %lld-%lld ms, bound %lld ns", (long long)(rw->election_min_ns / RT_MS),
                     (long long)(rw->election_max_ns / RT_MS),
                     (long long)deja_timeout_bound_ns(rtt, drift, win, off));
    return 0;
}

/* Sets key to ns as milliseconds with three decimals (ns >= 0). */
static void deja__ts_ms(deja_summary *s, const char *key, int64_t ns) {
    assert(ns >= 0);
    deja_summary_set(s, key, "%lld.%03lld", (long long)(ns / RT_MS), (long long)(ns % RT_MS / 1000));
}

/* The raft oracle's verdict and metrics, then the rate and the bound. */
static void deja__ts_finish(deja_world *w, deja_summary *s) {
    deja_raft_world *rw = deja_world_data(w);
    deja_raft_finish(w, s);
    const deja_params *p = deja_world_params(w);
    int64_t rtt = 0, drift = 0, off = 0, win = 0, pause_s = 0, pause_ms = 0;
    char err[256];
    int rc = deja__ts_bound_inputs(p, &rtt, &drift, &off, &win, err, sizeof err);
    rc |= deja_params_i64(p, "fault.pause_every_s", 0, 1 << 30, &pause_s, err, sizeof err);
    rc |= deja_params_i64(p, "fault.pause_ms", 0, 1 << 30, &pause_ms, err, sizeof err);
    assert(rc == 0 && "setup accepted these parameters");
    (void)rc;
    const char *fe = deja_summary_get(s, "false_elections");
    int64_t n_false = fe ? strtoll(fe, NULL, 10) : 0;
    int64_t dur_ms = deja_world_now(w) / RT_MS;
    int64_t per_hour_x100 = dur_ms > 0 ? n_false * 360000000 / dur_ms : 0; /* 3600 s * 1000 ms * 100 */
    deja_summary_set(s, "false_elections_per_hour", "%lld.%02lld", (long long)(per_hour_x100 / 100),
                     (long long)(per_hour_x100 % 100));
    int64_t bound = deja_timeout_bound_ns(rtt, drift, win, off);
    int64_t pause_ns = pause_s > 0 ? pause_ms * RT_MS : 0;
    deja__ts_ms(s, "rtt_max_ms", rtt);
    deja__ts_ms(s, "window_ms", win);
    deja__ts_ms(s, "eps_clock_ms", (bound - 2 * rtt) / 2);
    deja__ts_ms(s, "bound_ms", bound);
    deja__ts_ms(s, "bound_pause_ms", deja_timeout_bound_ns(rtt, drift, win, off + pause_ns));
    deja_summary_set(s, "bound_ok", "%d", rw->election_min_ns > bound ? 1 : 0);
    int64_t max_false = -1;
    if (deja_params_i64(p, "ts.max_false_per_hour", -1, INT64_MAX / 100, &max_false, err, sizeof err) == 0 &&
        max_false >= 0 && per_hour_x100 > max_false * 100)
        deja_summary_fail(s, "false_elections");
}

const deja_scenario deja_scenario_timeout_sweep = {
    "timeout-sweep",
    "Raft election timeout vs clock error, pauses and round-trip time: false elections per hour against the bound "
    "2*RTT + 2*eps_clock",
    deja__timeout_sweep_params,
    deja__ts_setup,
    deja__ts_finish,
};
