/*
 * timesync.h -- time sync of the reference node: a calibrated clock from
 * several time servers, after NTP (RFC 5905), in integer arithmetic only.
 *
 * A task polls every server (rt_time_query) every ntp.poll_ms and turns each
 * exchange into an offset and a round-trip delay (NTP's formulas). Per
 * server it keeps the last ntp.filter samples and uses the one with the
 * least distance (half its delay + the server's claimed dispersion + 15 ppm
 * of its age: NTP's clock filter). The chosen samples give one correctness
 * interval per server; Marzullo's algorithm finds the largest set that
 * agree (a majority is required), which drops falsetickers; the median of
 * the survivors is the poll's offset estimate. The last ntp.window
 * estimates, as points (monotonic time, estimate), are fitted by least
 * squares: the slope is the local clock's drift (ppb), and the line
 * extrapolates the offset between polls.
 *
 * The estimate is kept against the monotonic clock (true time - mono), not
 * the wall clock: the two differ by a constant until the wall is stepped or
 * slewed, so an NTP step of the raw wall clock leaves the calibrated clock
 * where it was. timesync_now() is mono + fitted (true - mono); the offset
 * reported (RT_FACT_CLOCK, timesync_offset) is calibrated minus raw wall.
 * Sign: offset > 0 means the raw wall clock is behind true time.
 */
#ifndef DEJA_NODE_TIMESYNC_H
#define DEJA_NODE_TIMESYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "deja/rt.h"

#define TIMESYNC_MAX_SERVERS 16
#define TIMESYNC_MAX_FILTER 32
#define TIMESYNC_MAX_WINDOW 64
#define TIMESYNC_MAX_PPB ((int64_t)1000000) /* |fitted drift| is clamped to 1000 ppm */

typedef struct timesync_config {
    uint32_t servers;   /* ntp.servers: servers used (at most rt_time_servers()) */
    int64_t poll_ns;    /* ntp.poll_ms (16000): time between polls */
    int64_t timeout_ns; /* ntp.timeout_ms (1000): a query's bound */
    int64_t report_ns;  /* ntp.report_ms (1000): RT_FACT_CLOCK period; 0: none */
    uint32_t filter;    /* ntp.filter (8): samples kept per server */
    uint32_t window;    /* ntp.window (16): estimates in the drift fit */
    uint32_t fit_min;   /* ntp.fit_min (4): estimates before the slope is used */
    int64_t step_ns;    /* ntp.step_ms (128): an estimate this far off the line twice in
                           a row restarts the fit */
    bool wall_clock;    /* node.wall_durations (0): 1 keeps the fit against the raw wall
                           clock and times polls on it, so an NTP step of the raw clock
                           moves the calibrated clock (the bug); 0: the monotonic clock */
} timesync_config;

/* Fills cfg from the node's parameters (defaults above; out-of-range values
 * are replaced by defaults with a warning). */
void timesync_config_load(timesync_config *cfg);

/* NTP's offset ((t2 - t1) + (t3 - t4)) / 2 and delay (t4 - t1) - (t3 - t2)
 * of one exchange, in ns. */
void timesync_sample_eval(const rt_time_sample *s, int64_t *offset, int64_t *delay);

/* A correctness interval [lo, hi] (lo <= hi). */
typedef struct timesync_interval {
    int64_t lo, hi;
} timesync_interval;

/* Marzullo's algorithm over n (<= TIMESYNC_MAX_SERVERS) closed intervals:
 * returns the largest number of intervals that share a point, sets [*lo,
 * *hi] to the (lowest) range they share, and keep[i] = whether interval i
 * is one of them. 0 when n is 0. */
uint32_t timesync_marzullo(const timesync_interval *iv, uint32_t n, int64_t *lo, int64_t *hi, bool *keep);

/* A point of the drift fit and the fitted line y(x) = y0 + slope * (x - x0),
 * slope in parts per billion (ns of y per s of x). */
typedef struct timesync_point {
    int64_t x, y;
} timesync_point;

typedef struct timesync_line {
    int64_t x0, y0;
    int64_t slope_ppb;
} timesync_line;

/* Least squares over n (1..TIMESYNC_MAX_WINDOW) points: RT_OK and *out, or
 * RT_EINVAL when n is out of range or the points spread too far (x over
 * 2^45 ns, about 9.7 hours; y over 2^30 ns, about 1 s) for exact integer
 * sums. One point, or all at one x: slope 0 through their mean. */
int timesync_fit(const timesync_point *p, uint32_t n, timesync_line *out);

/* The line's value at x. */
int64_t timesync_line_at(const timesync_line *l, int64_t x);

typedef struct timesync timesync;

/* Starts time sync under a child context of parent: one task, named
 * "timesync". NULL when there is no server to ask or no memory. */
timesync *timesync_start(rt_ctx *parent, const timesync_config *cfg);

/* True once one poll produced an estimate. */
bool timesync_synced(timesync *ts);

/* The calibrated wall time, ns since the epoch (the raw wall clock until
 * synced). */
int64_t timesync_now(timesync *ts);

/* Calibrated minus raw wall time now (0 until synced). */
int64_t timesync_offset(timesync *ts);

/* The fitted drift of the local clock against true time, ppb (0 until the
 * fit has ntp.fit_min estimates). */
int64_t timesync_drift_ppb(timesync *ts);

/* Stops the task (cancels its context, waits for it) and frees everything.
 * NULL is a no-op. */
void timesync_stop(timesync *ts);

/* Entry point of the "timesync" program: time sync alone until ctx is done. */
void timesync_main(rt_ctx *ctx);

#endif /* DEJA_NODE_TIMESYNC_H */
