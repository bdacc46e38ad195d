/*
 * lockwait.c -- the production backend's check for deadlocks on its
 * mutexes and rwlocks: what each task holds, and what a task about to wait
 * without a deadline would wait for, so that a wait that can never end is
 * reported (in the simulator's words, sim/world/detect.c) instead of
 * hanging the node or tripping an assertion.
 *
 * Every hold of a lock is a slot of the holding task's own pool, linked in
 * the task's list of holds (read and changed only by that task's thread, so
 * taking a lock costs a few loads and stores, no lock beyond the lock's
 * own) and, for an rwlock, in the lock's list of holders (under the lock's
 * mutex). A task about to wait without a deadline checks, under the lock's
 * mutex, what can be decided there: that it holds the lock itself (mutex
 * relock, rwlock write after write or read, read after write, or a read
 * queued behind a writer that waits for this very reader); then, in the
 * process's wait-for table W, whether a holder that keeps it out waits
 * without a deadline for a lock it holds (a cycle of two tasks). The check
 * and the entry in the table happen under W together, so of two tasks
 * closing a cycle at once the second sees the first. Longer cycles are not
 * looked for: the simulator's detector finds them.
 *
 * A deadlock is final (nothing the node does can end it), so the process
 * reports it on stderr, counts it in the status (deadlocks=N), rewrites
 * DIR/status and aborts: a supervisor sees SIGABRT (a shell's status 134)
 * and the core dump keeps every thread's stack as it was.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "real_int.h"

#define REAL__HCHUNK 8

/* Hold slots come in chunks that never move: a hold is linked where it is. */
typedef struct real__hchunk {
    struct real__hchunk *next;
    real__hold h[REAL__HCHUNK];
} real__hchunk;

/* ---- holds ------------------------------------------------------------------ */

void real__holds_grow(real__task *t) {
    real__hchunk *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->next = t->hchunks;
    t->hchunks = c;
    for (int i = 0; i < REAL__HCHUNK; i++) {
        c->h[i].tnext = t->hfree;
        t->hfree = &c->h[i];
    }
}

real__hold *real__hold_find(const real__task *t, const real__lk *k, bool write) {
    for (real__hold *h = t->held; h; h = h->tnext)
        if (h->lock == k && h->write == write) return h;
    return NULL;
}

void real__holds_exit(real__task *t) {
    while (t->held) {
        real__hold *h = t->held;
        assert(h->listed && !h->tprev);
        t->held = h->tnext;
        if (t->held) t->held->tprev = NULL;
        h->listed = false;
        if (h->lock->kind == REAL__LK_RWLOCK)
            real__rw_orphan(h->lock, h);
        else
            real__mutex_orphan(h->lock, h);
    }
    while (t->hchunks) {
        real__hchunk *c = t->hchunks;
        t->hchunks = c->next;
        free(c);
    }
    t->hfree = NULL;
}

/* ---- the wait-for table ------------------------------------------------------- */

static pthread_mutex_t real__W = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool real__w_mine; /* this thread holds W */

void real__lw_lock(void) {
    assert(!real__w_mine);
    pthread_mutex_lock(&real__W);
    real__w_mine = true;
}

void real__lw_unlock(void) {
    assert(real__w_mine);
    real__w_mine = false;
    pthread_mutex_unlock(&real__W);
}

bool real__lw_cycle(const real__task *t, const real__hold *h, real__lkwait *theirs, const real__hold **mine) {
    assert(real__w_mine);
    const real__task *u = h->task;
    if (!u || u == t || !u->lw.lock) return false;
    const real__lkwait *wu = &u->lw;
    /* u waits for a mutex t owns, or to write an rwlock t holds, or to read
     * an rwlock t writes: t keeps u out as long as t waits. */
    for (const real__hold *x = t->held; x; x = x->tnext) {
        if (x->lock != wu->lock) continue;
        if (wu->lock->kind == REAL__LK_MUTEX || wu->write || x->write) {
            *theirs = *wu;
            *mine = x;
            return true;
        }
    }
    return false;
}

void real__lw_enter(real__task *t, const real__lk *k, bool write, const char *file, int line) {
    assert(real__w_mine && !t->lw.lock);
    t->lw = (real__lkwait){.lock = k, .write = write, .file = file, .line = line, .since_ns = real__mono()};
}

void real__lw_leave(real__task *t) {
    real__lw_lock();
    assert(t->lw.lock);
    t->lw.lock = NULL;
    real__lw_unlock();
}

/* ---- the report --------------------------------------------------------------- */

static _Atomic uint64_t real__n_deadlocks;
static pthread_mutex_t real__DL = PTHREAD_MUTEX_INITIALIZER; /* one report, then the end */

uint64_t real__deadlocks(void) { return atomic_load(&real__n_deadlocks); }

static int64_t real__t_ms(int64_t ns) {
    int64_t d = ns - real__start_mono();
    return d > 0 ? d / RT_MS : 0;
}

/* "rwlock 'L' (write)" or "mutex 'A'". */
static void real__lk_desc(FILE *f, const real__lk *k, bool write) {
    if (k->kind == REAL__LK_RWLOCK)
        fprintf(f, "rwlock '%s' (%s)", k->name, write ? "write" : "read");
    else
        fprintf(f, "mutex '%s'", k->name);
}

_Noreturn void real__deadlock(const real__dl_party *p, int n, pthread_mutex_t *mu, bool w_held) {
    assert(n >= 1 && n <= 2 && p[0].task == real__self());
    assert(w_held == real__w_mine);
    int64_t now = real__mono();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    bool mutexes = true;
    for (int i = 0; i < n; i++) mutexes &= p[i].wants.lock->kind == REAL__LK_MUTEX;
    if (n == 1)
        fprintf(f, "deja-node: DEADLOCK on node %u: a task waits for a lock it holds itself, without a timeout\n",
                rt_node_id());
    else
        fprintf(f, "deja-node: DEADLOCK on node %u: a cycle of %d tasks, each waiting for a %s the next one holds%s, "
                   "all without a timeout\n",
                rt_node_id(), n, mutexes ? "mutex" : "lock", mutexes ? "" : " (or waits for ahead of it)");
    for (int i = 0; i < n; i++) {
        const real__dl_party *q = &p[i];
        const real__task *t = q->task;
        if (t->external)
            fprintf(f, "  task %" PRIu64 " '%s' (a thread the backend did not spawn)\n", t->id, t->name);
        else
            fprintf(f, "  task %" PRIu64 " '%s' (spawned at %s:%d)\n", t->id, t->name, t->file, t->line);
        if (q->holds) {
            fprintf(f, "      holds ");
            real__lk_desc(f, q->holds->lock, q->holds->write);
            fprintf(f, ", taken at %s:%d at t=%" PRId64 " ms\n", q->holds->file ? q->holds->file : "?",
                    q->holds->line, real__t_ms(q->holds->since_ns));
        } else {
            assert(q->ahead_lock);
            fprintf(f, "      is ahead of task %" PRIu64 " in the queue of rwlock '%s'\n", q->ahead_of,
                    q->ahead_lock->name);
        }
        const real__lkwait *w = &q->wants;
        int64_t since = w->since_ns ? w->since_ns : now;
        fprintf(f, "      waits for ");
        real__lk_desc(f, w->lock, w->write);
        fprintf(f, " at %s:%d since t=%" PRId64 " ms (%" PRId64 " ms)\n", w->file ? w->file : "?", w->line,
                real__t_ms(since), (now - since) / RT_MS);
    }
    uint64_t total = atomic_fetch_add(&real__n_deadlocks, 1) + 1;
    fprintf(f, "deja-node: a deadlock never ends: the process aborts (deadlocks=%" PRIu64 " in the status)\n", total);
    fclose(f);
    /* The report is written: the records may change from here on. */
    if (w_held) real__lw_unlock();
    pthread_mutex_unlock(mu);
    pthread_mutex_lock(&real__DL); /* never released: a second finder waits for the abort */
    fputs(text, stderr);
    fflush(stderr);
    free(text);
    real__status_now();
    abort();
}
