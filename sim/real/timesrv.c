/*
 * timesrv.c -- time servers in the production backend: exactly one, the
 * host's own CLOCK_REALTIME, answering at once (zero delay, zero claimed
 * dispersion). On a real host the NTP daemon disciplines CLOCK_REALTIME, so
 * node code that runs time sync (node/timesync.c) measures an offset of
 * about zero and a delay of the read latency: the calibrated clock is the
 * host clock. Querying real NTP servers from here is future work.
 */
#include <time.h>

#include "real_int.h"

uint32_t rt_time_servers(void) { return 1; }

/* Reads CLOCK_REALTIME in ns. */
static int64_t real__realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * RT_SEC + ts.tv_nsec;
}

int rt_time_query(uint32_t server, rt_time_sample *out, int64_t timeout_ns) {
    (void)timeout_ns;
    if (server != 0 || out == NULL) return RT_EINVAL;
    out->t1 = rt_wall_ns();
    out->t2 = real__realtime_ns();
    out->t3 = out->t2;
    out->t4 = rt_wall_ns();
    out->root_disp_ns = 0;
    return RT_OK;
}
