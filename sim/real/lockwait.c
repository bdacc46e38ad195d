/*
 * lockwait.c -- the production backend's check for deadlocks on its
 * mutexes and rwlocks: what each task holds, and what each task queued
 * for a lock waits for, so that a wait that can never end is reported (in
 * the simulator's words, sim/world/detect.c) instead of hanging the node.
 *
 * Every hold of a lock is a slot of the holding task's own pool, linked in
 * the task's list of holds (changed only by that task's thread, so taking
 * a lock that is free costs a few loads and stores, no lock beyond the
 * lock's own) and, for an rwlock, in the lock's list of holders (under the
 * lock's mutex). A task that cannot take a lock at once enters the
 * process's wait-for table W under the lock's mutex, as it queues: the lock
 * it waits for, whether its wait has a deadline, and its holds, indexed by
 * lock (a task that waits cannot change them). It leaves the table when its
 * wait ends, under the same mutex, so the table holds exactly the waits of
 * the instant. Entering, the task walks the table depth first from itself
 * -- a waiter waits for the holders of its lock that keep it out (every
 * one for a write or a mutex, the writer for a read) and, for an rwlock,
 * for the waiter queued just ahead of it (FIFO) -- visiting each task once.
 * A new cycle always passes through the task that closes it, so a path
 * back to that task finds every cycle, of any length, the instant it
 * closes.
 *
 * A cycle of waits without a deadline is final (nothing the node does can
 * end it): the process reports it on stderr, counts it in the status
 * (deadlocks=N), rewrites DIR/status and aborts, so a supervisor sees
 * SIGABRT (a shell's status 134) and the core dump keeps every thread's
 * stack as it was. A cycle that a wait with a deadline closes ends when
 * that wait times out (the simulator's deadlock_timeout): it is counted
 * (deadlock_timeouts=N), printed on stderr the first time its set of wait
 * sites closes one, and the process goes on. The walk looks first for a
 * cycle of waits without a deadline only, so a final deadlock is never
 * taken for one a timeout ends. real.deadlock_check=0 turns all of it off:
 * no table, and a wait just waits.
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

static _Atomic bool real__lw_enabled = true;
static pthread_mutex_t real__W = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local bool real__w_mine; /* this thread holds W */
static int real__nbounded;              /* tasks in the table whose wait has a deadline (W) */

bool real__lw_on(void) { return atomic_load_explicit(&real__lw_enabled, memory_order_relaxed); }

static void real__lw_lock(void) {
    assert(!real__w_mine);
    pthread_mutex_lock(&real__W);
    real__w_mine = true;
}

static void real__lw_unlock(void) {
    assert(real__w_mine);
    real__w_mine = false;
    pthread_mutex_unlock(&real__W);
}

/* The lock objects are the callers' (never const): W's fields of them are
 * changed through the holds' and waits' const pointers. */
static real__lk *real__lk_mut(const real__lk *k) { return (real__lk *)(uintptr_t)k; }

/* Puts t in the table, waiting for k, with its holds indexed by lock (W). */
static void real__lw_enter(real__task *t, const real__lk *k, bool write, bool bounded, const char *file, int line) {
    assert(real__w_mine && !t->lw.lock);
    real__lk *kk = real__lk_mut(k);
    t->lw = (real__lkwait){.lock = k, .write = write, .bounded = bounded, .file = file, .line = line,
                           .since_ns = real__mono()};
    t->lwnext = NULL;
    t->lwprev = kk->wq_tail;
    if (kk->wq_tail)
        kk->wq_tail->lwnext = t;
    else
        kk->wq_head = t;
    kk->wq_tail = t;
    for (real__hold *h = t->held; h; h = h->tnext) {
        real__lk *hk = real__lk_mut(h->lock);
        assert(h->listed && h->task == t);
        h->wprev = NULL;
        h->wnext = hk->wheld;
        if (hk->wheld) hk->wheld->wprev = h;
        hk->wheld = h;
    }
    if (bounded) real__nbounded++;
}

void real__lw_leave(real__task *t) {
    real__lw_lock();
    real__lk *k = real__lk_mut(t->lw.lock);
    assert(k);
    if (t->lwprev)
        t->lwprev->lwnext = t->lwnext;
    else
        k->wq_head = t->lwnext;
    if (t->lwnext)
        t->lwnext->lwprev = t->lwprev;
    else
        k->wq_tail = t->lwprev;
    t->lwprev = t->lwnext = NULL;
    for (real__hold *h = t->held; h; h = h->tnext) {
        real__lk *hk = real__lk_mut(h->lock);
        if (h->wprev)
            h->wprev->wnext = h->wnext;
        else
            hk->wheld = h->wnext;
        if (h->wnext) h->wnext->wprev = h->wprev;
        h->wprev = h->wnext = NULL;
    }
    if (t->lw.bounded) real__nbounded--;
    assert(real__nbounded >= 0);
    t->lw.lock = NULL;
    real__lw_unlock();
}

/* ---- the walk --------------------------------------------------------------------- */

/* A task on the walk's path, where it is in its edges, and the edge taken
 * from it to the next frame. */
typedef struct real__lwframe {
    real__task *u;
    int phase;             /* 0: the holders of its lock, 1: the waiter ahead, 2: done */
    const real__hold *cur; /* phase 0: the next hold to look at */
    real__task *to;        /* the edge taken: u waits for `to` ... */
    const real__hold *via; /* ... because `to` holds this, or (NULL) is queued ahead of u */
} real__lwframe;

static real__lwframe *real__fr; /* the walk's stack (W) */
static int real__fr_cap;
static uint64_t real__epoch;

/* The next edge out of f->u (W held): a holder of u's lock that keeps u
 * out (u itself included: a task can wait for its own hold), then, for an
 * rwlock, the task queued just ahead (it waits for every task ahead: the
 * one just ahead leads to the others). With `strict`, only tasks whose
 * wait has no deadline. False when there is none left. */
static bool real__lw_next(real__lwframe *f, bool strict) {
    const real__task *u = f->u;
    const real__lk *k = u->lw.lock;
    if (f->phase == 0) {
        while (f->cur) {
            const real__hold *h = f->cur;
            f->cur = h->wnext;
            assert(h->lock == k && h->task->lw.lock);
            if (k->kind == REAL__LK_RWLOCK && !u->lw.write && !h->write) continue; /* reads share */
            if (strict && h->task->lw.bounded) continue;
            f->to = h->task;
            f->via = h;
            return true;
        }
        f->phase = 1;
    }
    if (f->phase == 1) {
        f->phase = 2;
        if (k->kind == REAL__LK_RWLOCK) {
            real__task *p = u->lwprev;
            while (p && strict && p->lw.bounded) p = p->lwprev;
            if (p) {
                f->to = p;
                f->via = NULL;
                return true;
            }
        }
    }
    return false;
}

/* Depth first from t (in the table, W held): the number of tasks of a
 * cycle back to t, with them and their edges in real__fr[0..n), or 0. */
static int real__lw_find(real__task *t, bool strict) {
    assert(real__w_mine && t->lw.lock);
    if (real__fr_cap == 0) {
        real__fr_cap = 64;
        real__fr = malloc((size_t)real__fr_cap * sizeof *real__fr);
        if (!real__fr) abort();
    }
    uint64_t epoch = ++real__epoch;
    t->lw_mark = epoch;
    int depth = 0;
    real__fr[depth++] = (real__lwframe){.u = t, .cur = t->lw.lock->wheld};
    while (depth > 0) {
        real__lwframe *f = &real__fr[depth - 1];
        if (!real__lw_next(f, strict)) {
            depth--;
            continue;
        }
        real__task *v = f->to;
        if (v == t) return depth;
        if (v->lw_mark == epoch) continue;
        v->lw_mark = epoch;
        assert(v->lw.lock && (!strict || !v->lw.bounded));
        if (depth == real__fr_cap) {
            real__fr_cap *= 2;
            real__fr = realloc(real__fr, (size_t)real__fr_cap * sizeof *real__fr);
            if (!real__fr) abort();
        }
        real__fr[depth++] = (real__lwframe){.u = v, .cur = v->lw.lock->wheld};
    }
    return 0;
}

/* Shortens a found cycle where it runs down one rwlock's queue (u behind
 * v behind w: u waits for w directly), so that the report names, as the
 * simulator's does, the task ahead that matters. Returns the new length. */
static int real__lw_shorten(int n) {
    int i = 0;
    while (i + 2 < n) { /* (nobody is queued behind the task that closes it: no queue edge leads to it) */
        real__lwframe *a = &real__fr[i], *b = &real__fr[i + 1];
        if (!a->via && !b->via) {
            assert(b->to->lw.lock == a->u->lw.lock);
            a->to = b->to; /* b->to is ahead of b, so ahead of a */
            memmove(b, b + 1, (size_t)(n - i - 2) * sizeof *b);
            n--;
            continue;
        }
        i++;
    }
    return n;
}

/* ---- the report --------------------------------------------------------------- */

/* One task of a report: the task, what it holds that the previous one
 * waits for (a hold, or NULL when it is queued ahead of that task), and
 * the lock it waits for. */
typedef struct real__dl_party {
    const real__task *task;
    const real__hold *holds;
    const real__task *ahead_of; /* holds == NULL: the previous task, behind it */
    real__lkwait wants;
} real__dl_party;

static real__dl_party *real__parties; /* (W) */
static int real__parties_cap;

static _Atomic uint64_t real__n_deadlocks, real__n_timeouts, real__n_checked;
static pthread_mutex_t real__DL = PTHREAD_MUTEX_INITIALIZER; /* one report, then the end */

/* The cycles closed by a timeout that were printed since the node
 * started, by their set of wait sites (W). */
#define REAL__SHAPES 64
static uint64_t real__shapes[REAL__SHAPES];
static int real__nshapes;

uint64_t real__deadlocks(void) { return atomic_load(&real__n_deadlocks); }
uint64_t real__deadlock_timeouts(void) { return atomic_load(&real__n_timeouts); }
uint64_t real__lock_waits_checked(void) { return atomic_load(&real__n_checked); }

void real__lw_configure(bool on) {
    atomic_store(&real__lw_enabled, on);
    real__lw_lock();
    real__nshapes = 0;
    real__lw_unlock();
}

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

/* Writes the report of a cycle of n parties (the simulator's words), the
 * first the task that closes it, at `now`; `timeout` when a wait of it
 * has a deadline. */
static void real__dl_write(FILE *f, const real__dl_party *p, int n, bool timeout, int64_t now) {
    bool mutexes = true;
    for (int i = 0; i < n; i++) mutexes &= p[i].wants.lock->kind == REAL__LK_MUTEX;
    const char *head = timeout ? "DEADLOCK (broken by a lock timeout)" : "DEADLOCK";
    if (n == 1)
        fprintf(f, "deja-node: %s on node %u: a task waits for a lock it holds itself%s\n", head, rt_node_id(),
                timeout ? "" : ", without a timeout");
    else
        fprintf(f, "deja-node: %s on node %u: a cycle of %d tasks, each waiting for a %s the next one holds%s%s\n",
                head, rt_node_id(), n, mutexes ? "mutex" : "lock", mutexes ? "" : " (or waits for ahead of it)",
                timeout ? "" : ", all without a timeout");
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
            assert(q->ahead_of && q->ahead_of->lw.lock);
            fprintf(f, "      is ahead of task %" PRIu64 " in the queue of rwlock '%s'\n", q->ahead_of->id,
                    q->ahead_of->lw.lock->name);
        }
        const real__lkwait *w = &q->wants;
        int64_t since = w->since_ns ? w->since_ns : now;
        fprintf(f, "      waits for ");
        real__lk_desc(f, w->lock, w->write);
        fprintf(f, " at %s:%d since t=%" PRId64 " ms (%" PRId64 " ms)%s\n", w->file ? w->file : "?", w->line,
                real__t_ms(since), (now - since) / RT_MS, w->bounded ? " with a timeout" : "");
    }
}

/* A final deadlock found by the calling task (parties[0]) while it holds
 * mutex mu and W: writes the report while the records are consistent,
 * releases those locks, counts it, prints it, rewrites the status file
 * and aborts the process. */
static _Noreturn void real__deadlock(const real__dl_party *p, int n, pthread_mutex_t *mu) {
    assert(n >= 1 && p[0].task == real__self() && real__w_mine);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    real__dl_write(f, p, n, false, real__mono());
    uint64_t total = atomic_fetch_add(&real__n_deadlocks, 1) + 1;
    fprintf(f, "deja-node: a deadlock never ends: the process aborts (deadlocks=%" PRIu64 " in the status)\n", total);
    fclose(f);
    /* The report is written: the records may change from here on. */
    real__lw_unlock();
    pthread_mutex_unlock(mu);
    pthread_mutex_lock(&real__DL); /* never released: a second finder waits for the abort */
    fputs(text, stderr);
    fflush(stderr);
    free(text);
    real__status_now();
    abort();
}

/* A cycle closed by a wait with a deadline (W held): counted; the report
 * when its set of wait sites was not printed since the node started (and
 * fewer than REAL__SHAPES were), else NULL. */
static char *real__deadlock_timeout(const real__dl_party *p, int n) {
    uint64_t total = atomic_fetch_add(&real__n_timeouts, 1) + 1;
    uint64_t shape = 0; /* a sum of the sites' hashes: the same whichever task closes it */
    for (int i = 0; i < n; i++) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (const char *c = p[i].wants.file ? p[i].wants.file : "?"; *c; c++) h = (h ^ (uint8_t)*c) * 0x100000001b3ull;
        h = (h ^ (uint64_t)(uint32_t)p[i].wants.line) * 0x9e3779b97f4a7c15ull;
        shape += h ^ (h >> 31);
    }
    for (int i = 0; i < real__nshapes; i++)
        if (real__shapes[i] == shape) return NULL;
    if (real__nshapes == REAL__SHAPES) return NULL;
    real__shapes[real__nshapes++] = shape;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) abort();
    real__dl_write(f, p, n, true, real__mono());
    fprintf(f, "deja-node: a lock timeout breaks it: the process goes on (deadlock_timeouts=%" PRIu64
               " in the status; a cycle at these sites again is only counted)\n", total);
    fclose(f);
    return text;
}

/* The parties of the cycle in real__fr[0..n) (W held). */
static const real__dl_party *real__lw_parties(int n) {
    if (n > real__parties_cap) {
        real__parties_cap = n > 64 ? n : 64;
        free(real__parties);
        real__parties = malloc((size_t)real__parties_cap * sizeof *real__parties);
        if (!real__parties) abort();
    }
    for (int i = 0; i < n; i++) {
        const real__lwframe *prev = &real__fr[(i + n - 1) % n], *c = &real__fr[i];
        assert(prev->to == c->u);
        real__parties[i] = (real__dl_party){.task = c->u, .holds = prev->via,
                                            .ahead_of = prev->via ? NULL : prev->u, .wants = c->u->lw};
    }
    return real__parties;
}

void real__lw_wait(real__task *t, const real__lk *k, bool write, bool bounded, const char *file, int line,
                   pthread_mutex_t *mu) {
    real__lw_lock();
    real__lw_enter(t, k, write, bounded, file, line);
    atomic_fetch_add_explicit(&real__n_checked, 1, memory_order_relaxed);
    int n = bounded ? 0 : real__lw_find(t, true);
    if (n > 0) {
        n = real__lw_shorten(n);
        real__deadlock(real__lw_parties(n), n, mu);
    }
    char *text = NULL;
    if (real__nbounded > 0 && (n = real__lw_find(t, false)) > 0) {
        n = real__lw_shorten(n);
        text = real__deadlock_timeout(real__lw_parties(n), n);
    }
    real__lw_unlock();
    if (text) { /* rare (once per cycle's sites): printed under the lock's own mutex only */
        fputs(text, stderr);
        fflush(stderr);
        free(text);
    }
}
