/*
 * real_fixture.h -- what the production-backend tests share: a cmocka
 * setup that starts the backend with its defaults, and a teardown that
 * stops it and fails when its tasks do not finish within 5 s.
 */
#ifndef DEJA_TESTS_REAL_FIXTURE_H
#define DEJA_TESTS_REAL_FIXTURE_H

#include "deja/rt.h"
#include "real/real.h"

/* Starts the production backend with default options: 0, or -1 when it
 * cannot start. */
static inline int real_fixture_setup(void **state) {
    (void)state;
    real_opts o = {0};
    char err[256];
    return real_init(&o, err, sizeof err);
}

/* Stops the backend: 0 when every task finished within 5 s, else -1. */
static inline int real_fixture_teardown(void **state) {
    (void)state;
    return real_shutdown(5 * RT_SEC) == 0 ? 0 : -1;
}

#endif /* DEJA_TESTS_REAL_FIXTURE_H */
