/*
 * world_build.h -- what the process and memory tests share: a parameter
 * set with every common default plus overrides, and a one-node world with
 * those parameters applied and a fact listener attached.
 */
#ifndef DEJA_TESTS_WORLD_BUILD_H
#define DEJA_TESTS_WORLD_BUILD_H

#include "deja/world.h"

/* Every common default, then sets (NULL-terminated "key=value"s). */
static inline deja_params *common_params(const char *const *sets) {
    deja_params *p = deja_params_new();
    deja_params_common_defaults(p);
    char err[128];
    for (; sets && *sets; sets++) assert_int_equal(deja_params_parse(p, *sets, err, sizeof err), 0);
    return p;
}

/* A world of one node running prog for dur, the common parameters applied
 * and on_fact listening. */
static inline deja_world *one_node_world(uint64_t seed, const char *prog, const char *const *sets, int64_t dur,
                                         deja_fact_fn on_fact) {
    deja_params *p = common_params(sets);
    deja_world *w = deja_world_new(seed, p);
    assert_int_equal(deja_node_add(w, prog, 0, 0), 0);
    deja_world_set_duration(w, dur);
    deja_world_on_fact(w, on_fact, NULL);
    char err[128];
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    deja_params_free(p);
    return w;
}

#endif /* DEJA_TESTS_WORLD_BUILD_H */
