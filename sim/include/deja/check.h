/*
 * check.h -- the generic detectors: verdicts every node gets without
 * writing an oracle.
 *
 * After a run's oracles and its scenario have judged it, the runner calls
 * deja_check_generic, which adds crashes, oom_kills, exits,
 * peak_resident_kb and leaked_tasks to the summary and fails the run
 * (deja_summary_fail: an earlier, more specific verdict stays) with
 *   leak        tasks still alive after the shutdown grace period;
 *   oom         a node was OOM-killed (mem.limit_mb);
 *   exit        a node's program returned while the run went on (and
 *               fault.restart_on_exit was off);
 *   crash_loop  with fault.restart_on_exit, a node's program returned more
 *               than fault.crash_loop_max times.
 */
#ifndef DEJA_CHECK_H
#define DEJA_CHECK_H

#include "deja/world.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the generic metrics to s and fails the run when a detector fires.
 * Call once, after shutdown and after every other judge. */
void deja_check_generic(deja_world *w, deja_summary *s);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_CHECK_H */
