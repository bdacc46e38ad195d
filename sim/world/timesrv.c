/*
 * timesrv.c -- the simulated time servers (rt_time_servers, rt_time_query)
 * and the clock-error samples of the time-sync metrics.
 *
 * A scenario configures N servers with deja_timesrv_config. Each has a fixed
 * error on true time (uniform in +-err), a base one-way delay per direction
 * (uniform in [delay/2, 3*delay/2], so paths are asymmetric as real ones
 * are) and a per-query jitter added to each direction; the last few are
 * falsetickers, off by a large error. A query parks the calling task for
 * the round trip in virtual time and fills NTP's four timestamps: t1 and t4
 * from the node's own wall clock, t2 and t3 from true time plus the
 * server's error. Every draw comes from the world's "ntp" stream.
 *
 * The state hangs off its world (w->timesrv) and is freed with it.
 *
 * The same state records the RT_FACT_CLOCK facts the nodes report as
 * samples of the raw and calibrated clock error (the simulator knows true
 * time), for deja_timesrv_stats.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEJA__TS_PROC_MIN (10 * 1000)  /* server processing time, ns */
#define DEJA__TS_PROC_MAX (100 * 1000)

typedef struct deja__tsrv {
    int64_t err_ns;          /* server clock - true time */
    int64_t out_ns, in_ns;   /* base one-way delays: node -> server, server -> node */
} deja__tsrv;

struct deja__timesrv {
    deja_world *w;
    uint32_t n;
    int64_t err_ns; /* claimed error bound (root dispersion) */
    int64_t jitter_ns;
    deja_prng *rng; /* the world's "ntp" stream */
    deja__tsrv srv[DEJA_TIMESRV_MAX];
    /* clock-error samples (|error|, ns) */
    int64_t *raw, *cal;
    size_t len, cap;
};

/* The state of world w, or NULL when w has no time servers. */
static deja__timesrv *deja__ts_of(const deja_world *w) { return w->timesrv; }

void deja__timesrv_free(deja__timesrv *ts) {
    if (!ts) return;
    free(ts->raw);
    free(ts->cal);
    free(ts);
}

/* Records one RT_FACT_CLOCK fact as a raw and a calibrated error sample. */
static void deja__ts_on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    deja__timesrv *ts = arg;
    (void)now;
    if (f->kind != RT_FACT_CLOCK) return;
    if (ts->len == ts->cap) {
        ts->cap = ts->cap ? 2 * ts->cap : 1024;
        ts->raw = realloc(ts->raw, ts->cap * sizeof *ts->raw);
        ts->cal = realloc(ts->cal, ts->cap * sizeof *ts->cal);
        assert(ts->raw && ts->cal);
    }
    int64_t raw = deja_clock_error(ts->w, node);
    int64_t cal = raw + f->value;
    ts->raw[ts->len] = raw < 0 ? -raw : raw;
    ts->cal[ts->len] = cal < 0 ? -cal : cal;
    ts->len++;
}

void deja_timesrv_config(deja_world *w, uint32_t n, int64_t err_ns, int64_t delay_ns, int64_t jitter_ns,
                         uint32_t falsetickers, int64_t falseticker_ns) {
    assert(n <= DEJA_TIMESRV_MAX && falsetickers <= n);
    assert(err_ns >= 0 && delay_ns >= 0 && jitter_ns >= 0 && falseticker_ns >= 0);
    assert(w->timesrv == NULL && "the time servers are configured once");
    deja__timesrv *ts = calloc(1, sizeof *ts);
    assert(ts);
    ts->w = w;
    ts->n = n;
    ts->err_ns = err_ns;
    ts->jitter_ns = jitter_ns;
    ts->rng = deja_world_stream(w, "ntp");
    for (uint32_t i = 0; i < n; i++) {
        deja__tsrv *s = &ts->srv[i];
        s->err_ns = deja_prng_range(ts->rng, -err_ns, err_ns);
        if (i >= n - falsetickers)
            s->err_ns += deja_prng_below(ts->rng, 2) ? falseticker_ns : -falseticker_ns;
        s->out_ns = deja_prng_range(ts->rng, delay_ns / 2, delay_ns + delay_ns / 2);
        s->in_ns = deja_prng_range(ts->rng, delay_ns / 2, delay_ns + delay_ns / 2);
        deja_world_trace(w, "timesrv %u err_ns=%lld out_ns=%lld in_ns=%lld", i, (long long)s->err_ns,
                         (long long)s->out_ns, (long long)s->in_ns);
    }
    w->timesrv = ts;
    deja_world_on_fact(w, deja__ts_on_fact, ts);
}

uint32_t rt_time_servers(void) {
    deja__timesrv *ts = deja__ts_of(deja__w);
    return ts ? ts->n : 0;
}

int rt_time_query(uint32_t server, rt_time_sample *out, int64_t timeout_ns) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    deja__timesrv *ts = deja__ts_of(w);
    if (ts == NULL || server >= ts->n || out == NULL) return RT_EINVAL;
    const deja__tsrv *s = &ts->srv[server];
    int64_t out_ns = s->out_ns, in_ns = s->in_ns;
    if (ts->jitter_ns > 0) {
        out_ns += deja_prng_range(ts->rng, 0, ts->jitter_ns);
        in_ns += deja_prng_range(ts->rng, 0, ts->jitter_ns);
    }
    int64_t proc = deja_prng_range(ts->rng, DEJA__TS_PROC_MIN, DEJA__TS_PROC_MAX);
    int64_t rtt = out_ns + proc + in_ns;
    int64_t deadline = deja__deadline(w, n, timeout_ns);
    if (deadline >= 0 && w->now + rtt > deadline) {
        deja__trace(w, DEJA__TK_NOTE, (int)n->id, server, (uint64_t)rtt, "ntp timeout");
        deja__park(w, "ntp", "time server", deadline);
        return RT_ETIMEDOUT;
    }
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, server, (uint64_t)rtt, "ntp query");
    /* true wall time now: the node's wall minus its error */
    int64_t true_wall = deja__wall(n, w->now) - deja_clock_error(w, n->id);
    out->t1 = deja__wall(n, w->now);
    out->t2 = true_wall + out_ns + s->err_ns;
    out->t3 = out->t2 + proc;
    out->root_disp_ns = ts->err_ns;
    int r = deja__park(w, "ntp", "time server", w->now + rtt);
    assert(r == RT_ETIMEDOUT); /* nothing else wakes it */
    (void)r;
    out->t4 = deja__wall(n, w->now);
    return RT_OK;
}

/* qsort order of int64_t. */
static int deja__i64_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The nearest-rank pct-th percentile of v[0..n) sorted ascending (n > 0). */
static int64_t deja__pct(const int64_t *v, size_t n, unsigned pct) {
    assert(n > 0 && pct >= 1 && pct <= 100);
    size_t rank = (pct * n + 99) / 100;
    return v[rank - 1];
}

void deja_timesrv_stats(const deja_world *w, deja_clock_stats *out) {
    memset(out, 0, sizeof *out);
    const deja__timesrv *ts = deja__ts_of(w);
    if (ts == NULL || ts->len == 0) return;
    int64_t *v = malloc(ts->len * sizeof *v);
    assert(v);
    out->samples = ts->len;
    memcpy(v, ts->raw, ts->len * sizeof *v);
    qsort(v, ts->len, sizeof *v, deja__i64_cmp);
    out->raw_p50 = deja__pct(v, ts->len, 50);
    out->raw_p99 = deja__pct(v, ts->len, 99);
    out->raw_max = v[ts->len - 1];
    memcpy(v, ts->cal, ts->len * sizeof *v);
    qsort(v, ts->len, sizeof *v, deja__i64_cmp);
    out->cal_p50 = deja__pct(v, ts->len, 50);
    out->cal_p99 = deja__pct(v, ts->len, 99);
    out->cal_max = v[ts->len - 1];
    free(v);
}
