/*
 * test_real_deadlock.c -- the production backend's wait-for check under
 * real threads: a reader that asks to write the lock it reads, a writer
 * that asks for its lock again, a task that relocks its mutex, a reader
 * that reads again behind a writer waiting for it, and two tasks each
 * waiting without a deadline for a lock the other holds are reported on
 * stderr with the tasks, their spawn sites and the sites where they took
 * and wait for the locks, counted in DIR/status (deadlocks=1), and the
 * process aborts (SIGABRT). Each of these runs in a fork()ed child whose
 * stderr and end the test reads. Then the paths that must not be reported:
 * nested reads, bounded waits for oneself (they time out), waits without a
 * deadline that end, and a task that returns holding a lock.
 *
 * Ordering between threads is by wait groups, joins and the task dump,
 * never by sleeping long enough.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "deja/rt.h"
#include "real/real.h"
#include "real_fixture.h"

#define SCRATCH_NAME "real-deadlock"
#include "scratch_dir.h"

/* Sites the reports must name, noted by the code that runs there (in the
 * child: a page shared with the parent). */
typedef struct sites {
    int spawn, first, second, spawn2, first2, second2;
    int reader; /* the id of the task that reads again */
} sites;
static sites *site;

/* ---- running a deadlock in a child ------------------------------------------- */

typedef struct child_out {
    char err[16384]; /* its stderr */
    char status[4096]; /* DIR/status after it ended */
    int wstatus;
} child_out;

/* Waits (5 s at most: a loaded machine) until the task dump shows `what`. */
static bool dump_shows(const char *what) {
    for (int i = 0; i < 1000; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        real_dump_tasks(f);
        fclose(f);
        bool hit = strstr(buf, what) != NULL;
        free(buf);
        if (hit) return true;
        rt_sleep_ns(5 * RT_MS);
    }
    return false;
}

/* Runs body in a child that starts the backend with the scratch directory
 * as its data directory; the child exits 7 if body returns and its tasks
 * end (no deadlock was reported). Collects its stderr, end and status. */
static void run_child(void (*body)(void), child_out *out) {
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        close(fd[1]);
        real_opts o = {.data_dir = test__dir};
        char err[256];
        if (real_init(&o, err, sizeof err) != 0) _exit(5);
        body();
        real_shutdown(60 * RT_SEC); /* the deadlocked tasks never end: the abort comes first */
        _exit(7);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], out->err + n, sizeof out->err - 1 - n)) > 0) n += (size_t)r;
    out->err[n] = 0;
    close(fd[0]);
    assert_int_equal(waitpid(pid, &out->wstatus, 0), pid);
    char path[512];
    snprintf(path, sizeof path, "%s/status", test__dir);
    out->status[0] = 0;
    FILE *f = fopen(path, "r");
    if (f) {
        size_t k = fread(out->status, 1, sizeof out->status - 1, f);
        out->status[k] = 0;
        fclose(f);
    }
}

/* The child aborted after one report, counted in its status. */
static void assert_aborted(const child_out *o) {
    if (!WIFSIGNALED(o->wstatus)) fprintf(stderr, "child stderr:\n%s", o->err);
    assert_true(WIFSIGNALED(o->wstatus));
    assert_int_equal(WTERMSIG(o->wstatus), SIGABRT);
    assert_non_null(strstr(o->status, "\ndeadlocks=1\n"));
    assert_non_null(strstr(o->err, "deja-node: a deadlock never ends: the process aborts (deadlocks=1 in the status)"));
    const char *first = strstr(o->err, "DEADLOCK");
    assert_non_null(first);
    assert_null(strstr(first + 1, "DEADLOCK")); /* one report */
}

/* Asserts that the report has the line `fmt` (with one %d for a line). */
static void assert_has(const child_out *o, const char *fmt, int line) {
    char want[512];
    snprintf(want, sizeof want, fmt, line);
    if (!strstr(o->err, want)) fprintf(stderr, "missing: %s\nin:\n%s", want, o->err);
    assert_non_null(strstr(o->err, want));
}

/* ---- a task that waits for itself ---------------------------------------------- */

static void upgrader(void *arg) {
    rt_rwlock *l = arg;
    site->first = __LINE__ + 1;
    assert_int_equal(rt_rwlock_rlock(l, RT_FOREVER), RT_OK);
    site->second = __LINE__ + 1;
    rt_rwlock_wlock(l, RT_FOREVER); /* never returns */
}

static void upgrade_body(void) {
    rt_rwlock *l = rt_rwlock_new("index");
    site->spawn = __LINE__ + 1;
    rt_spawn("upgrader", upgrader, l);
}

static void test_upgrade(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(upgrade_body, o);
    assert_aborted(o);
    assert_has(o, "DEADLOCK on node 0: a task waits for a lock it holds itself, without a timeout\n", 0);
    assert_has(o, "'upgrader' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn);
    assert_has(o, "      holds rwlock 'index' (read), taken at tests/test_real_deadlock.c:%d at t=", site->first);
    assert_has(o, "      waits for rwlock 'index' (write) at tests/test_real_deadlock.c:%d since t=", site->second);
    free(o);
}

static void rewriter(void *arg) {
    rt_rwlock *l = arg;
    site->first = __LINE__ + 1;
    assert_int_equal(rt_rwlock_wlock(l, RT_FOREVER), RT_OK);
    site->second = __LINE__ + 1;
    rt_rwlock_wlock(l, RT_FOREVER); /* never returns */
}

static void rewrite_body(void) {
    rt_rwlock *l = rt_rwlock_new("state");
    site->spawn = __LINE__ + 1;
    rt_spawn("rewriter", rewriter, l);
}

static void test_writer_self_wait(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(rewrite_body, o);
    assert_aborted(o);
    assert_has(o, "a task waits for a lock it holds itself, without a timeout\n", 0);
    assert_has(o, "'rewriter' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn);
    assert_has(o, "      holds rwlock 'state' (write), taken at tests/test_real_deadlock.c:%d at t=", site->first);
    assert_has(o, "      waits for rwlock 'state' (write) at tests/test_real_deadlock.c:%d since t=", site->second);
    free(o);
}

static void relocker(void *arg) {
    rt_mutex *m = arg;
    site->first = __LINE__ + 1;
    assert_int_equal(rt_mutex_lock(m, RT_FOREVER), RT_OK);
    site->second = __LINE__ + 1;
    rt_mutex_lock(m, RT_FOREVER); /* never returns */
}

static void relock_body(void) {
    rt_mutex *m = rt_mutex_new("peers");
    site->spawn = __LINE__ + 1;
    rt_spawn("relocker", relocker, m);
}

static void test_mutex_relock(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(relock_body, o);
    assert_aborted(o);
    assert_has(o, "'relocker' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn);
    assert_has(o, "      holds mutex 'peers', taken at tests/test_real_deadlock.c:%d at t=", site->first);
    assert_has(o, "      waits for mutex 'peers' at tests/test_real_deadlock.c:%d since t=", site->second);
    free(o);
}

/* ---- a reader behind a writer that waits for it ------------------------------------ */

static void queued_writer(void *arg) {
    rt_rwlock *l = arg;
    site->second2 = __LINE__ + 1;
    rt_rwlock_wlock(l, RT_FOREVER); /* waits for the reader, for ever */
}

static void reread_body(void) {
    rt_rwlock *l = rt_rwlock_new("blocks");
    site->first = __LINE__ + 1;
    assert_int_equal(rt_rwlock_rlock(l, RT_FOREVER), RT_OK); /* this thread reads */
    site->spawn2 = __LINE__ + 1;
    rt_spawn("writer", queued_writer, l);
    if (!dump_shows("rwlock write 'blocks")) _exit(9);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    real_dump_tasks(f); /* this thread's id: the one of the external task */
    fclose(f);
    const char *me = strstr(buf, "(external)");
    while (me && me > buf && me[-1] != '#') me--;
    site->reader = me ? atoi(me) : -1;
    free(buf);
    site->second = __LINE__ + 1;
    rt_rwlock_rlock(l, RT_FOREVER); /* queued behind the writer: never returns */
}

static void test_read_behind_writer(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(reread_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 2 tasks, each waiting for a lock the next one holds (or waits for ahead of it), all "
                  "without a timeout\n", 0);
    assert_has(o, "'thread' (a thread the backend did not spawn)\n", 0);
    assert_has(o, "      holds rwlock 'blocks' (read), taken at tests/test_real_deadlock.c:%d at t=", site->first);
    assert_has(o, "      waits for rwlock 'blocks' (read) at tests/test_real_deadlock.c:%d since t=", site->second);
    assert_has(o, "'writer' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn2);
    assert_has(o, "      is ahead of task %d in the queue of rwlock 'blocks'\n", site->reader);
    assert_has(o, "      waits for rwlock 'blocks' (write) at tests/test_real_deadlock.c:%d since t=", site->second2);
    free(o);
}

/* ---- two tasks, each waiting for what the other holds ---------------------------- */

typedef struct cross {
    rt_mutex *a;
    rt_rwlock *b;
    rt_wg *both; /* each holds its first lock */
} cross;

static void importer(void *arg) {
    cross *c = arg;
    site->first = __LINE__ + 1;
    assert_int_equal(rt_mutex_lock(c->a, RT_FOREVER), RT_OK);
    rt_wg_done(c->both);
    rt_wg_wait(c->both, RT_FOREVER);
    site->second = __LINE__ + 1;
    rt_rwlock_rlock(c->b, RT_FOREVER);
}

static void compactor(void *arg) {
    cross *c = arg;
    site->first2 = __LINE__ + 1;
    assert_int_equal(rt_rwlock_wlock(c->b, RT_FOREVER), RT_OK);
    rt_wg_done(c->both);
    rt_wg_wait(c->both, RT_FOREVER);
    site->second2 = __LINE__ + 1;
    rt_mutex_lock(c->a, RT_FOREVER);
}

static void cross_body(void) {
    static cross c;
    c.a = rt_mutex_new("A");
    c.b = rt_rwlock_new("B");
    c.both = rt_wg_new();
    rt_wg_add(c.both, 2);
    site->spawn = __LINE__ + 1;
    rt_spawn("importer", importer, &c);
    site->spawn2 = __LINE__ + 1;
    rt_spawn("compactor", compactor, &c);
}

static void test_cycle_of_two(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(cross_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 2 tasks, each waiting for a lock the next one holds (or waits for ahead of it), all "
                  "without a timeout\n", 0);
    /* whichever closed the cycle comes first; both are named with their holds and waits */
    assert_has(o, "'importer' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn);
    assert_has(o, "      holds mutex 'A', taken at tests/test_real_deadlock.c:%d at t=", site->first);
    assert_has(o, "      waits for rwlock 'B' (read) at tests/test_real_deadlock.c:%d since t=", site->second);
    assert_has(o, "'compactor' (spawned at tests/test_real_deadlock.c:%d)\n", site->spawn2);
    assert_has(o, "      holds rwlock 'B' (write), taken at tests/test_real_deadlock.c:%d at t=", site->first2);
    assert_has(o, "      waits for mutex 'A' at tests/test_real_deadlock.c:%d since t=", site->second2);
    free(o);
}

/* ---- what is not a deadlock ----------------------------------------------------- */

static void test_bounded_self_waits_time_out(void **state) {
    (void)state;
    rt_rwlock *l = rt_rwlock_new("L");
    assert_int_equal(rt_rwlock_rlock(l, RT_FOREVER), RT_OK);
    assert_int_equal(rt_rwlock_rlock(l, RT_FOREVER), RT_OK); /* nobody waits: reads nest */
    assert_int_equal(rt_rwlock_wlock(l, 0), RT_ETIMEDOUT);
    assert_int_equal(rt_rwlock_wlock(l, 10 * RT_MS), RT_ETIMEDOUT); /* an upgrade with a timeout */
    rt_rwlock_runlock(l);
    rt_rwlock_runlock(l);
    assert_int_equal(rt_rwlock_wlock(l, RT_FOREVER), RT_OK);
    assert_int_equal(rt_rwlock_wlock(l, 10 * RT_MS), RT_ETIMEDOUT);
    assert_int_equal(rt_rwlock_rlock(l, 0), RT_ETIMEDOUT);
    rt_rwlock_wunlock(l);
    rt_rwlock_free(l);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    real_status_print(f);
    fclose(f);
    assert_non_null(strstr(buf, "\ndeadlocks=0\n"));
    free(buf);
}

/* Tasks that take a mutex and an rwlock in one order, without deadlines,
 * and wait for each other a lot: never reported. */
typedef struct busy {
    rt_mutex *m;
    rt_rwlock *l;
    int64_t value;
} busy;

static void busy_task(void *arg) {
    busy *b = arg;
    for (int i = 0; i < 2000; i++) {
        bool write = i % 3 == 0;
        assert_int_equal(write ? rt_rwlock_wlock(b->l, RT_FOREVER) : rt_rwlock_rlock(b->l, RT_FOREVER), RT_OK);
        assert_int_equal(rt_mutex_lock(b->m, RT_FOREVER), RT_OK);
        b->value++;
        rt_mutex_unlock(b->m);
        if (i % 7 == 0) rt_yield();
        if (write)
            rt_rwlock_wunlock(b->l);
        else
            rt_rwlock_runlock(b->l);
    }
}

static void test_waits_that_end(void **state) {
    (void)state;
    busy b = {.m = rt_mutex_new("m"), .l = rt_rwlock_new("l")};
    for (int i = 0; i < 4; i++) assert_int_equal(rt_spawn("busy", busy_task, &b), RT_OK);
    assert_int_equal(real_shutdown(60 * RT_SEC), 0);
    assert_int_equal(b.value, 4 * 2000);
    rt_mutex_free(b.m);
    rt_rwlock_free(b.l);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

static void reads_and_returns(void *arg) {
    assert_int_equal(rt_rwlock_rlock((rt_rwlock *)arg, RT_FOREVER), RT_OK);
}

static void test_returned_holder(void **state) {
    (void)state;
    static rt_rwlock *l; /* never freed (a returned task holds it): kept reachable */
    l = rt_rwlock_new("kept");
    assert_int_equal(rt_spawn("reader", reads_and_returns, l), RT_OK);
    assert_int_equal(real_shutdown(5 * RT_SEC), 0); /* joined: it returned reading */
    assert_int_equal(rt_rwlock_wlock(l, 10 * RT_MS), RT_ETIMEDOUT);
    assert_int_equal(rt_rwlock_rlock(l, 0), RT_OK); /* still readable */
    rt_rwlock_runlock(l);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

int main(void) {
    site = mmap(NULL, sizeof *site, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (site == MAP_FAILED) return 1;
    const struct CMUnitTest tests[] = {
        /* the children first, while this process has no thread but its own */
        cmocka_unit_test_setup_teardown(test_upgrade, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_writer_self_wait, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_mutex_relock, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_read_behind_writer, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_cycle_of_two, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_bounded_self_waits_time_out, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_waits_that_end, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_returned_holder, real_fixture_setup, real_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
