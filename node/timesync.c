/*
 * timesync.c -- the node's time sync (see timesync.h): the pure pieces
 * (NTP's sample formulas, Marzullo's intersection, the least-squares drift
 * fit, all in integer nanoseconds), the polling task, and the "timesync"
 * program.
 *
 * The task owns the per-server sample registers and the fit window; the
 * fitted line (the only thing readers need) is published under a mutex, as
 * readers run on other tasks (threads in production). Nothing here blocks
 * while holding it.
 */
#include "timesync.h"

#include <assert.h>
#include <string.h>

#include "param.h"

#define TIMESYNC_PHI_PPM 15              /* NTP's dispersion growth of an aging sample */
#define TIMESYNC_FIT_SPAN ((int64_t)1 << 45) /* max |x - x_first| in a fit, ns */
#define TIMESYNC_FIT_SPREAD ((int64_t)1 << 30) /* max |y - y_first| in a fit, ns */
#define TIMESYNC_STEP_GUARD RT_MS /* wall and mono disagree this much over one exchange: a step */
#define TIMESYNC_MIN_WAIT_NS 1000
#define TIMESYNC_MAX_MS ((int64_t)24 * 3600 * 1000)

/* ---- pure pieces ---------------------------------------------------------- */

void timesync_sample_eval(const rt_time_sample *s, int64_t *offset, int64_t *delay) {
    assert(s != NULL && offset != NULL && delay != NULL);
    int64_t a = s->t2 - s->t1, b = s->t3 - s->t4;
    *offset = a / 2 + b / 2 + (a % 2 + b % 2) / 2;
    *delay = (s->t4 - s->t1) - (s->t3 - s->t2);
}

/* An interval's endpoint for the sweep: start (+1) or end (-1). */
typedef struct timesync__edge {
    int64_t at;
    int type;
} timesync__edge;

uint32_t timesync_marzullo(const timesync_interval *iv, uint32_t n, int64_t *lo, int64_t *hi, bool *keep) {
    assert(n <= TIMESYNC_MAX_SERVERS && lo != NULL && hi != NULL && keep != NULL);
    if (n == 0) return 0;
    timesync__edge e[2 * TIMESYNC_MAX_SERVERS];
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        assert(iv[i].lo <= iv[i].hi);
        e[m++] = (timesync__edge){iv[i].lo, +1};
        e[m++] = (timesync__edge){iv[i].hi, -1};
    }
    /* insertion sort by position, starts before ends (closed intervals touch) */
    for (uint32_t i = 1; i < m; i++) {
        timesync__edge x = e[i];
        uint32_t j = i;
        while (j > 0 && (e[j - 1].at > x.at || (e[j - 1].at == x.at && e[j - 1].type < x.type))) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
    uint32_t best = 0, count = 0;
    for (uint32_t i = 0; i < m; i++) {
        if (e[i].type > 0) {
            count++;
            if (count > best) {
                best = count;
                *lo = e[i].at;
                /* the next edge is an end (a start would raise the count further) */
                assert(i + 1 < m);
                *hi = e[i + 1].at;
            }
        } else {
            assert(count > 0);
            count--;
        }
    }
    assert(best >= 1 && *lo <= *hi);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        keep[i] = iv[i].lo <= *lo && iv[i].hi >= *hi;
        kept += keep[i];
    }
    assert(kept == best);
    return best;
}

/* a * 10^digits / b, truncated toward zero, by long division (no 128-bit
 * arithmetic: the node library may not call libgcc's helpers); b > 0,
 * b < 2^59; saturates at +-2^62. */
static int64_t timesync__mul10_div(int64_t a, int digits, int64_t b) {
    assert(b > 0 && b < ((int64_t)1 << 59));
    bool neg = a < 0;
    uint64_t ua = neg ? (uint64_t)0 - (uint64_t)a : (uint64_t)a;
    uint64_t q = ua / (uint64_t)b, r = ua % (uint64_t)b;
    const uint64_t cap = (uint64_t)1 << 62;
    for (int i = 0; i < digits; i++) {
        r *= 10; /* r < b < 2^59: no overflow */
        q = q * 10 + r / (uint64_t)b;
        r %= (uint64_t)b;
        if (q > cap / 10) return neg ? -(int64_t)cap : (int64_t)cap;
    }
    return neg ? -(int64_t)q : (int64_t)q;
}

int timesync_fit(const timesync_point *p, uint32_t n, timesync_line *out) {
    if (p == NULL || out == NULL || n == 0 || n > TIMESYNC_MAX_WINDOW) return RT_EINVAL;
    int64_t sx = 0, sy = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t dx = p[i].x - p[0].x, dy = p[i].y - p[0].y;
        if (dx > TIMESYNC_FIT_SPAN || dx < -TIMESYNC_FIT_SPAN || dy > TIMESYNC_FIT_SPREAD ||
            dy < -TIMESYNC_FIT_SPREAD)
            return RT_EINVAL;
        sx += dx; /* |sum| < 64 * 2^45 */
        sy += dy;
    }
    out->x0 = p[0].x + sx / (int64_t)n;
    out->y0 = p[0].y + sy / (int64_t)n;
    /* centred sums, x in ms: |dx| < 2^26, |dy| < 2^31, 64 terms: < 2^63 */
    int64_t num = 0, den = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t dx = (p[i].x - out->x0) / RT_MS, dy = p[i].y - out->y0;
        num += dx * dy;
        den += dx * dx;
    }
    out->slope_ppb = 0;
    if (den > 0) {
        /* slope in ns per ms = num / den; 1 ns/ms = 1 ppm: in ppb, that * 10^3 */
        int64_t s = timesync__mul10_div(num, 3, den);
        if (s > TIMESYNC_MAX_PPB) s = TIMESYNC_MAX_PPB;
        if (s < -TIMESYNC_MAX_PPB) s = -TIMESYNC_MAX_PPB;
        out->slope_ppb = s;
    }
    return RT_OK;
}

int64_t timesync_line_at(const timesync_line *l, int64_t x) {
    assert(l != NULL && l->slope_ppb >= -TIMESYNC_MAX_PPB && l->slope_ppb <= TIMESYNC_MAX_PPB);
    int64_t dx = x - l->x0;
    if (dx > TIMESYNC_FIT_SPAN) dx = TIMESYNC_FIT_SPAN;
    if (dx < -TIMESYNC_FIT_SPAN) dx = -TIMESYNC_FIT_SPAN;
    /* |slope| <= 2^20, |dx / 1000| < 2^36: the product fits */
    return l->y0 + l->slope_ppb * (dx / 1000) / 1000000;
}

/* ---- configuration ---------------------------------------------------------- */

void timesync_config_load(timesync_config *cfg) {
    assert(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    int64_t have = rt_time_servers();
    if (have > TIMESYNC_MAX_SERVERS) have = TIMESYNC_MAX_SERVERS;
    cfg->servers = (uint32_t)node_param("timesync", "ntp.servers", have, 0, TIMESYNC_MAX_SERVERS);
    if (cfg->servers > have) cfg->servers = (uint32_t)have;
    cfg->poll_ns = node_param("timesync", "ntp.poll_ms", 16000, 1, TIMESYNC_MAX_MS) * RT_MS;
    cfg->timeout_ns = node_param("timesync", "ntp.timeout_ms", 1000, 1, TIMESYNC_MAX_MS) * RT_MS;
    cfg->report_ns = node_param("timesync", "ntp.report_ms", 1000, 0, TIMESYNC_MAX_MS) * RT_MS;
    cfg->filter = (uint32_t)node_param("timesync", "ntp.filter", 8, 1, TIMESYNC_MAX_FILTER);
    cfg->window = (uint32_t)node_param("timesync", "ntp.window", 16, 1, TIMESYNC_MAX_WINDOW);
    cfg->fit_min = (uint32_t)node_param("timesync", "ntp.fit_min", 4, 2, TIMESYNC_MAX_WINDOW);
    cfg->step_ns = node_param("timesync", "ntp.step_ms", 128, 1, TIMESYNC_MAX_MS) * RT_MS;
    cfg->wall_clock = node_param("timesync", "node.wall_durations", 0, 0, 1) != 0;
}

/* ---- the calibrated clock ----------------------------------------------- */

/* One sample of a server's register. phi = true time - local monotonic time
 * as the exchange measured it, at monotonic time x (its midpoint). */
typedef struct timesync__sample {
    int64_t x, phi, delay, disp;
    bool valid;
} timesync__sample;

struct timesync {
    timesync_config cfg;
    rt_ctx *ctx;
    rt_wg *wg;
    rt_mutex *mu;
    /* published under mu */
    bool synced;
    timesync_line line; /* phi(mono) */
    /* the task's own */
    timesync__sample *reg; /* servers x filter, a ring per server */
    uint32_t *reg_next;
    timesync_point *win; /* the fit window, oldest first */
    uint32_t nwin;
    uint32_t outliers; /* consecutive estimates off the line by > step */
    uint64_t polls, updates, no_majority, timeouts, steps_seen;
};

/* The clock the fit is kept against and durations are measured on: the
 * monotonic one, or with node.wall_durations=1 the raw wall clock (the
 * field report's failure 2: an NTP step of the raw clock then moves the
 * calibrated clock with it until the fit notices, two polls later). */
static int64_t timesync__clock(const timesync *ts) { return ts->cfg.wall_clock ? rt_wall_ns() : rt_mono_ns(); }

/* The published line (and whether there is one), read under the mutex. */
static bool timesync__read(timesync *ts, timesync_line *l) {
    if (rt_mutex_lock(ts->mu, RT_SEC) != RT_OK) return false; /* never held long */
    bool ok = ts->synced;
    *l = ts->line;
    rt_mutex_unlock(ts->mu);
    return ok;
}

bool timesync_synced(timesync *ts) {
    timesync_line l;
    return ts != NULL && timesync__read(ts, &l);
}

int64_t timesync_now(timesync *ts) {
    timesync_line l;
    if (ts == NULL || !timesync__read(ts, &l)) return rt_wall_ns();
    int64_t m = timesync__clock(ts);
    return m + timesync_line_at(&l, m);
}

int64_t timesync_offset(timesync *ts) {
    timesync_line l;
    if (ts == NULL || !timesync__read(ts, &l)) return 0;
    int64_t m = timesync__clock(ts), wall = rt_wall_ns();
    return m + timesync_line_at(&l, m) - wall;
}

int64_t timesync_drift_ppb(timesync *ts) {
    timesync_line l;
    if (ts == NULL || !timesync__read(ts, &l)) return 0;
    /* phi = true - mono falls as fast as the local clock gains */
    return -l.slope_ppb;
}

/* Queries every server once and files the answers in their registers. */
static void timesync__query_all(timesync *ts) {
    for (uint32_t i = 0; i < ts->cfg.servers && rt_ctx_err(ts->ctx) == RT_OK; i++) {
        rt_time_sample s;
        int64_t m1 = timesync__clock(ts);
        int rc = rt_time_query(i, &s, ts->cfg.timeout_ns);
        int64_t m4 = timesync__clock(ts);
        if (rc != RT_OK) {
            ts->timeouts++;
            continue;
        }
        int64_t off, delay;
        timesync_sample_eval(&s, &off, &delay);
        int64_t skew = (s.t4 - s.t1) - (m4 - m1);
        if (skew > TIMESYNC_STEP_GUARD || skew < -TIMESYNC_STEP_GUARD) {
            ts->steps_seen++; /* the wall clock stepped mid-exchange: the sample is void */
            continue;
        }
        if (delay < 0) delay = 0; /* clock granularity */
        timesync__sample *r = &ts->reg[i * ts->cfg.filter + ts->reg_next[i]];
        ts->reg_next[i] = (ts->reg_next[i] + 1) % ts->cfg.filter;
        /* wall - mono is the same at t4 as at the midpoint (no step) */
        *r = (timesync__sample){
            .x = m1 + (m4 - m1) / 2, .phi = off + (s.t4 - m4), .delay = delay, .disp = s.root_disp_ns, .valid = true};
    }
}

/* sorts v[0..n) ascending (n small) */
static void timesync__sort(int64_t *v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++) {
        int64_t x = v[i];
        uint32_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* The clock filter, selection and combination at monotonic time now:
 * RT_OK and *est (phi), or RT_ETIMEDOUT when no majority of the servers
 * that answered agree (or none answered). */
static int timesync__estimate(timesync *ts, int64_t now, bool synced, const timesync_line *l, int64_t *est) {
    timesync_interval iv[TIMESYNC_MAX_SERVERS];
    int64_t mid[TIMESYNC_MAX_SERVERS];
    bool keep[TIMESYNC_MAX_SERVERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < ts->cfg.servers; i++) {
        const timesync__sample *best = NULL;
        int64_t best_dist = 0;
        for (uint32_t k = 0; k < ts->cfg.filter; k++) {
            const timesync__sample *r = &ts->reg[i * ts->cfg.filter + k];
            if (!r->valid) continue;
            int64_t age = now - r->x;
            int64_t dist = r->delay / 2 + r->disp + age / 1000000 * TIMESYNC_PHI_PPM;
            if (best == NULL || dist < best_dist) best = r, best_dist = dist;
        }
        if (best == NULL) continue;
        /* carry the sample to now along the fitted drift */
        int64_t phi = best->phi;
        if (synced) phi += timesync_line_at(l, now) - timesync_line_at(l, best->x);
        iv[n] = (timesync_interval){phi - best_dist, phi + best_dist};
        mid[n] = phi;
        n++;
    }
    if (n == 0) return RT_ETIMEDOUT;
    int64_t lo, hi;
    uint32_t c = timesync_marzullo(iv, n, &lo, &hi, keep);
    if (2 * c <= n) return RT_ETIMEDOUT;
    int64_t v[TIMESYNC_MAX_SERVERS];
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (keep[i]) v[m++] = mid[i];
    assert(m == c);
    timesync__sort(v, m);
    *est = m % 2 ? v[m / 2] : v[m / 2 - 1] + (v[m / 2] - v[m / 2 - 1]) / 2;
    return RT_OK;
}

/* Adds point (x, y) to the fit window and refits; publishes the line. */
static void timesync__update(timesync *ts, int64_t x, int64_t y) {
    if (ts->nwin == ts->cfg.window ||
        (ts->nwin > 0 && (x - ts->win[0].x > TIMESYNC_FIT_SPAN / 2 || y - ts->win[0].y > TIMESYNC_FIT_SPREAD / 2 ||
                          ts->win[0].y - y > TIMESYNC_FIT_SPREAD / 2))) {
        memmove(ts->win, ts->win + 1, (ts->nwin - 1) * sizeof *ts->win);
        ts->nwin--;
    }
    ts->win[ts->nwin++] = (timesync_point){x, y};
    timesync_line l = {.x0 = x, .y0 = y, .slope_ppb = 0};
    if (ts->nwin >= ts->cfg.fit_min) {
        int rc = timesync_fit(ts->win, ts->nwin, &l);
        if (rc != RT_OK) { /* spread too far: start over from this point */
            ts->win[0] = (timesync_point){x, y};
            ts->nwin = 1;
        }
    }
    if (ts->nwin < ts->cfg.fit_min) /* too few for a slope: the latest estimate, flat */
        l = (timesync_line){.x0 = x, .y0 = y, .slope_ppb = 0};
    int rc = rt_mutex_lock(ts->mu, RT_FOREVER); /* readers never block while holding it */
    assert(rc == RT_OK);
    (void)rc;
    ts->line = l;
    ts->synced = true;
    rt_mutex_unlock(ts->mu);
    ts->updates++;
}

/* One poll: query, estimate, refit. */
static void timesync__poll(timesync *ts) {
    ts->polls++;
    timesync__query_all(ts);
    if (rt_ctx_err(ts->ctx) != RT_OK) return;
    timesync_line l = ts->line; /* only this task writes it */
    bool synced = ts->synced;
    int64_t now = timesync__clock(ts), est;
    if (timesync__estimate(ts, now, synced, &l, &est) != RT_OK) {
        ts->no_majority++;
        rt_log(RT_LOG_DEBUG, "timesync: no majority of servers agrees; keeping the estimate");
        return;
    }
    if (synced) {
        int64_t off = est - timesync_line_at(&l, now);
        if (off > ts->cfg.step_ns || off < -ts->cfg.step_ns) {
            if (++ts->outliers < 2) return; /* a popcorn spike: ignore it once */
            rt_log(RT_LOG_WARN, "timesync: estimate %lld ns off the fit twice: restarting the fit",
                   (long long)off);
            ts->nwin = 0;
        }
    }
    ts->outliers = 0;
    timesync__update(ts, now, est);
}

/* Reports the calibrated-minus-raw offset as an RT_FACT_CLOCK fact. */
static void timesync__report(timesync *ts) {
    if (!ts->synced) return;
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = RT_FACT_CLOCK;
    f.height = ts->polls;
    f.value = timesync_offset(ts);
    rt_fact_report(&f);
}

/* The task: polls and reports until the context is done. */
static void timesync__task(void *arg) {
    timesync *ts = arg;
    rt_chan *done = rt_ctx_done(ts->ctx);
    int64_t next_poll = timesync__clock(ts);
    int64_t next_report = next_poll + ts->cfg.report_ns;
    while (rt_ctx_err(ts->ctx) == RT_OK) {
        int64_t now = timesync__clock(ts);
        if (now >= next_poll) {
            timesync__poll(ts);
            next_poll += ts->cfg.poll_ns;
            now = timesync__clock(ts);
            if (next_poll <= now) next_poll = now + ts->cfg.poll_ns; /* never catch up in a burst */
        }
        if (ts->cfg.report_ns > 0 && now >= next_report) {
            timesync__report(ts);
            while (next_report <= now) next_report += ts->cfg.report_ns;
        }
        int64_t due = next_poll;
        if (ts->cfg.report_ns > 0 && next_report < due) due = next_report;
        int64_t wait = due - timesync__clock(ts);
        if (wait < TIMESYNC_MIN_WAIT_NS) wait = TIMESYNC_MIN_WAIT_NS;
        rt_case c = {.ch = done, .op = RT_RECV, .elem = NULL, .result = 0};
        if (rt_select(&c, 1, wait) == 0) break;
    }
    rt_log(RT_LOG_INFO,
           "timesync: stop: polls %llu, updates %llu, no majority %llu, timeouts %llu, steps %llu, "
           "drift %lld ppb, offset %lld ns",
           (unsigned long long)ts->polls, (unsigned long long)ts->updates, (unsigned long long)ts->no_majority,
           (unsigned long long)ts->timeouts, (unsigned long long)ts->steps_seen,
           (long long)(ts->synced ? -ts->line.slope_ppb : 0), (long long)timesync_offset(ts));
    rt_wg_done(ts->wg);
}

/* Frees what timesync_start allocated (the task is not running). */
static void timesync__free(timesync *ts) {
    if (ts->ctx != NULL) rt_ctx_release(ts->ctx);
    if (ts->wg != NULL) rt_wg_free(ts->wg);
    if (ts->mu != NULL) rt_mutex_free(ts->mu);
    if (ts->reg != NULL) rt_free(ts->reg);
    if (ts->reg_next != NULL) rt_free(ts->reg_next);
    if (ts->win != NULL) rt_free(ts->win);
    rt_free(ts);
}

timesync *timesync_start(rt_ctx *parent, const timesync_config *cfg) {
    assert(parent != NULL && cfg != NULL);
    assert(cfg->servers <= TIMESYNC_MAX_SERVERS && cfg->filter >= 1 && cfg->filter <= TIMESYNC_MAX_FILTER);
    assert(cfg->window >= 1 && cfg->window <= TIMESYNC_MAX_WINDOW && cfg->poll_ns > 0 && cfg->timeout_ns > 0);
    if (cfg->servers == 0) return NULL;
    timesync *ts = rt_calloc(1, sizeof *ts);
    if (ts == NULL) return NULL;
    ts->cfg = *cfg;
    ts->reg = rt_calloc((size_t)cfg->servers * cfg->filter, sizeof *ts->reg);
    ts->reg_next = rt_calloc(cfg->servers, sizeof *ts->reg_next);
    ts->win = rt_calloc(cfg->window, sizeof *ts->win);
    ts->mu = rt_mutex_new("timesync");
    ts->wg = rt_wg_new();
    ts->ctx = rt_ctx_with_cancel(parent);
    if (ts->reg == NULL || ts->reg_next == NULL || ts->win == NULL || ts->mu == NULL || ts->wg == NULL ||
        ts->ctx == NULL) {
        timesync__free(ts);
        return NULL;
    }
    rt_wg_add(ts->wg, 1);
    if (rt_spawn("timesync", timesync__task, ts) != RT_OK) {
        rt_wg_done(ts->wg);
        timesync__free(ts);
        return NULL;
    }
    return ts;
}

void timesync_stop(timesync *ts) {
    if (ts == NULL) return;
    rt_ctx_cancel(ts->ctx);
    /* a query in flight ends within its timeout */
    int64_t bound = ts->cfg.timeout_ns + 5 * RT_SEC;
    if (rt_wg_wait(ts->wg, bound) != RT_OK) {
        rt_log(RT_LOG_ERROR, "timesync: the task did not stop within %lld ms: leaving it",
               (long long)(bound / RT_MS));
        return; /* it still uses ts: freeing would be worse than the leak */
    }
    timesync__free(ts);
}

/* ---- the program ---------------------------------------------------------- */

void timesync_main(rt_ctx *ctx) {
    timesync_config cfg;
    timesync_config_load(&cfg);
    timesync *ts = timesync_start(ctx, &cfg);
    if (ts == NULL) rt_log(RT_LOG_WARN, "timesync: no time server (or no memory): nothing to do");
    rt_case c = {.ch = rt_ctx_done(ctx), .op = RT_RECV, .elem = NULL, .result = 0};
    (void)rt_select(&c, 1, RT_FOREVER); /* ctx's end closes it */
    timesync_stop(ts);
}
