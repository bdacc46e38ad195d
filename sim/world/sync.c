/*
 * sync.c -- mutexes, wait groups and cancellation contexts in the simulator.
 *
 * Mutexes hand ownership to the first waiter in FIFO order and record their
 * owner for deadlock reports. A context's done channel is closed when it is
 * cancelled, its deadline passes or its parent is done; deadlines are
 * events in true time computed from the node's monotonic clock.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- mutexes --------------------------------------------------------------- */

rt_mutex *rt_mutex_new(const char *name) {
    rt_mutex *m = deja__node_alloc_as(deja__self_node(), sizeof *m, sizeof *m - sizeof m->acq);
    if (!m) return NULL;
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name ? name : "mutex");
    return m;
}

int rt_mutex_lock_at(rt_mutex *m, int64_t timeout_ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__task *self = deja__self();
    assert(m->owner != self && "mutex is not recursive");
    self->wfile = file;
    self->wline = line;
    if (!m->owner) {
        m->owner = self;
        m->acq.file = file;
        m->acq.line = line;
        m->acq.since = w->now;
        return RT_OK;
    }
    if (timeout_ns == 0) return RT_ETIMEDOUT;
    deja__tq_node x = {self, 0, NULL, NULL};
    deja__tq_push(&m->waiters, &x);
    self->wait_mutex = m;
    if (w->det) {
        self->internal_wait = timeout_ns < 0; /* deja__park counts it */
        deja__detect_mutex_wait(w, self, m, timeout_ns >= 0);
    }
    int r = deja__park(w, "mutex", m->name, deja__deadline(w, self->node, timeout_ns));
    self->wait_mutex = NULL;
    if (r != RT_OK) {
        deja__tq_unlink(&m->waiters, &x);
        return r;
    }
    assert(m->owner == self);
    return RT_OK;
}

void rt_mutex_unlock(rt_mutex *m) {
    assert(m->owner == deja__self() && "unlock by a task that does not own the mutex");
    deja__tq_node *x = deja__tq_pop(&m->waiters);
    m->owner = x ? x->task : NULL;
    if (x) { /* handed over: the waiter took it at its own call site */
        m->acq.file = x->task->wfile;
        m->acq.line = x->task->wline;
        m->acq.since = deja__w->now;
        deja__wake(deja__w, x->task, RT_OK);
    }
}

void rt_mutex_free(rt_mutex *m) {
    if (!m) return;
    assert(!m->owner && !m->waiters.head);
    deja__node_free(deja__self_node(), m);
}

/* ---- wait groups ----------------------------------------------------------- */

struct rt_wg {
    int count;
    deja__tq waiters;
};

rt_wg *rt_wg_new(void) {
    rt_wg *g = deja__node_alloc(deja__self_node(), sizeof *g);
    if (g) memset(g, 0, sizeof *g);
    return g;
}

void rt_wg_add(rt_wg *g, int delta) {
    g->count += delta;
    assert(g->count >= 0 && "wait group count below zero");
    if (g->count == 0) {
        deja__tq_node *x;
        while ((x = deja__tq_pop(&g->waiters))) deja__wake(deja__w, x->task, RT_OK);
    }
}

void rt_wg_done(rt_wg *g) { rt_wg_add(g, -1); }

int rt_wg_wait_at(rt_wg *g, int64_t timeout_ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__task *self = deja__self();
    self->wfile = file;
    self->wline = line;
    if (g->count == 0) return RT_OK;
    if (timeout_ns == 0) return RT_ETIMEDOUT;
    deja__tq_node x = {self, 0, NULL, NULL};
    deja__tq_push(&g->waiters, &x);
    if (w->det) self->internal_wait = timeout_ns < 0;
    int r = deja__park(w, "waitgroup", NULL, deja__deadline(w, self->node, timeout_ns));
    deja__tq_unlink(&g->waiters, &x);
    return r;
}

void rt_wg_free(rt_wg *g) {
    if (!g) return;
    assert(!g->waiters.head);
    deja__node_free(deja__self_node(), g);
}

/* ---- contexts -------------------------------------------------------------- */

typedef struct deja__deadline_rec {
    rt_ctx *ctx; /* NULL once the context is released */
    deja__node *node;
    uint32_t incarnation; /* a crash since makes the record stale */
} deja__deadline_rec;

struct rt_ctx {
    deja__owned own; /* creation site and creator, for the lost-cancel check */
    deja__node *node;
    rt_ctx *parent, *child, *prev, *next; /* children: a doubly linked list */
    int err;
    rt_chan *done;
    deja__deadline_rec *rec;
};

static void deja__ctx_cancel(rt_ctx *c, int err) {
    if (c->err) return;
    c->err = err;
    rt_chan_close(c->done);
    for (rt_ctx *k = c->child; k; k = k->next) deja__ctx_cancel(k, err);
}

rt_ctx *deja__ctx_new(deja__node *n, rt_ctx *parent) {
    rt_ctx *c = deja__node_alloc_as(n, sizeof *c, sizeof *c - sizeof c->own);
    if (!c) return NULL;
    memset(c, 0, sizeof *c);
    c->node = n;
    c->done = deja__chan_new(n, "ctx.done", 1, 0);
    if (c->done) deja__chan_mark_done(c->done);
    if (parent) {
        c->parent = parent;
        c->next = parent->child;
        if (parent->child) parent->child->prev = c;
        parent->child = c;
        if (parent->err) deja__ctx_cancel(c, parent->err);
    }
    return c;
}

rt_ctx *rt_ctx_with_cancel_at(rt_ctx *parent, const char *file, int line) {
    rt_ctx *c = deja__ctx_new(deja__self_node(), parent);
    if (c && deja__w->det) deja__owned_add(deja__w, &c->own, DEJA__OWN_CTX, "context", c->done, file, line);
    return c;
}

static void deja__ctx_deadline_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)w, (void)u;
    deja__deadline_rec *rec = arg;
    if (rec->node->incarnation != rec->incarnation) rec->ctx = NULL;
    if (rec->ctx && !drop) {
        rec->ctx->rec = NULL;
        rec->ctx->own.settled = true;
        deja__ctx_cancel(rec->ctx, RT_ETIMEDOUT);
    } else if (rec->ctx) {
        rec->ctx->rec = NULL;
    }
    free(rec);
}

rt_ctx *rt_ctx_with_timeout_at(rt_ctx *parent, int64_t timeout_ns, const char *file, int line) {
    deja_world *w = deja__w;
    rt_ctx *c = deja__ctx_new(deja__self_node(), parent);
    (void)file, (void)line; /* its deadline ends it: never a lost cancel */
    if (!c || c->err) return c;
    if (timeout_ns <= 0) {
        deja__ctx_cancel(c, RT_ETIMEDOUT);
        return c;
    }
    c->rec = malloc(sizeof *c->rec);
    assert(c->rec);
    c->rec->ctx = c;
    c->rec->node = c->node;
    c->rec->incarnation = c->node->incarnation;
    deja__schedule(w, deja__deadline(w, c->node, timeout_ns), deja__ctx_deadline_ev, c->rec, 0);
    return c;
}

void rt_ctx_cancel(rt_ctx *c) {
    c->own.settled = true;
    deja__ctx_cancel(c, RT_ECANCELED);
}
int rt_ctx_err(const rt_ctx *c) { return c->err; }
rt_chan *rt_ctx_done(rt_ctx *c) { return c->done; }

void rt_ctx_release(rt_ctx *c) {
    if (!c) return;
    deja__ctx_cancel(c, RT_ECANCELED);
    deja__owned_del(&c->own);
    if (c->rec) c->rec->ctx = NULL;
    for (rt_ctx *k = c->child; k; k = k->next) k->parent = NULL; /* orphans stay cancelled */
    if (c->parent) {
        if (c->prev)
            c->prev->next = c->next;
        else
            c->parent->child = c->next;
        if (c->next) c->next->prev = c->prev;
    }
    rt_chan_free(c->done);
    deja__node_free(c->node, c);
}
