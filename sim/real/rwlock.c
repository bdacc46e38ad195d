/*
 * rwlock.c -- reader-writer locks of the production backend, with the
 * simulator's policy (rt.h): one FIFO queue of waiters served in arrival
 * order, a writer alone or the run of readers at the head together, so
 * that writers are not starved by readers nor readers by writers.
 *
 * A lock is a pthread mutex, a monotonic condition variable, a queue of
 * waiter records that live on the waiting threads' stacks and the list of
 * its holders' records (lockwait.c: task, read or write, site, instant).
 * A release marks the waiters it serves as granted (the lock is theirs
 * from that moment) and wakes every waiter; each one checks its own
 * record. A task that queues enters the wait-for table (lockwait.c) and
 * leaves it when it is granted (by the releaser, under the mutex) or times
 * out: a cycle of waits without a deadline, a wait for itself included, is
 * a deadlock, reported before the process aborts. The holders are shown
 * in task dumps.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "real_int.h"

typedef struct real__rw_waiter {
    struct real__rw_waiter *prev, *next;
    real__hold *h; /* the hold it gets when granted (task, write, site) */
    bool granted, tabled; /* tabled: in the wait-for table (lockwait.c) */
} real__rw_waiter;

struct rt_rwlock {
    real__lk k; /* kind and name: first (lockwait.c) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int readers;      /* read holds, those of tasks that returned included */
    bool writer;      /* held for writing */
    real__hold *whold; /* the writer's hold; NULL when its task returned holding it */
    real__hold *holds, *holds_tail; /* the holders' records, oldest first */
    real__rw_waiter *head, *tail;
};

rt_rwlock *rt_rwlock_new(const char *name) {
    rt_rwlock *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->k.kind = REAL__LK_RWLOCK;
    pthread_mutex_init(&l->mu, NULL);
    real__cond_init(&l->cv);
    snprintf(l->k.name, sizeof l->k.name, "%s", name ? name : "rwlock");
    return l;
}

/* Gives l to hold h (its task, mode and site filled in), now (mu held). */
static void real__rw_take(rt_rwlock *l, real__hold *h) {
    assert(!l->writer && (!h->write || l->readers == 0));
    assert(h->lock == &l->k && h->task);
    h->since_ns = real__mono_coarse();
    h->lnext = NULL;
    h->lprev = l->holds_tail;
    if (l->holds_tail)
        l->holds_tail->lnext = h;
    else
        l->holds = h;
    l->holds_tail = h;
    if (h->write) {
        l->writer = true;
        l->whold = h;
    } else {
        l->readers++;
    }
}

/* Takes h out of l's holders (mu held). */
static void real__rw_drop(rt_rwlock *l, real__hold *h) {
    if (h->lprev)
        h->lprev->lnext = h->lnext;
    else
        l->holds = h->lnext;
    if (h->lnext)
        h->lnext->lprev = h->lprev;
    else
        l->holds_tail = h->lprev;
    h->lprev = h->lnext = NULL;
}

static void real__rw_unlink(rt_rwlock *l, real__rw_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
}

/* Serves the head of the queue while it can be (mu held) and wakes the
 * waiters when it served any. */
static void real__rw_grant(rt_rwlock *l) {
    bool any = false;
    real__rw_waiter *w;
    while ((w = l->head)) {
        if (l->writer || (w->h->write && l->readers > 0)) break;
        real__rw_unlink(l, w);
        real__rw_take(l, w->h);
        w->granted = true;
        if (w->tabled) real__lw_leave(w->h->task); /* its wait ends now, though it still sleeps */
        any = true;
        if (w->h->write) break;
    }
    if (any) pthread_cond_broadcast(&l->cv);
}

/* Describes l and its holders for dumps (mu held). */
static void real__rw_what(const rt_rwlock *l, char *what, size_t len) {
    const real__hold *w = l->whold, *r = l->holds_tail;
    if (l->writer && w)
        snprintf(what, len, "%s (writer #%llu %s, taken at %s:%d)", l->k.name, (unsigned long long)w->task->id,
                 w->task->name, w->file ? w->file : "?", w->line);
    else if (l->writer)
        snprintf(what, len, "%s (writer returned)", l->k.name);
    else if (r)
        snprintf(what, len, "%s (%d readers, latest #%llu %s, taken at %s:%d)", l->k.name, l->readers,
                 (unsigned long long)r->task->id, r->task->name, r->file ? r->file : "?", r->line);
    else
        snprintf(what, len, "%s (%d readers, returned)", l->k.name, l->readers);
}

static int real__rw_lock(rt_rwlock *l, bool write, int64_t timeout_ns, const char *file, int line) {
    real__task *t = real__self();
    t->wfile = file;
    t->wline = line;
    real__hold *h = real__hold_get(t);
    h->lock = &l->k;
    h->write = write;
    h->file = file;
    h->line = line;
    struct timespec abs;
    bool bounded = timeout_ns != 0 && real__deadline(timeout_ns, &abs);
    int rc = RT_OK;
    pthread_mutex_lock(&l->mu);
    if (!l->head && !l->writer && (!write || l->readers == 0)) {
        real__rw_take(l, h);
        pthread_mutex_unlock(&l->mu);
        real__hold_own(t, h);
        return RT_OK;
    }
    if (timeout_ns == 0) {
        pthread_mutex_unlock(&l->mu);
        real__hold_put(t, h);
        return RT_ETIMEDOUT;
    }
    /* In the wait-for table from the instant it queues until it is
     * granted or times out: a cycle of waits without a deadline (a wait
     * for itself among them) aborts there. */
    bool tabled = real__lw_on();
    if (tabled) real__lw_wait(t, &l->k, write, bounded, file, line, &l->mu);
    char what[160];
    real__rw_what(l, what, sizeof what);
    real__task_block(t, write ? REAL__WLOCK : REAL__RLOCK, what);
    real__rw_waiter w = {.h = h, .tabled = tabled, .prev = l->tail};
    if (l->tail)
        l->tail->next = &w;
    else
        l->head = &w;
    l->tail = &w;
    while (!w.granted) {
        int e = bounded ? pthread_cond_timedwait(&l->cv, &l->mu, &abs) : pthread_cond_wait(&l->cv, &l->mu);
        if (e == ETIMEDOUT && !w.granted) {
            real__rw_unlink(l, &w);
            if (w.tabled) real__lw_leave(t);
            real__rw_grant(l); /* a writer that gave up may have held readers back */
            rc = RT_ETIMEDOUT;
            break;
        }
    }
    real__task_unblock(t);
    pthread_mutex_unlock(&l->mu);
    if (rc == RT_OK)
        real__hold_own(t, h);
    else
        real__hold_put(t, h);
    return rc;
}

int rt_rwlock_rlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return real__rw_lock(l, false, timeout_ns, file, line);
}

int rt_rwlock_wlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return real__rw_lock(l, true, timeout_ns, file, line);
}

void rt_rwlock_runlock(rt_rwlock *l) {
    real__task *t = real__self();
    real__hold *h = real__hold_find(t, &l->k, false);
    assert(h && "rt_rwlock_runlock: the calling task does not hold it for reading");
    pthread_mutex_lock(&l->mu);
    assert(l->readers > 0 && !l->writer);
    real__rw_drop(l, h);
    l->readers--;
    real__rw_grant(l);
    pthread_mutex_unlock(&l->mu);
    real__hold_put(t, h);
}

void rt_rwlock_wunlock(rt_rwlock *l) {
    real__task *t = real__self();
    pthread_mutex_lock(&l->mu);
    real__hold *h = l->whold;
    assert(l->writer && h && h->task == t && "rt_rwlock_wunlock: caller is not the writer");
    real__rw_drop(l, h);
    l->writer = false;
    l->whold = NULL;
    real__rw_grant(l);
    pthread_mutex_unlock(&l->mu);
    real__hold_put(t, h);
}

void real__rw_orphan(const real__lk *k, real__hold *h) {
    assert(k->kind == REAL__LK_RWLOCK);
    rt_rwlock *l = (rt_rwlock *)(void *)(uintptr_t)k; /* k is l's first member */
    pthread_mutex_lock(&l->mu);
    real__rw_drop(l, h);
    if (h->write) {
        assert(l->whold == h);
        l->whold = NULL; /* l stays held for writing: nobody can release it */
    }
    pthread_mutex_unlock(&l->mu);
}

void rt_rwlock_free(rt_rwlock *l) {
    if (!l) return;
    assert(!l->writer && l->readers == 0 && !l->head && "rt_rwlock_free: lock held or awaited");
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
