/*
 * rwlock.c -- reader-writer locks of the production backend, with the
 * simulator's policy (rt.h): one FIFO queue of waiters served in arrival
 * order, a writer alone or the run of readers at the head together, so
 * that writers are not starved by readers nor readers by writers.
 *
 * A lock is a pthread mutex, a monotonic condition variable and a queue of
 * waiter records that live on the waiting threads' stacks. A release marks
 * the waiters it serves as granted (the lock is theirs from that moment)
 * and wakes every waiter; each one checks its own record. The writer and
 * the latest reader are recorded (task and site) for task dumps.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "real_int.h"

typedef struct real__rw_waiter {
    struct real__rw_waiter *prev, *next;
    real__task *task;
    bool write, granted;
    const char *file;
    int line;
} real__rw_waiter;

/* Who took the lock, for dumps: copied, so it outlives the task. */
typedef struct real__rw_who {
    uint64_t id;
    char name[32];
    const char *file;
    int line;
} real__rw_who;

struct rt_rwlock {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int readers;
    real__task *writer;
    real__rw_who wwho, rwho; /* the writer; the latest reader */
    real__rw_waiter *head, *tail;
    char name[48];
};

rt_rwlock *rt_rwlock_new(const char *name) {
    rt_rwlock *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    pthread_mutex_init(&l->mu, NULL);
    real__cond_init(&l->cv);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "rwlock");
    return l;
}

/* Gives l to t (mu held). */
static void real__rw_take(rt_rwlock *l, real__task *t, bool write, const char *file, int line) {
    assert(!l->writer && (!write || l->readers == 0));
    real__rw_who *who = write ? &l->wwho : &l->rwho;
    who->id = t->id;
    snprintf(who->name, sizeof who->name, "%s", t->name);
    who->file = file;
    who->line = line;
    if (write)
        l->writer = t;
    else
        l->readers++;
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
        if (l->writer || (w->write && l->readers > 0)) break;
        real__rw_unlink(l, w);
        real__rw_take(l, w->task, w->write, w->file, w->line);
        w->granted = true;
        any = true;
        if (w->write) break;
    }
    if (any) pthread_cond_broadcast(&l->cv);
}

static int real__rw_lock(rt_rwlock *l, bool write, int64_t timeout_ns, const char *file, int line) {
    real__task *t = real__self();
    t->wfile = file;
    t->wline = line;
    struct timespec abs;
    bool bounded = real__deadline(timeout_ns, &abs);
    int rc = RT_OK;
    pthread_mutex_lock(&l->mu);
    if (!l->head && !l->writer && (!write || l->readers == 0)) {
        real__rw_take(l, t, write, file, line);
        pthread_mutex_unlock(&l->mu);
        return RT_OK;
    }
    if (timeout_ns == 0) {
        pthread_mutex_unlock(&l->mu);
        return RT_ETIMEDOUT;
    }
    assert((bounded || l->writer != t) && "rt_rwlock: the writer waits for itself without a timeout (self-deadlock)");
    char what[160];
    if (l->writer)
        snprintf(what, sizeof what, "%s (writer #%llu %s, taken at %s:%d)", l->name, (unsigned long long)l->wwho.id,
                 l->wwho.name, l->wwho.file ? l->wwho.file : "?", l->wwho.line);
    else
        snprintf(what, sizeof what, "%s (%d readers, latest #%llu %s, taken at %s:%d)", l->name, l->readers,
                 (unsigned long long)l->rwho.id, l->rwho.name, l->rwho.file ? l->rwho.file : "?", l->rwho.line);
    real__task_block(t, write ? REAL__WLOCK : REAL__RLOCK, what);
    real__rw_waiter w = {.task = t, .write = write, .file = file, .line = line, .prev = l->tail};
    if (l->tail)
        l->tail->next = &w;
    else
        l->head = &w;
    l->tail = &w;
    while (!w.granted) {
        int e = bounded ? pthread_cond_timedwait(&l->cv, &l->mu, &abs) : pthread_cond_wait(&l->cv, &l->mu);
        if (e == ETIMEDOUT && !w.granted) {
            real__rw_unlink(l, &w);
            real__rw_grant(l); /* a writer that gave up may have held readers back */
            rc = RT_ETIMEDOUT;
            break;
        }
    }
    real__task_unblock(t);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int rt_rwlock_rlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return real__rw_lock(l, false, timeout_ns, file, line);
}

int rt_rwlock_wlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return real__rw_lock(l, true, timeout_ns, file, line);
}

void rt_rwlock_runlock(rt_rwlock *l) {
    pthread_mutex_lock(&l->mu);
    assert(l->readers > 0 && "rt_rwlock_runlock: not held for reading");
    l->readers--;
    real__rw_grant(l);
    pthread_mutex_unlock(&l->mu);
}

void rt_rwlock_wunlock(rt_rwlock *l) {
    pthread_mutex_lock(&l->mu);
    assert(l->writer == real__self() && "rt_rwlock_wunlock: caller is not the writer");
    l->writer = NULL;
    real__rw_grant(l);
    pthread_mutex_unlock(&l->mu);
}

void rt_rwlock_free(rt_rwlock *l) {
    if (!l) return;
    assert(!l->writer && l->readers == 0 && !l->head && "rt_rwlock_free: lock held or awaited");
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
