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

/* The detectors that watch the run as it goes (deja/world.h,
 * deja_world_detect_stats; parameters deadlock.*, leak.*, watch.*) add
 * what they found and fail the run with the first of
 *   deadlock          a cycle of tasks each waiting without a timeout for
 *                     a lock (mutex or rwlock) the next one holds (or, for
 *                     an rwlock, waits for ahead of it), or a node whose every
 *                     task waits on what only another of them could give;
 *   deadlock_timeout  (deadlock.timeout_verdict=1) such a cycle closed by a
 *                     lock wait with a timeout;
 *   leak              a task group (spawn site, blocking site) that grew
 *                     leak.rises samples in a row; a context its creator
 *                     neither cancelled nor released; a timer left running;
 *   stuck             (watch.verdict=1) a wait longer than watch.block_ms.
 * Call after shutdown and before the oracles' and the scenario's finish,
 * so the failure found first in virtual time names the run. Adds
 * detected (one line naming it) and detected_ms. */
void deja_check_detectors(deja_world *w, deja_summary *s);

/* Adds the generic metrics to s and fails the run when a detector fires.
 * Call once, after shutdown and after every other judge. */
void deja_check_generic(deja_world *w, deja_summary *s);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_CHECK_H */
