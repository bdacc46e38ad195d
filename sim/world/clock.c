/*
 * clock.c -- each node's clocks, in integer nanoseconds and parts per billion.
 *
 *   mono(t) = MONO_BASE + t + drift*t            never steps, drifts
 *   wall(t) = EPOCH + offset + t + drift*t + adj + slew(t)
 *
 * where t is true (virtual) time since the start of the run, adj the sum of
 * completed NTP steps and slews, and slew(t) the part of a running slew
 * applied so far at 500 ppm. Sleeps and timeouts are in monotonic time and
 * are turned into true-time deadlines here, so a drifting node sleeps a
 * little longer or shorter in true time, as a real one does.
 */
#include <assert.h>
#include <stdlib.h>

#include "internal.h"

#define DEJA__EPOCH ((int64_t)1700000000 * RT_SEC) /* 2023-11-14T22:13:20Z */
#define DEJA__MONO_BASE ((int64_t)1000 * RT_SEC)   /* never 0: looks like uptime */
#define DEJA__SLEW_PPM 500

/* t * drift / 1e9, truncated toward zero, without 128-bit arithmetic:
 * with t = q*1e9 + r, t*d/1e9 = q*d + r*d/1e9 exactly, and r*d < 1e18
 * fits in 64 bits (|d| < 1e9). Zero drift costs one branch. */
static inline int64_t deja__drift(const deja__node *n, int64_t t) {
    int64_t d = n->drift_ppb;
    if (d == 0) return 0;
    uint64_t ut = t < 0 ? -(uint64_t)t : (uint64_t)t;
    uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
    uint64_t mag = (ut / 1000000000u) * ud + (ut % 1000000000u) * ud / 1000000000u;
    return (t < 0) != (d < 0) ? -(int64_t)mag : (int64_t)mag;
}

int64_t deja__mono(const deja__node *n, int64_t t) { return DEJA__MONO_BASE + t + deja__drift(n, t); }

static int64_t deja__slew_part(const deja__node *n, int64_t t) {
    if (n->slew_amount == 0 || t <= n->slew_start) return 0;
    int64_t done = (t - n->slew_start) * DEJA__SLEW_PPM / 1000000;
    int64_t mag = llabs(n->slew_amount);
    if (done > mag) done = mag;
    return n->slew_amount < 0 ? -done : done;
}

int64_t deja__wall(const deja__node *n, int64_t t) {
    return DEJA__EPOCH + n->offset_ns + t + deja__drift(n, t) + n->wall_adj + deja__slew_part(n, t);
}

int64_t deja__true_at_mono(const deja__node *n, int64_t m) {
    int64_t target = m - DEJA__MONO_BASE;
    if (target <= 0) return 0;
    if (n->drift_ppb == 0) return target; /* mono(t) = BASE + t */
    /* t + t*d/1e9 = target  =>  t ~ target * 1e9 / (1e9 + d), then fix the
     * rounding. With D = 1e9 + d (0 < D < 2e9) and target = q*D + r, the
     * quotient is q*1e9 + r*1e9/D exactly, and r*1e9 < 2e18 fits in 64 bits. */
    uint64_t D = (uint64_t)(1000000000 + n->drift_ppb);
    uint64_t q = (uint64_t)target / D, r = (uint64_t)target % D;
    int64_t t = (int64_t)(q * 1000000000u + r * 1000000000u / D);
    while (t > 0 && deja__mono(n, t - 1) >= m) t--;
    while (deja__mono(n, t) < m) t++;
    return t;
}

int64_t deja__deadline_drift(deja_world *w, const deja__node *n, int64_t timeout_ns) {
    assert(timeout_ns > 0 && n->drift_ppb != 0);
    int64_t t = deja__true_at_mono(n, deja__mono(n, w->now) + timeout_ns);
    return t < w->now ? w->now : t;
}

int64_t rt_mono_ns(void) { return deja__mono(deja__self_node(), deja__w->now); }
int64_t rt_wall_ns(void) { return deja__wall(deja__self_node(), deja__w->now); }

/* Parks the running task for ns. It ends in deja__block, a tail call:
 * the sleeping task's stack holds its caller's frames, the return address
 * and the switch's saved registers, nothing of this function's. */
int rt_sleep_ns_at(int64_t ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__task *self = deja__self();
    self->wfile = file;
    self->wline = line;
    if (ns < 0) ns = 0;
    deja__park_begin(w, self, "sleep", NULL, deja__deadline(w, self->node, ns));
    return deja__block(w);
}

int64_t deja_clock_error(const deja_world *w, uint32_t node) {
    assert(node < w->n_nodes);
    return deja__wall(w->nodes[node], w->now) - DEJA__EPOCH - w->now;
}

/* ---- NTP steps and slews --------------------------------------------------- */

/* Folds the finished part of a running slew into adj. */
static void deja__slew_settle(deja__node *n, int64_t now) {
    n->wall_adj += deja__slew_part(n, now);
    n->slew_amount = 0;
}

static void deja__step_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    if (drop) return;
    deja__node *n = arg;
    int64_t delta = (int64_t)u;
    deja__slew_settle(n, w->now);
    n->wall_adj += delta;
    deja__trace(w, DEJA__TK_CLOCK, (int)n->id, 1, u, "step");
}

static void deja__slew_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    if (drop) return;
    deja__node *n = arg;
    deja__slew_settle(n, w->now);
    n->slew_start = w->now;
    n->slew_amount = (int64_t)u;
    deja__trace(w, DEJA__TK_CLOCK, (int)n->id, 2, u, "slew");
}

void deja_clock_step(deja_world *w, uint32_t node, int64_t at_ns, int64_t delta_ns) {
    assert(node < w->n_nodes);
    deja_plan_inject(w, &(deja_plan_entry){.kind = "step", .node = (int32_t)node, .at_ns = at_ns, .a = delta_ns});
}

void deja_clock_slew(deja_world *w, uint32_t node, int64_t at_ns, int64_t delta_ns) {
    assert(node < w->n_nodes);
    deja_plan_inject(w, &(deja_plan_entry){.kind = "slew", .node = (int32_t)node, .at_ns = at_ns, .a = delta_ns});
}

void deja__step_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes);
    deja__schedule(w, e->at_ns < w->now ? w->now : e->at_ns, deja__step_ev, w->nodes[e->node], (uint64_t)e->a);
}

void deja__slew_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes);
    deja__schedule(w, e->at_ns < w->now ? w->now : e->at_ns, deja__slew_ev, w->nodes[e->node], (uint64_t)e->a);
}
