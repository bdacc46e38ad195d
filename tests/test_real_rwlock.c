/*
 * test_real_rwlock.c -- reader-writer locks of the production backend under
 * real threads, with the simulator's policy: readers share the lock and a
 * writer excludes everyone (checked by threads hammering it); a reader that
 * arrives while a writer waits queues behind it, so a writer is not starved
 * by readers that keep the lock busy; a writer that gives up lets the
 * readers behind it in; timeouts and try-locks; the task dump names the
 * lock and its holders.
 *
 * Every test runs between real_init (no network, no data directory) and
 * real_shutdown, which must find no task left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "deja/rt.h"
#include "real/real.h"
#include "real_fixture.h"

/* ---- exclusion under load ------------------------------------------------ */

typedef struct shared {
    rt_rwlock *l;
    _Atomic int readers, writers, max_readers, bad;
    int64_t value; /* written only under the write lock */
} shared;

static void hammer(void *arg) {
    shared *s = arg;
    for (int i = 0; i < 2000; i++) {
        if (i % 5 == 0) {
            assert_int_equal(rt_rwlock_wlock(s->l, 10 * RT_SEC), RT_OK);
            if (atomic_fetch_add(&s->writers, 1) != 0 || atomic_load(&s->readers) != 0) atomic_fetch_add(&s->bad, 1);
            s->value++;
            atomic_fetch_sub(&s->writers, 1);
            rt_rwlock_wunlock(s->l);
        } else {
            assert_int_equal(rt_rwlock_rlock(s->l, 10 * RT_SEC), RT_OK);
            int r = atomic_fetch_add(&s->readers, 1) + 1;
            int m = atomic_load(&s->max_readers);
            while (r > m && !atomic_compare_exchange_weak(&s->max_readers, &m, r)) {
            }
            if (atomic_load(&s->writers) != 0) atomic_fetch_add(&s->bad, 1);
            if (i % 50 == 1) rt_sleep_ns(100 * 1000); /* let readers overlap */
            atomic_fetch_sub(&s->readers, 1);
            rt_rwlock_runlock(s->l);
        }
    }
}

static void test_exclusion(void **state) {
    (void)state;
    shared *s = calloc(1, sizeof *s);
    s->l = rt_rwlock_new("hammered");
    for (int i = 0; i < 6; i++) assert_int_equal(rt_spawn("hammer", hammer, s), RT_OK);
    assert_int_equal(real_shutdown(60 * RT_SEC), 0);
    assert_int_equal(atomic_load(&s->bad), 0);
    assert_int_equal(s->value, 6 * 400);
    assert_true(atomic_load(&s->max_readers) >= 2); /* readers did share it */
    rt_rwlock_free(s->l);
    free(s);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- the queue's order ------------------------------------------------------ */

typedef struct order {
    rt_rwlock *l;
    _Atomic int step; /* what happened so far, in order */
    _Atomic int writer_in, reader2_in;
    int64_t writer_timeout;
} order;

static void queued_writer(void *arg) {
    order *o = arg;
    int r = rt_rwlock_wlock(o->l, o->writer_timeout);
    if (r == RT_OK) {
        o->writer_in = atomic_fetch_add(&o->step, 1) + 1;
        rt_rwlock_wunlock(o->l);
    } else {
        o->writer_in = -1;
    }
}

static void queued_reader(void *arg) {
    order *o = arg;
    assert_int_equal(rt_rwlock_rlock(o->l, 10 * RT_SEC), RT_OK);
    o->reader2_in = atomic_fetch_add(&o->step, 1) + 1;
    rt_rwlock_runlock(o->l);
}

static void test_writer_not_starved(void **state) {
    (void)state;
    order o = {.l = rt_rwlock_new("L"), .writer_timeout = 10 * RT_SEC};
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_OK); /* this thread reads */
    assert_int_equal(rt_spawn("writer", queued_writer, &o), RT_OK);
    assert_true(real_fixture_dump_shows("rwlock write 'L (1 readers, latest #"));
    /* a writer waits: a new reader queues behind it, though only readers hold the lock */
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_ETIMEDOUT);
    assert_int_equal(rt_rwlock_rlock(o.l, 20 * RT_MS), RT_ETIMEDOUT);
    assert_int_equal(rt_spawn("reader2", queued_reader, &o), RT_OK);
    assert_true(real_fixture_dump_shows("rwlock read 'L (1 readers"));
    rt_rwlock_runlock(o.l);
    assert_int_equal(real_shutdown(5 * RT_SEC), 0);
    assert_int_equal(o.writer_in, 1); /* the writer first, then the reader behind it */
    assert_int_equal(o.reader2_in, 2);
    rt_rwlock_free(o.l);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

static void test_writer_gives_up(void **state) {
    (void)state;
    order o = {.l = rt_rwlock_new("L"), .writer_timeout = 100 * RT_MS};
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_OK);
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_spawn("writer", queued_writer, &o), RT_OK);
    assert_true(real_fixture_dump_shows("rwlock write 'L"));
    assert_int_equal(rt_spawn("reader2", queued_reader, &o), RT_OK);
    /* the writer gives up: the reader behind it joins this one, which still reads */
    for (int i = 0; i < 500 && !o.reader2_in; i++) rt_sleep_ns(5 * RT_MS);
    assert_int_equal(o.writer_in, -1);
    assert_int_equal(o.reader2_in, 1);
    assert_true(rt_mono_ns() - t0 >= 100 * RT_MS);
    rt_rwlock_runlock(o.l);
    assert_int_equal(real_shutdown(5 * RT_SEC), 0);
    /* try-locks: readers share, a writer excludes */
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_OK);
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_OK);
    assert_int_equal(rt_rwlock_wlock(o.l, 30 * RT_MS), RT_ETIMEDOUT);
    rt_rwlock_runlock(o.l);
    rt_rwlock_runlock(o.l);
    assert_int_equal(rt_rwlock_wlock(o.l, 0), RT_OK);
    assert_int_equal(rt_rwlock_rlock(o.l, 0), RT_ETIMEDOUT);
    rt_rwlock_wunlock(o.l);
    rt_rwlock_free(o.l);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

static void writer_holds(void *arg) {
    rt_rwlock *l = arg;
    assert_int_equal(rt_rwlock_wlock(l, RT_SEC), RT_OK);
    rt_sleep_ns(300 * RT_MS);
    rt_rwlock_wunlock(l);
}

static void blocked_reader(void *arg) {
    rt_rwlock *l = arg;
    rt_sleep_ns(20 * RT_MS);
    assert_int_equal(rt_rwlock_rlock(l, 5 * RT_SEC), RT_OK);
    rt_rwlock_runlock(l);
}

static void test_dump_names_writer(void **state) {
    (void)state;
    rt_rwlock *l = rt_rwlock_new("index");
    assert_int_equal(rt_spawn("compactor", writer_holds, l), RT_OK);
    assert_int_equal(rt_spawn("importer", blocked_reader, l), RT_OK);
    /* the dump names the lock, the writer and where it took it */
    assert_true(real_fixture_dump_shows("rwlock read 'index (writer #"));
    assert_true(real_fixture_dump_shows(" compactor, taken at tests/test_real_rwlock.c:"));
    assert_int_equal(real_shutdown(5 * RT_SEC), 0);
    rt_rwlock_free(l);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exclusion, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_writer_not_starved, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_writer_gives_up, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_dump_names_writer, real_fixture_setup, real_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
