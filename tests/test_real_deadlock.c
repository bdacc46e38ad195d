/*
 * test_real_deadlock.c -- the production backend's wait-for check under
 * real threads: a reader that asks to write the lock it reads, a writer
 * that asks for its lock again, a task that relocks its mutex, a reader
 * that reads again behind a writer waiting for it, two tasks each waiting
 * without a deadline for a lock the other holds, and cycles of three and
 * four tasks (mutexes and rwlocks mixed, one through an rwlock's queue)
 * are reported on stderr with the tasks, their spawn sites and the sites
 * where they took and wait for the locks, counted in DIR/status
 * (deadlocks=1), and the process aborts (SIGABRT). Each of these runs in a
 * fork()ed child whose stderr and end the test reads. A cycle that a wait
 * with a timeout closes is reported once, counted (deadlock_timeouts) and
 * the process goes on; a cycle without timeouts next to it is still
 * final. With real.deadlock_check=0 nothing is checked or reported and a
 * wait just waits. Then the paths that must not be reported: nested reads,
 * waits without a deadline that end, many tasks taking locks in one order
 * under contention, tasks taking them in any order with timeouts (cycles
 * that break, never final), and a task that returns holding a lock.
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
    int sp[4], f1[4], f2[4]; /* longer cycles: spawn, first and second lock per task */
} sites;
static sites *site;

/* ---- running a deadlock in a child ------------------------------------------- */

typedef struct child_out {
    char err[16384]; /* its stderr */
    char status[4096]; /* DIR/status after it ended */
    int wstatus;
} child_out;

/* Waits until the dump shows a task blocked on `kind` (a mutex or an
 * rwlock) at this file's line *line (noted by that task as it runs); the
 * child exits 9 if it never does. */
static void await_blocked(const char *kind, const int *line) {
    char what[160];
    snprintf(what, sizeof what, "%-10s '", kind);
    for (int i = 0; i < 4000; i++) {
        char at[64];
        snprintf(at, sizeof at, "' at tests/test_real_deadlock.c:%d for ", *line);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        real_dump_tasks(f);
        fclose(f);
        bool hit = false;
        for (char *l = strtok(buf, "\n"); l && !hit; l = strtok(NULL, "\n")) hit = strstr(l, what) && strstr(l, at);
        free(buf);
        if (hit) return;
        rt_sleep_ns(5 * RT_MS);
    }
    _exit(9);
}

/* A check inside a child: it exits 11 when cond is false. */
#define CHILD_CHECK(cond) \
    do {                  \
        if (!(cond)) _exit(11); \
    } while (0)

static const char *child_set; /* a --set the next child starts with, or NULL */

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
        if (child_set && real_param_set(child_set, err, sizeof err) != 0) _exit(5);
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
    if (!WIFSIGNALED(o->wstatus))
        fprintf(stderr, "child exited %d, stderr:\n%s", WIFEXITED(o->wstatus) ? WEXITSTATUS(o->wstatus) : -1, o->err);
    assert_true(WIFSIGNALED(o->wstatus));
    assert_int_equal(WTERMSIG(o->wstatus), SIGABRT);
    assert_non_null(strstr(o->status, "\ndeadlocks=1\n"));
    assert_non_null(strstr(o->err, "deja-node: a deadlock never ends: the process aborts (deadlocks=1 in the status)"));
    const char *first = strstr(o->err, "DEADLOCK");
    assert_non_null(first);
    assert_null(strstr(first + 1, "DEADLOCK")); /* one report */
}

/* The child ended by exiting 7: no deadlock aborted it. */
static void assert_went_on(const child_out *o) {
    if (!WIFEXITED(o->wstatus) || WEXITSTATUS(o->wstatus) != 7) fprintf(stderr, "child stderr:\n%s", o->err);
    assert_true(WIFEXITED(o->wstatus));
    assert_int_equal(WEXITSTATUS(o->wstatus), 7);
    assert_non_null(strstr(o->status, "\ndeadlocks=0\n"));
}

/* The text of the report's block for task `name`: from its task line to
 * the next task line or the end. NULL when the report does not name it. */
static char *party_block(const child_out *o, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " '%s' (", name);
    const char *b = strstr(o->err, key);
    if (!b) return NULL;
    const char *e = strstr(b + 1, "\n  task ");
    const char *e2 = strstr(b + 1, "\ndeja-node: ");
    if (!e || (e2 && e2 < e)) e = e2;
    size_t n = e ? (size_t)(e - b) : strlen(b);
    return strndup(b, n);
}

/* Asserts that the block of task `name` has the text `fmt`, formatted. */
static void assert_party(const child_out *o, const char *name, const char *fmt, ...) {
    char want[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    char *b = party_block(o, name);
    if (!b || !strstr(b, want)) fprintf(stderr, "missing in '%s': %s\nin:\n%s", name, want, o->err);
    assert_non_null(b);
    assert_non_null(strstr(b, want));
    free(b);
}

/* The id of task `name` in the report. */
static int party_id(const child_out *o, const char *name) {
    char key[64];
    snprintf(key, sizeof key, " '%s' (", name);
    const char *b = strstr(o->err, key);
    assert_non_null(b);
    while (b > o->err && b[-1] != ' ') b--;
    return atoi(b);
}

/* How many times `what` occurs in text. */
static int count_of(const char *text, const char *what) {
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) n++;
    return n;
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
    if (!real_fixture_dump_shows("rwlock write 'blocks")) _exit(9);
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

/* ---- cycles of three and four tasks ---------------------------------------------------- */

/* Three tasks in a ring of a mutex, an rwlock and a mutex: the importer
 * holds X and wants to write Y, the indexer reads Y and wants Z, the
 * compactor holds Z and wants X. Whichever queues last closes it. */
typedef struct ring3 {
    rt_mutex *x, *z;
    rt_rwlock *y;
    rt_wg *all; /* each holds its first lock */
} ring3;

static void ring3_importer(void *arg) {
    ring3 *r = arg;
    site->f1[0] = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(r->x, RT_FOREVER) == RT_OK);
    rt_wg_done(r->all);
    rt_wg_wait(r->all, RT_FOREVER);
    site->f2[0] = __LINE__ + 1;
    rt_rwlock_wlock(r->y, RT_FOREVER);
}

static void ring3_indexer(void *arg) {
    ring3 *r = arg;
    site->f1[1] = __LINE__ + 1;
    CHILD_CHECK(rt_rwlock_rlock(r->y, RT_FOREVER) == RT_OK);
    rt_wg_done(r->all);
    rt_wg_wait(r->all, RT_FOREVER);
    site->f2[1] = __LINE__ + 1;
    rt_mutex_lock(r->z, RT_FOREVER);
}

static void ring3_compactor(void *arg) {
    ring3 *r = arg;
    site->f1[2] = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(r->z, RT_FOREVER) == RT_OK);
    rt_wg_done(r->all);
    rt_wg_wait(r->all, RT_FOREVER);
    site->f2[2] = __LINE__ + 1;
    rt_mutex_lock(r->x, RT_FOREVER);
}

static void ring3_body(void) {
    static ring3 r;
    r.x = rt_mutex_new("X");
    r.y = rt_rwlock_new("Y");
    r.z = rt_mutex_new("Z");
    r.all = rt_wg_new();
    rt_wg_add(r.all, 3);
    site->sp[0] = __LINE__ + 1;
    rt_spawn("importer", ring3_importer, &r);
    site->sp[1] = __LINE__ + 1;
    rt_spawn("indexer", ring3_indexer, &r);
    site->sp[2] = __LINE__ + 1;
    rt_spawn("compactor", ring3_compactor, &r);
}

#define F "tests/test_real_deadlock.c"

static void test_cycle_of_three(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(ring3_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 3 tasks, each waiting for a lock the next one holds (or waits for ahead of it), all "
                  "without a timeout\n", 0);
    assert_party(o, "importer", "'importer' (spawned at " F ":%d)\n      holds mutex 'X', taken at " F ":%d at t=",
                 site->sp[0], site->f1[0]);
    assert_party(o, "importer", "\n      waits for rwlock 'Y' (write) at " F ":%d since t=", site->f2[0]);
    assert_party(o, "indexer", "'indexer' (spawned at " F ":%d)\n      holds rwlock 'Y' (read), taken at " F ":%d at t=",
                 site->sp[1], site->f1[1]);
    assert_party(o, "indexer", "\n      waits for mutex 'Z' at " F ":%d since t=", site->f2[1]);
    assert_party(o, "compactor", "'compactor' (spawned at " F ":%d)\n      holds mutex 'Z', taken at " F ":%d at t=",
                 site->sp[2], site->f1[2]);
    assert_party(o, "compactor", "\n      waits for mutex 'X' at " F ":%d since t=", site->f2[2]);
    assert_null(strstr(o->err, "with a timeout"));
    free(o);
}

/* Four tasks, four mutexes: task i holds m[i] and waits for m[i+1 mod 4]. */
static rt_mutex *ring4_m[4];
static rt_wg *ring4_all;

static void ring4_task(void *arg) {
    int i = (int)(intptr_t)arg;
    site->f1[0] = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(ring4_m[i], RT_FOREVER) == RT_OK);
    rt_wg_done(ring4_all);
    rt_wg_wait(ring4_all, RT_FOREVER);
    site->f2[0] = __LINE__ + 1;
    rt_mutex_lock(ring4_m[(i + 1) % 4], RT_FOREVER);
}

static void ring4_body(void) {
    static const char *const names[4] = {"m0", "m1", "m2", "m3"}, *const tasks[4] = {"ring0", "ring1", "ring2", "ring3"};
    for (int i = 0; i < 4; i++) ring4_m[i] = rt_mutex_new(names[i]);
    ring4_all = rt_wg_new();
    rt_wg_add(ring4_all, 4);
    site->sp[0] = __LINE__ + 2;
    for (int i = 0; i < 4; i++)
        rt_spawn(tasks[i], ring4_task, (void *)(intptr_t)i);
}

static void test_ring_of_four_mutexes(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(ring4_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 4 tasks, each waiting for a mutex the next one holds, all without a timeout\n", 0);
    for (int i = 0; i < 4; i++) {
        char name[8];
        snprintf(name, sizeof name, "ring%d", i);
        assert_party(o, name, "'%s' (spawned at " F ":%d)\n      holds mutex 'm%d', taken at " F ":%d at t=", name,
                     site->sp[0], i, site->f1[0]);
        assert_party(o, name, "\n      waits for mutex 'm%d' at " F ":%d since t=", (i + 1) % 4, site->f2[0]);
    }
    free(o);
}

/* A cycle through an rwlock's queue: the reader reads 'chain' and then
 * wants 'peers', which the syncer holds; the syncer asks to read 'chain'
 * behind a writer queued for it, and the writer waits for the reader. */
typedef struct qcycle {
    rt_rwlock *chain;
    rt_mutex *peers;
    rt_wg *ready, *go_syncer, *go_reader;
} qcycle;

static void q_reader(void *arg) {
    qcycle *q = arg;
    site->f1[0] = __LINE__ + 1;
    CHILD_CHECK(rt_rwlock_rlock(q->chain, RT_FOREVER) == RT_OK);
    rt_wg_done(q->ready);
    rt_wg_wait(q->go_reader, RT_FOREVER);
    site->f2[0] = __LINE__ + 1;
    rt_mutex_lock(q->peers, RT_FOREVER); /* closes the cycle */
}

static void q_syncer(void *arg) {
    qcycle *q = arg;
    site->f1[1] = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(q->peers, RT_FOREVER) == RT_OK);
    rt_wg_done(q->ready);
    rt_wg_wait(q->go_syncer, RT_FOREVER);
    site->f2[1] = __LINE__ + 1;
    rt_rwlock_rlock(q->chain, RT_FOREVER); /* behind the writer */
}

static void q_writer(void *arg) {
    qcycle *q = arg;
    site->f2[2] = __LINE__ + 1;
    rt_rwlock_wlock(q->chain, RT_FOREVER); /* waits for the reader */
}

static void qcycle_body(void) {
    static qcycle q;
    q.chain = rt_rwlock_new("chain");
    q.peers = rt_mutex_new("peers");
    q.ready = rt_wg_new();
    q.go_syncer = rt_wg_new();
    q.go_reader = rt_wg_new();
    rt_wg_add(q.ready, 2);
    rt_wg_add(q.go_syncer, 1);
    rt_wg_add(q.go_reader, 1);
    site->sp[0] = __LINE__ + 1;
    rt_spawn("reader", q_reader, &q);
    site->sp[1] = __LINE__ + 1;
    rt_spawn("syncer", q_syncer, &q);
    rt_wg_wait(q.ready, RT_FOREVER);
    site->sp[2] = __LINE__ + 1;
    rt_spawn("writer", q_writer, &q);
    await_blocked("rwlock write", &site->f2[2]);
    rt_wg_done(q.go_syncer);
    await_blocked("rwlock read", &site->f2[1]);
    rt_wg_done(q.go_reader);
}

static void test_cycle_through_a_queue(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(qcycle_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 3 tasks, each waiting for a lock the next one holds (or waits for ahead of it), all "
                  "without a timeout\n", 0);
    assert_party(o, "reader", "'reader' (spawned at " F ":%d)\n      holds rwlock 'chain' (read), taken at " F ":%d at t=",
                 site->sp[0], site->f1[0]);
    assert_party(o, "reader", "\n      waits for mutex 'peers' at " F ":%d since t=", site->f2[0]);
    assert_party(o, "syncer", "'syncer' (spawned at " F ":%d)\n      holds mutex 'peers', taken at " F ":%d at t=",
                 site->sp[1], site->f1[1]);
    assert_party(o, "syncer", "\n      waits for rwlock 'chain' (read) at " F ":%d since t=", site->f2[1]);
    assert_party(o, "writer", "'writer' (spawned at " F ":%d)\n      is ahead of task %d in the queue of rwlock 'chain'\n",
                 site->sp[2], party_id(o, "syncer"));
    assert_party(o, "writer", "\n      waits for rwlock 'chain' (write) at " F ":%d since t=", site->f2[2]);
    /* the reader closed it: it comes first */
    assert_true(strstr(o->err, "'reader' (") < strstr(o->err, "'syncer' ("));
    free(o);
}

/* ---- waits with a timeout --------------------------------------------------------- */

/* The crossing of test_cycle_of_two, but the importer's wait for B has a
 * timeout and closes the cycle: reported, counted, and it ends when that
 * wait times out. Twice: the second is only counted. */
typedef struct tcross {
    rt_mutex *a;
    rt_rwlock *b;
    rt_wg *ready, *go_compactor, *go_importer, *done;
} tcross;

static void t_importer(void *arg) {
    tcross *c = arg;
    site->first = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(c->a, RT_FOREVER) == RT_OK);
    rt_wg_done(c->ready);
    rt_wg_wait(c->go_importer, RT_FOREVER);
    site->second = __LINE__ + 1;
    CHILD_CHECK(rt_rwlock_rlock(c->b, 300 * RT_MS) == RT_ETIMEDOUT);
    rt_mutex_unlock(c->a); /* gives up: the compactor goes on */
    rt_wg_done(c->done);
}

static void t_compactor(void *arg) {
    tcross *c = arg;
    site->first2 = __LINE__ + 1;
    CHILD_CHECK(rt_rwlock_wlock(c->b, RT_FOREVER) == RT_OK);
    rt_wg_done(c->ready);
    rt_wg_wait(c->go_compactor, RT_FOREVER);
    site->second2 = __LINE__ + 1;
    CHILD_CHECK(rt_mutex_lock(c->a, RT_FOREVER) == RT_OK);
    rt_mutex_unlock(c->a);
    rt_rwlock_wunlock(c->b);
    rt_wg_done(c->done);
}

static void tcross_body(void) {
    static tcross c;
    c.a = rt_mutex_new("A");
    c.b = rt_rwlock_new("B");
    for (int round = 0; round < 2; round++) {
        c.ready = rt_wg_new();
        c.go_compactor = rt_wg_new();
        c.go_importer = rt_wg_new();
        c.done = rt_wg_new();
        rt_wg_add(c.ready, 2);
        rt_wg_add(c.go_compactor, 1);
        rt_wg_add(c.go_importer, 1);
        rt_wg_add(c.done, 2);
        site->spawn = __LINE__ + 1;
        rt_spawn("importer", t_importer, &c);
        site->spawn2 = __LINE__ + 1;
        rt_spawn("compactor", t_compactor, &c);
        rt_wg_wait(c.ready, RT_FOREVER);
        rt_wg_done(c.go_compactor);
        await_blocked("mutex", &site->second2);
        rt_wg_done(c.go_importer);
        CHILD_CHECK(rt_wg_wait(c.done, 60 * RT_SEC) == RT_OK);
        rt_wg_free(c.ready);
        rt_wg_free(c.go_compactor);
        rt_wg_free(c.go_importer);
        rt_wg_free(c.done);
    }
    /* a reader that asks to write with a timeout: waits for itself, then times out */
    rt_rwlock *l = rt_rwlock_new("index");
    CHILD_CHECK(rt_rwlock_rlock(l, RT_FOREVER) == RT_OK);
    site->reader = __LINE__ + 1;
    CHILD_CHECK(rt_rwlock_wlock(l, 20 * RT_MS) == RT_ETIMEDOUT);
    rt_rwlock_runlock(l);
    rt_rwlock_free(l);
}

static void test_timeout_cycle_goes_on(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(tcross_body, o);
    assert_went_on(o);
    assert_non_null(strstr(o->status, "\ndeadlock_timeouts=3\n"));
    assert_non_null(strstr(o->status, "\ndeadlock_check=on\n"));
    assert_has(o, "deja-node: DEADLOCK (broken by a lock timeout) on node 0: a cycle of 2 tasks, each waiting for a "
                  "lock the next one holds (or waits for ahead of it)\n", 0);
    assert_party(o, "importer", "'importer' (spawned at " F ":%d)\n      holds mutex 'A', taken at " F ":%d at t=",
                 site->spawn, site->first);
    assert_party(o, "importer", "\n      waits for rwlock 'B' (read) at " F ":%d since t=", site->second);
    assert_party(o, "importer", " ms) with a timeout");
    assert_party(o, "compactor", "'compactor' (spawned at " F ":%d)\n      holds rwlock 'B' (write), taken at " F
                 ":%d at t=", site->spawn2, site->first2);
    assert_party(o, "compactor", "\n      waits for mutex 'A' at " F ":%d since t=", site->second2);
    char *b = party_block(o, "compactor");
    assert_null(strstr(b, "with a timeout")); /* its own wait has none */
    free(b);
    assert_has(o, "deja-node: a lock timeout breaks it: the process goes on (deadlock_timeouts=1 in the status; a "
                  "cycle at these sites again is only counted)\n", 0);
    assert_has(o, "deja-node: DEADLOCK (broken by a lock timeout) on node 0: a task waits for a lock it holds "
                  "itself\n", 0);
    assert_has(o, "      waits for rwlock 'index' (write) at " F ":%d since t=", site->reader);
    /* the second crossing is only counted */
    assert_int_equal(count_of(o->err, "DEADLOCK"), 2);
    assert_null(strstr(o->err, "deadlock_timeouts=2"));
    free(o);
}

/* A wait without a timeout that closes two cycles at once, one through a
 * wait with a timeout and one without: the one without is final. */
typedef struct mixed {
    rt_rwlock *ledger;
    rt_mutex *head;
    rt_wg *ready, *go_auditor, *go_pruner, *go_writer;
} mixed;

static void m_auditor(void *arg) {
    mixed *m = arg;
    CHILD_CHECK(rt_rwlock_rlock(m->ledger, RT_FOREVER) == RT_OK);
    rt_wg_done(m->ready);
    rt_wg_wait(m->go_auditor, RT_FOREVER);
    site->f2[0] = __LINE__ + 1;
    rt_mutex_lock(m->head, RT_FOREVER);
}

static void m_pruner(void *arg) {
    mixed *m = arg;
    CHILD_CHECK(rt_rwlock_rlock(m->ledger, RT_FOREVER) == RT_OK);
    rt_wg_done(m->ready);
    rt_wg_wait(m->go_pruner, RT_FOREVER);
    site->f2[1] = __LINE__ + 1;
    if (rt_mutex_lock(m->head, 60 * RT_SEC) == RT_OK) rt_mutex_unlock(m->head);
    rt_rwlock_runlock(m->ledger);
}

static void m_writer(void *arg) {
    mixed *m = arg;
    CHILD_CHECK(rt_mutex_lock(m->head, RT_FOREVER) == RT_OK);
    rt_wg_done(m->ready);
    rt_wg_wait(m->go_writer, RT_FOREVER);
    site->f2[2] = __LINE__ + 1;
    rt_rwlock_wlock(m->ledger, RT_FOREVER);
}

static void mixed_body(void) {
    static mixed m;
    m.ledger = rt_rwlock_new("ledger");
    m.head = rt_mutex_new("head");
    m.ready = rt_wg_new();
    m.go_auditor = rt_wg_new();
    m.go_pruner = rt_wg_new();
    m.go_writer = rt_wg_new();
    rt_wg_add(m.ready, 3);
    rt_wg_add(m.go_auditor, 1);
    rt_wg_add(m.go_pruner, 1);
    rt_wg_add(m.go_writer, 1);
    rt_spawn("auditor", m_auditor, &m);
    rt_spawn("pruner", m_pruner, &m);
    rt_spawn("writer", m_writer, &m);
    rt_wg_wait(m.ready, RT_FOREVER);
    rt_wg_done(m.go_auditor);
    await_blocked("mutex", &site->f2[0]);
    rt_wg_done(m.go_pruner); /* its hold of 'ledger' is now the first one the walk meets */
    await_blocked("mutex", &site->f2[1]);
    rt_wg_done(m.go_writer);
}

static void test_final_cycle_beside_a_timeout(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    run_child(mixed_body, o);
    assert_aborted(o);
    assert_has(o, "a cycle of 2 tasks, each waiting for a lock the next one holds (or waits for ahead of it), all "
                  "without a timeout\n", 0);
    assert_party(o, "writer", "\n      waits for rwlock 'ledger' (write) at " F ":%d since t=", site->f2[2]);
    assert_party(o, "auditor", "\n      waits for mutex 'head' at " F ":%d since t=", site->f2[0]);
    assert_null(strstr(o->err, "'pruner'"));
    assert_null(strstr(o->err, "broken by a lock timeout"));
    free(o);
}

/* ---- the switch ------------------------------------------------------------------- */

static void test_check_off(void **state) {
    (void)state;
    child_out *o = calloc(1, sizeof *o);
    child_set = "real.deadlock_check=0";
    run_child(tcross_body, o); /* the cycles with a timeout: nothing sees them, the timeouts end them */
    child_set = NULL;
    assert_went_on(o);
    assert_non_null(strstr(o->status, "\ndeadlock_timeouts=0\n"));
    assert_non_null(strstr(o->status, "\ndeadlock_check=off\n"));
    assert_non_null(strstr(o->status, "\nlock_waits_checked=0\n")); /* no wait went through the table */
    assert_null(strstr(o->err, "DEADLOCK"));
    free(o);
}

static void test_check_switch_value(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(real_param_set("real.deadlock_check=yes", err, sizeof err), 0);
    real_opts o = {0};
    assert_int_equal(real_init(&o, err, sizeof err), 2);
    assert_string_equal(err, "--set real.deadlock_check=yes: want 0 or 1");
    assert_int_equal(real_param_set("real.deadlock_check=1", err, sizeof err), 0);
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    assert_int_equal(real_shutdown(5 * RT_SEC), 0);
}

/* ---- what is not a deadlock ----------------------------------------------------- */

static void test_bounded_self_waits_time_out(void **state) {
    (void)state;
    uint64_t timeouts = real_fixture_status("deadlock_timeouts");
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
    assert_int_equal(real_fixture_status("deadlocks"), 0);
    /* the upgrade and the second write waited for themselves, with a timeout */
    assert_int_equal(real_fixture_status("deadlock_timeouts"), timeouts + 2);
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

/* Many tasks taking mutexes and rwlocks in one global order, reading or
 * writing, some with a timeout, under contention (they yield while
 * holding): the check sees many waits and never a cycle. */
#define ORDER_TASKS 8
#define ORDER_LOCKS 5
#define ORDER_ROUNDS 1500

typedef struct ordered {
    rt_mutex *m[3];
    rt_rwlock *l[2];
    int64_t value[ORDER_LOCKS]; /* changed under write holds */
    _Atomic int64_t done, timed_out;
} ordered;

/* Releases lock j of o (even j: mutex j/2; odd: rwlock j/2, held to write
 * when wrote). */
static void ordered_unlock(ordered *o, int j, bool wrote) {
    if (j % 2 == 0)
        rt_mutex_unlock(o->m[j / 2]);
    else if (wrote)
        rt_rwlock_wunlock(o->l[j / 2]);
    else
        rt_rwlock_runlock(o->l[j / 2]);
}

static void ordered_task(void *arg) {
    ordered *o = arg;
    static _Atomic uint64_t seeds;
    uint64_t x = 0x9e3779b97f4a7c15ull * (atomic_fetch_add(&seeds, 1) + 1);
    for (int i = 0; i < ORDER_ROUNDS; i++) {
        bool took[ORDER_LOCKS] = {0}, wrote[ORDER_LOCKS] = {0};
        for (int j = 0; j < ORDER_LOCKS; j++) { /* the order: m0 l0 m1 l1 m2 */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (x % 3 == 0) continue;
            int64_t timeout = x % 5 == 0 ? 30 * RT_SEC : RT_FOREVER;
            int rc;
            if (j % 2 == 0) {
                rc = rt_mutex_lock(o->m[j / 2], timeout);
                wrote[j] = true;
            } else {
                wrote[j] = (x >> 8) % 3 == 0;
                rc = wrote[j] ? rt_rwlock_wlock(o->l[j / 2], timeout) : rt_rwlock_rlock(o->l[j / 2], timeout);
            }
            if (rc != RT_OK) {
                atomic_fetch_add(&o->timed_out, 1);
                break;
            }
            took[j] = true;
            if (wrote[j]) o->value[j]++;
            if ((x >> 16) % 4 == 0) rt_yield();
        }
        for (int j = ORDER_LOCKS - 1; j >= 0; j--) {
            if (took[j]) ordered_unlock(o, j, wrote[j]);
        }
        atomic_fetch_add(&o->done, 1);
    }
}

static void test_one_order_never_reports(void **state) {
    (void)state;
    uint64_t checked = real_fixture_status("lock_waits_checked"), timeouts = real_fixture_status("deadlock_timeouts");
    static ordered o;
    memset(&o, 0, sizeof o);
    o.m[0] = rt_mutex_new("m0");
    o.m[1] = rt_mutex_new("m1");
    o.m[2] = rt_mutex_new("m2");
    o.l[0] = rt_rwlock_new("l0");
    o.l[1] = rt_rwlock_new("l1");
    for (int i = 0; i < ORDER_TASKS; i++) assert_int_equal(rt_spawn("ordered", ordered_task, &o), RT_OK);
    assert_int_equal(real_shutdown(120 * RT_SEC), 0);
    assert_int_equal(o.done, ORDER_TASKS * ORDER_ROUNDS);
    assert_int_equal(o.timed_out, 0);
    assert_int_equal(real_fixture_status("deadlocks"), 0);
    assert_int_equal(real_fixture_status("deadlock_timeouts"), timeouts);
    assert_true(real_fixture_status("lock_waits_checked") > checked); /* the check ran: tasks did wait */
    for (int i = 0; i < 3; i++) rt_mutex_free(o.m[i]);
    for (int i = 0; i < 2; i++) rt_rwlock_free(o.l[i]);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* Tasks taking the same locks in any order, every wait with a short
 * timeout: cycles close and break all the time. The table keeps up (its
 * assertions hold as waits are granted, time out and leave), and none of
 * those cycles is final. */
static void churn_task(void *arg) {
    ordered *o = arg;
    static _Atomic uint64_t seeds;
    uint64_t x = 0xd1b54a32d192ed03ull * (atomic_fetch_add(&seeds, 1) + 1);
    for (int i = 0; i < 400; i++) {
        int order[ORDER_LOCKS], n = 0;
        bool took[ORDER_LOCKS] = {0}, wrote[ORDER_LOCKS] = {0};
        for (int j = 0; j < ORDER_LOCKS; j++) order[j] = j;
        for (int j = ORDER_LOCKS - 1; j > 0; j--) { /* a shuffled order */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int k = (int)(x % (uint64_t)(j + 1)), tmp = order[j];
            order[j] = order[k];
            order[k] = tmp;
        }
        for (; n < 3; n++) {
            int j = order[n], rc;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if (j % 2 == 0) {
                rc = rt_mutex_lock(o->m[j / 2], 5 * RT_MS);
                wrote[j] = true;
            } else {
                wrote[j] = x % 2 == 0;
                rc = wrote[j] ? rt_rwlock_wlock(o->l[j / 2], 5 * RT_MS) : rt_rwlock_rlock(o->l[j / 2], 5 * RT_MS);
            }
            if (rc != RT_OK) {
                atomic_fetch_add(&o->timed_out, 1);
                break;
            }
            took[j] = true;
            if (x % 3 == 0) rt_yield();
        }
        for (int j = 0; j < ORDER_LOCKS; j++) {
            if (took[j]) ordered_unlock(o, j, wrote[j]);
        }
        atomic_fetch_add(&o->done, 1);
    }
}

static void test_churn_of_timeout_cycles(void **state) {
    (void)state;
    uint64_t checked = real_fixture_status("lock_waits_checked");
    static ordered o;
    memset(&o, 0, sizeof o);
    for (int i = 0; i < 3; i++) o.m[i] = rt_mutex_new("cm");
    for (int i = 0; i < 2; i++) o.l[i] = rt_rwlock_new("cl");
    for (int i = 0; i < 6; i++) assert_int_equal(rt_spawn("churn", churn_task, &o), RT_OK);
    assert_int_equal(real_shutdown(120 * RT_SEC), 0);
    assert_int_equal(o.done, 6 * 400);
    assert_int_equal(real_fixture_status("deadlocks"), 0);
    assert_true(real_fixture_status("lock_waits_checked") > checked);
    for (int i = 0; i < 3; i++) rt_mutex_free(o.m[i]);
    for (int i = 0; i < 2; i++) rt_rwlock_free(o.l[i]);
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
        cmocka_unit_test_setup_teardown(test_cycle_of_three, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_ring_of_four_mutexes, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_cycle_through_a_queue, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_timeout_cycle_goes_on, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_final_cycle_beside_a_timeout, test__setup, test__teardown),
        cmocka_unit_test_setup_teardown(test_check_off, test__setup, test__teardown),
        cmocka_unit_test(test_check_switch_value),
        cmocka_unit_test_setup_teardown(test_bounded_self_waits_time_out, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_waits_that_end, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_one_order_never_reports, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_churn_of_timeout_cycles, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_returned_holder, real_fixture_setup, real_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
