/*
 * detect_judge.h -- what the detector tests share: run a program on one
 * node, shut it down, and judge it with the generic detectors only (no
 * oracle), as any team's node is judged.
 */
#ifndef DEJA_TESTS_DETECT_JUDGE_H
#define DEJA_TESTS_DETECT_JUDGE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "world_build.h"

#include "deja/check.h"
#include "deja/rt.h"
#include "deja/world.h"

static void on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) { (void)arg, (void)node, (void)now, (void)f; }

/* Runs prog on one node for dur with sets, shuts down, and judges it with
 * the detectors only; fills *st, the verdict and the report (caller frees),
 * and returns the run's trace digest. */
static uint64_t judge(const char *prog, const char *const *sets, int64_t dur, deja_detect_stat *st, char *verdict,
                      size_t vlen, char **report) {
    deja_world *w = one_node_world(1, prog, sets, dur, on_fact);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    deja_summary s;
    deja_summary_clear(&s);
    deja_summary_set(&s, "verdict", "ok");
    deja_check_detectors(w, &s);
    deja_world_detect_stats(w, st);
    snprintf(verdict, vlen, "%s", deja_summary_get(&s, "verdict"));
    const char *r = deja_world_detect_report(w);
    *report = strdup(r ? r : "");
    uint64_t h = deja_world_digest(w);
    deja_world_free(w);
    return h;
}

#endif /* DEJA_TESTS_DETECT_JUDGE_H */
