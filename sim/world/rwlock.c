/*
 * rwlock.c -- reader-writer locks in the simulator.
 *
 * One FIFO queue of waiters per lock, served in arrival order: a writer
 * alone, or the run of readers at the head together (rt.h states the
 * policy). Every hold is a record linked in its lock and in its task, with
 * the site and the instant it was taken, so that the deadlock detector
 * (detect.c) can follow a waiter to every holder and the task dump can
 * name them. The records are the simulator's bookkeeping: allocated in the
 * node (a crash frees them with the lock) but charged nothing, so a run's
 * resident sizes and OOM instants do not depend on them.
 */
#include <assert.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

rt_rwlock *rt_rwlock_new(const char *name) {
    rt_rwlock *l = deja__node_alloc(deja__self_node(), sizeof *l);
    if (!l) return NULL;
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "rwlock");
    return l;
}

/* Gives l to task t (for writing when write) taken at file:line, now. */
static void deja__rw_take(deja_world *w, rt_rwlock *l, deja__task *t, bool write, const char *file, int line) {
    assert(!l->writer && (!write || l->readers == 0));
    deja__rw_hold *h = deja__node_alloc_as(t->node, sizeof *h, 0);
    assert(h && "out of memory for an rwlock hold");
    *h = (deja__rw_hold){.lock = l, .task = t, .task_id = t->id, .task_name = t->name, .task_file = t->file,
                         .task_line = t->line, .write = write, .file = file, .line = line, .since = w->now};
    h->lprev = l->holds_tail;
    if (l->holds_tail)
        l->holds_tail->lnext = h;
    else
        l->holds = h;
    l->holds_tail = h;
    h->tnext = t->rw_held;
    if (t->rw_held) t->rw_held->tprev = h;
    t->rw_held = h;
    if (write)
        l->writer = true;
    else
        l->readers++;
}

/* Unlinks and frees hold h of l. */
static void deja__rw_drop(rt_rwlock *l, deja__node *n, deja__rw_hold *h) {
    if (h->lprev)
        h->lprev->lnext = h->lnext;
    else
        l->holds = h->lnext;
    if (h->lnext)
        h->lnext->lprev = h->lprev;
    else
        l->holds_tail = h->lprev;
    deja__task *t = h->task;
    if (t) {
        if (h->tprev)
            h->tprev->tnext = h->tnext;
        else
            t->rw_held = h->tnext;
        if (h->tnext) h->tnext->tprev = h->tprev;
    }
    if (h->write) {
        l->writer = false;
    } else {
        l->readers--;
        assert(l->readers >= 0);
    }
    deja__node_free(n, h);
}

/* Serves the head of l's queue while it can be served: a writer when
 * nobody holds the lock, readers while no writer does. */
static void deja__rw_grant(deja_world *w, rt_rwlock *l) {
    deja__tq_node *x;
    while ((x = l->waiters.head)) {
        deja__task *t = x->task;
        if (l->writer || (t->wait_write && l->readers > 0)) break;
        deja__tq_unlink(&l->waiters, x);
        deja__rw_take(w, l, t, t->wait_write, t->wfile, t->wline); /* taken at its own call site */
        deja__wake(w, t, RT_OK);
        if (t->wait_write) break;
    }
}

static int deja__rw_lock(rt_rwlock *l, bool write, int64_t timeout_ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__task *self = deja__self();
    self->wfile = file;
    self->wline = line;
    if (!l->waiters.head && !l->writer && (!write || l->readers == 0)) {
        deja__rw_take(w, l, self, write, file, line);
        return RT_OK;
    }
    if (timeout_ns == 0) return RT_ETIMEDOUT;
    deja__tq_node x = {self, 0, NULL, NULL};
    deja__tq_push(&l->waiters, &x);
    self->wait_rw = l;
    self->wait_write = write;
    if (w->det) {
        self->internal_wait = timeout_ns < 0; /* deja__park counts it */
        deja__detect_rw_wait(w, self, timeout_ns >= 0);
    }
    int r = deja__park(w, write ? "rwlock write" : "rwlock read", l->name, deja__deadline(w, self->node, timeout_ns));
    self->wait_rw = NULL;
    if (r != RT_OK) {
        deja__tq_unlink(&l->waiters, &x);
        deja__rw_grant(w, l); /* a writer that gave up may have held readers back */
        return r;
    }
    assert(!x.linked);
    return RT_OK;
}

int rt_rwlock_rlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return deja__rw_lock(l, false, timeout_ns, file, line);
}

int rt_rwlock_wlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line) {
    return deja__rw_lock(l, true, timeout_ns, file, line);
}

/* Releases the calling task's latest hold of l of the given kind. */
static void deja__rw_unlock(rt_rwlock *l, bool write) {
    deja__task *self = deja__self();
    deja__rw_hold *h = self->rw_held;
    while (h && (h->lock != l || h->write != write)) h = h->tnext;
    assert(h && (write ? "rt_rwlock_wunlock by a task that does not hold it for writing"
                       : "rt_rwlock_runlock by a task that does not hold it for reading"));
    deja__rw_drop(l, self->node, h);
    deja__rw_grant(deja__w, l);
}

void rt_rwlock_runlock(rt_rwlock *l) { deja__rw_unlock(l, false); }
void rt_rwlock_wunlock(rt_rwlock *l) { deja__rw_unlock(l, true); }

void rt_rwlock_free(rt_rwlock *l) {
    if (!l) return;
    assert(!l->holds && !l->waiters.head && "rt_rwlock_free: lock held or awaited");
    deja__node_free(deja__self_node(), l);
}

void deja__rw_task_exit(deja__task *t) {
    for (deja__rw_hold *h = t->rw_held; h; h = h->tnext) h->task = NULL;
    t->rw_held = NULL;
}

void deja__rw_holders_desc(const rt_rwlock *l, const deja__task *t, FILE *f) {
    int ahead = 0;
    for (const deja__tq_node *x = l->waiters.head; x && x->task != t; x = x->next) ahead++;
    if (l->holds) {
        fprintf(f, "held for %s by", l->writer ? "writing" : "reading");
        int shown = 0;
        for (const deja__rw_hold *h = l->holds; h; h = h->lnext, shown++) {
            if (shown == 8) {
                fprintf(f, " and %d more", (l->writer ? 1 : l->readers) - shown);
                break;
            }
            fprintf(f, "%s task %" PRIu64 " '%s'%s (taken at %s:%d)", shown ? "," : "", h->task_id, h->task_name,
                    h->task ? "" : " (returned)", h->file ? h->file : "?", h->line);
        }
    } else {
        fprintf(f, "free");
    }
    if (ahead) fprintf(f, ", %d waiting ahead", ahead);
}
