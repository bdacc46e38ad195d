/*
 * scenario_run.h -- what the scenario tests share: run a scenario for one
 * seed with key=value overrides (failing the test on a malformed one), and
 * read an integer from its summary (failing when the key is missing).
 */
#ifndef DEJA_TESTS_SCENARIO_RUN_H
#define DEJA_TESTS_SCENARIO_RUN_H

#include <stdio.h>
#include <stdlib.h>

#include "deja/deja.h"

/* Runs scenario for seed with sets (NULL-terminated "key=value"s), writing
 * the text trace to trace when not NULL; deja_run's status. */
static inline int scenario_run(const char *scenario, uint64_t seed, const char *const *sets, deja_summary *s,
                               FILE *trace) {
    const deja_scenario *sc = deja_scenario_find(scenario);
    assert_non_null(sc);
    deja_params *ov = deja_params_new();
    char err[256];
    for (; sets && *sets; sets++) assert_int_equal(deja_params_parse(ov, *sets, err, sizeof err), 0);
    deja_run_opts o = {.trace = trace};
    int rc = deja_run(sc, seed, ov, &o, s, err, sizeof err);
    deja_params_free(ov);
    return rc;
}

/* The summary's value of k as an integer (the test fails if k is absent). */
static inline long summary_long(const deja_summary *s, const char *k) {
    const char *v = deja_summary_get(s, k);
    assert_non_null(v);
    return strtol(v, NULL, 10);
}

#endif /* DEJA_TESTS_SCENARIO_RUN_H */
