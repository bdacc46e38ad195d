/*
 * real_fixture.h -- what the production-backend tests share: a cmocka
 * setup that starts the backend with its defaults, a teardown that stops
 * it and fails when its tasks do not finish within 5 s, a wait for the
 * task dump to show something, and one value of the status lines. It
 * asserts with cmocka, which it includes.
 */
#ifndef DEJA_TESTS_REAL_FIXTURE_H
#define DEJA_TESTS_REAL_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

/* Waits (5 s at most: the machine may be loaded) until the backend's task
 * dump shows `what`: true, or false when it never did. */
static inline bool real_fixture_dump_shows(const char *what) {
    for (int i = 0; i < 1000; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f) return false;
        real_dump_tasks(f);
        fclose(f);
        bool hit = strstr(buf, what) != NULL;
        free(buf);
        if (hit) return true;
        rt_sleep_ns(5 * RT_MS);
    }
    return false;
}

/* The value of status line `key` of this process (real_status_print);
 * the line must be there. */
static inline uint64_t real_fixture_status(const char *key) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    real_status_print(f);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "\n%s=", key);
    const char *p = strstr(buf, want);
    assert_non_null(p);
    uint64_t v = strtoull(p + strlen(want), NULL, 10);
    free(buf);
    return v;
}

#endif /* DEJA_TESTS_REAL_FIXTURE_H */
