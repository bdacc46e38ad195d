/*
 * chan.c -- channels, select, cancellation contexts, wait groups and mutexes
 * of the production backend, on pthread primitives.
 *
 * Every channel, select and context operation runs under one process-wide
 * mutex G (a node is one process; contention is negligible next to network
 * and hashing). The design follows Go's runtime: a channel holds a ring
 * buffer and two queues of waiting "sudogs" (one per waiting task and case);
 * a task that cannot proceed enqueues a sudog per case and sleeps on its own
 * condition variable; whoever completes one of its cases copies the element,
 * records which case fired, unlinks all the task's other sudogs and signals
 * it. So an unbuffered send completes exactly when a receiver takes the
 * element, and a select performs exactly one case. Mutexes and wait groups
 * have their own pthread locks; a mutex records its owner's hold, and a
 * task that waits for it is in the wait-for table (lockwait.c) from the
 * instant it queues until it owns the mutex or times out.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "real_int.h"

static pthread_mutex_t real__G = PTHREAD_MUTEX_INITIALIZER;

void real__g_lock(void) { pthread_mutex_lock(&real__G); }
void real__g_unlock(void) { pthread_mutex_unlock(&real__G); }

/* One waiting case of one task on one channel queue. */
typedef struct real__sudog {
    real__task *t;
    rt_chan *ch;
    void *relem;       /* receive: where to copy to (may be NULL) */
    const void *selem; /* send: what to copy from */
    int idx;           /* case index within the task's wait */
    bool send;         /* queued on ch->sendq (else ch->recvq) */
    bool queued;
    struct real__sudog *prev, *next;
} real__sudog;

typedef struct real__q {
    real__sudog *head, *tail;
} real__q;

struct rt_chan {
    char name[48];
    size_t esz, cap;
    size_t head, count; /* ring buffer of cap elements */
    unsigned char *buf;
    bool closed;
    real__q recvq, sendq;
};

static void real__q_push(real__q *q, real__sudog *s) {
    assert(!s->queued);
    s->next = NULL;
    s->prev = q->tail;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    s->queued = true;
}

static void real__q_unlink(real__q *q, real__sudog *s) {
    assert(s->queued);
    if (s->prev)
        s->prev->next = s->next;
    else
        q->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->tail = s->prev;
    s->prev = s->next = NULL;
    s->queued = false;
}

/* Dequeues every sudog of t (G held). */
static void real__unqueue_all(real__task *t) {
    for (int i = 0; i < t->nsg; i++) {
        real__sudog *s = &t->sgs[i];
        if (!s->queued) continue;
        real__q_unlink(s->send ? &s->ch->sendq : &s->ch->recvq, s);
    }
}

/* Completes the wait of s's task with case s->idx and result (G held). */
static void real__fire(real__sudog *s, int result) {
    real__task *t = s->t;
    assert(t->fired < 0);
    t->fired = s->idx;
    t->result = result;
    real__unqueue_all(t);
    t->sgs = NULL;
    t->nsg = 0;
    pthread_cond_signal(&t->cv);
}

static unsigned char *real__slot(rt_chan *ch, size_t i) { return ch->buf + ((ch->head + i) % ch->cap) * ch->esz; }

rt_chan *rt_chan_new(const char *name, size_t elem_size, size_t cap) {
    assert(elem_size > 0);
    rt_chan *ch = calloc(1, sizeof *ch);
    if (!ch) return NULL;
    snprintf(ch->name, sizeof ch->name, "%s", name ? name : "chan");
    ch->esz = elem_size;
    ch->cap = cap;
    if (cap) {
        if (cap > SIZE_MAX / elem_size || !(ch->buf = malloc(cap * elem_size))) {
            free(ch);
            return NULL;
        }
    }
    return ch;
}

void real__chan_close_locked(rt_chan *ch) {
    assert(!ch->closed && "rt_chan_close: channel closed twice");
    ch->closed = true;
    while (ch->recvq.head) {
        real__sudog *s = ch->recvq.head;
        if (s->relem) memset(s->relem, 0, ch->esz);
        real__fire(s, RT_ECLOSED);
    }
    while (ch->sendq.head) real__fire(ch->sendq.head, RT_ECLOSED);
}

void rt_chan_close(rt_chan *ch) {
    assert(ch != NULL);
    real__g_lock();
    real__chan_close_locked(ch);
    real__g_unlock();
}

void rt_chan_free(rt_chan *ch) {
    if (!ch) return;
    real__g_lock();
    assert(!ch->recvq.head && !ch->sendq.head && "rt_chan_free: tasks still wait on the channel");
    real__g_unlock();
    free(ch->buf);
    free(ch);
}

size_t rt_chan_len(const rt_chan *ch) {
    real__g_lock();
    size_t n = ch->count;
    real__g_unlock();
    return n;
}

/* Tries to send elem now (G held): RT_OK, RT_ECLOSED, or 1 when it would block. */
static int real__try_send_locked(rt_chan *ch, const void *elem) {
    if (ch->closed) return RT_ECLOSED;
    if (ch->recvq.head) {
        assert(ch->count == 0);
        real__sudog *s = ch->recvq.head;
        if (s->relem) memcpy(s->relem, elem, ch->esz);
        real__fire(s, RT_OK);
        return RT_OK;
    }
    if (ch->count < ch->cap) {
        memcpy(real__slot(ch, ch->count), elem, ch->esz);
        ch->count++;
        return RT_OK;
    }
    return 1;
}

/* Tries to receive now (G held): RT_OK, RT_ECLOSED, or 1 when it would block. */
static int real__try_recv_locked(rt_chan *ch, void *elem) {
    if (ch->count > 0) {
        if (elem) memcpy(elem, real__slot(ch, 0), ch->esz);
        ch->head = (ch->head + 1) % ch->cap;
        ch->count--;
        if (ch->sendq.head) { /* a blocked sender moves into the freed slot */
            real__sudog *s = ch->sendq.head;
            memcpy(real__slot(ch, ch->count), s->selem, ch->esz);
            ch->count++;
            real__fire(s, RT_OK);
        }
        return RT_OK;
    }
    if (ch->sendq.head) { /* unbuffered: take straight from the sender */
        real__sudog *s = ch->sendq.head;
        if (elem) memcpy(elem, s->selem, ch->esz);
        real__fire(s, RT_OK);
        return RT_OK;
    }
    if (ch->closed) {
        if (elem) memset(elem, 0, ch->esz);
        return RT_ECLOSED;
    }
    return 1;
}

int real__chan_try_send(rt_chan *ch, const void *elem) {
    real__g_lock();
    int rc = real__try_send_locked(ch, elem);
    real__g_unlock();
    return rc == 1 ? RT_ETIMEDOUT : rc;
}

/* Sleeps (G held) until t's wait fires or the deadline passes. Returns the
 * fired case index, or RT_ETIMEDOUT after unqueueing every sudog. */
static int real__wait_locked(real__task *t, int64_t timeout_ns) {
    struct timespec abs;
    bool bounded = real__deadline(timeout_ns, &abs);
    while (t->fired < 0) {
        int rc = bounded ? pthread_cond_timedwait(&t->cv, &real__G, &abs) : pthread_cond_wait(&t->cv, &real__G);
        if (rc == ETIMEDOUT && t->fired < 0) {
            real__unqueue_all(t);
            t->sgs = NULL;
            t->nsg = 0;
            return RT_ETIMEDOUT;
        }
    }
    return t->fired;
}

/* Blocks on one channel operation (send when selem != NULL). */
static int real__chan_op(rt_chan *ch, void *relem, const void *selem, int64_t timeout_ns) {
    assert(ch != NULL);
    real__g_lock();
    int rc = selem ? real__try_send_locked(ch, selem) : real__try_recv_locked(ch, relem);
    if (rc != 1 || timeout_ns == 0) {
        real__g_unlock();
        return rc == 1 ? RT_ETIMEDOUT : rc;
    }
    real__task *t = real__self();
    real__sudog s = {.t = t, .ch = ch, .relem = relem, .selem = selem, .idx = 0, .send = selem != NULL};
    t->fired = -1;
    t->sgs = &s;
    t->nsg = 1;
    real__q_push(selem ? &ch->sendq : &ch->recvq, &s);
    real__task_block(t, selem ? REAL__CHAN_SEND : REAL__CHAN_RECV, ch->name);
    rc = real__wait_locked(t, timeout_ns);
    if (rc >= 0) rc = t->result;
    real__g_unlock();
    real__task_unblock(t);
    return rc;
}

/* Notes where the calling task is about to block, for dumps. */
static void real__site(const char *file, int line) {
    real__task *t = real__self();
    t->wfile = file;
    t->wline = line;
}

int rt_chan_send_at(rt_chan *ch, const void *elem, int64_t timeout_ns, const char *file, int line) {
    assert(elem != NULL);
    real__site(file, line);
    return real__chan_op(ch, NULL, elem, timeout_ns);
}

int rt_chan_recv_at(rt_chan *ch, void *elem, int64_t timeout_ns, const char *file, int line) {
    real__site(file, line);
    return real__chan_op(ch, elem, NULL, timeout_ns);
}

int rt_select_at(rt_case *cases, int n, int64_t timeout_ns, const char *file, int line) {
    assert(n >= 0 && (n == 0 || cases != NULL));
    real__site(file, line);
    real__g_lock();
    /* Pass 1: the lowest-index case that can proceed now wins. */
    for (int i = 0; i < n; i++) {
        rt_case *c = &cases[i];
        if (!c->ch) continue;
        assert(c->op == RT_RECV || c->op == RT_SEND);
        assert(c->op == RT_RECV || c->elem != NULL);
        int rc = c->op == RT_SEND ? real__try_send_locked(c->ch, c->elem) : real__try_recv_locked(c->ch, c->elem);
        if (rc != 1) {
            c->result = rc;
            real__g_unlock();
            return i;
        }
    }
    if (timeout_ns == 0) {
        real__g_unlock();
        return RT_ETIMEDOUT;
    }
    /* Pass 2: wait on every enabled case. */
    real__task *t = real__self();
    real__sudog local[8];
    real__sudog *sg = n <= 8 ? local : calloc((size_t)n, sizeof *sg);
    if (!sg) abort();
    char what[64] = "";
    size_t wl = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
        rt_case *c = &cases[i];
        if (!c->ch) continue;
        real__sudog *s = &sg[m++];
        memset(s, 0, sizeof *s);
        s->t = t;
        s->ch = c->ch;
        s->idx = i;
        if (c->op == RT_SEND) {
            s->send = true;
            s->selem = c->elem;
            real__q_push(&c->ch->sendq, s);
        } else {
            s->relem = c->elem;
            real__q_push(&c->ch->recvq, s);
        }
        if (wl < sizeof what - 1)
            wl += (size_t)snprintf(what + wl, sizeof what - wl, "%s%s%s", wl ? "," : "", c->op == RT_SEND ? "!" : "",
                                   c->ch->name);
        if (wl > sizeof what - 1) wl = sizeof what - 1;
    }
    t->fired = -1;
    t->sgs = sg;
    t->nsg = m;
    real__task_block(t, REAL__SELECT, what);
    int rc = real__wait_locked(t, timeout_ns);
    if (rc >= 0) cases[rc].result = t->result;
    real__g_unlock();
    real__task_unblock(t);
    if (sg != local) free(sg);
    return rc;
}

/* ---- cancellation contexts --------------------------------------------- */

struct rt_ctx {
    real__owned own; /* creation site and creator, for the lost-cancel check */
    rt_ctx *parent, *children, *sib_prev, *sib_next;
    rt_chan *done;
    int err;
    int64_t deadline; /* monotonic ns, or INT64_MAX */
    real__tm tm;      /* deadline timer (idx REAL__TM_OFF when none) */
};

/* Cancels ctx and its descendants with err (G held). */
static void real__ctx_cancel_locked(rt_ctx *ctx, int err) {
    if (ctx->err != RT_OK) return;
    ctx->err = err;
    real__chan_close_locked(ctx->done);
    for (rt_ctx *c = ctx->children; c; c = c->sib_next) real__ctx_cancel_locked(c, err);
}

static void real__ctx_deadline_cb(void *arg) {
    rt_ctx *ctx = arg;
    real__g_lock();
    real__ctx_cancel_locked(ctx, RT_ETIMEDOUT);
    real__g_unlock();
}

static rt_ctx *real__ctx_new(rt_ctx *parent, int64_t deadline) {
    rt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    ctx->done = rt_chan_new("ctx.done", 1, 0);
    if (!ctx->done) {
        free(ctx);
        return NULL;
    }
    ctx->tm.idx = REAL__TM_OFF;
    ctx->tm.cb = real__ctx_deadline_cb;
    ctx->tm.arg = ctx;
    ctx->deadline = deadline;
    real__g_lock();
    if (parent) {
        if (parent->deadline < ctx->deadline) ctx->deadline = parent->deadline;
        ctx->parent = parent;
        ctx->sib_next = parent->children;
        if (parent->children) parent->children->sib_prev = ctx;
        parent->children = ctx;
        if (parent->err != RT_OK) real__ctx_cancel_locked(ctx, parent->err);
    }
    real__g_unlock();
    return ctx;
}

rt_ctx *rt_ctx_with_cancel_at(rt_ctx *parent, const char *file, int line) {
    rt_ctx *ctx = real__ctx_new(parent, INT64_MAX);
    if (ctx) real__owned_add(&ctx->own, REAL__OWN_CTX, "context", file, line);
    return ctx;
}

rt_ctx *rt_ctx_with_timeout_at(rt_ctx *parent, int64_t timeout_ns, const char *file, int line) {
    (void)file, (void)line; /* its deadline ends it: never a lost cancel */
    int64_t now = real__mono();
    int64_t dl = timeout_ns < 0 ? now : (now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns);
    rt_ctx *ctx = real__ctx_new(parent, dl);
    if (!ctx) return NULL;
    if (timeout_ns <= 0) {
        real__g_lock();
        real__ctx_cancel_locked(ctx, RT_ETIMEDOUT);
        real__g_unlock();
    } else {
        real__tm_start(&ctx->tm, dl);
    }
    return ctx;
}

void rt_ctx_cancel(rt_ctx *ctx) {
    assert(ctx != NULL);
    ctx->own.settled = true;
    real__g_lock();
    real__ctx_cancel_locked(ctx, RT_ECANCELED);
    real__g_unlock();
}

int rt_ctx_err(const rt_ctx *ctx) {
    assert(ctx != NULL);
    real__g_lock();
    int err = ctx->err;
    real__g_unlock();
    /* The deadline may have passed a moment before the timer thread saw it. */
    if (err == RT_OK && ctx->deadline != INT64_MAX && real__mono() >= ctx->deadline) err = RT_ETIMEDOUT;
    return err;
}

rt_chan *rt_ctx_done(rt_ctx *ctx) {
    assert(ctx != NULL);
    return ctx->done;
}

void rt_ctx_release(rt_ctx *ctx) {
    if (!ctx) return;
    real__owned_del(&ctx->own);
    real__tm_stop(&ctx->tm); /* takes T: never nested inside G */
    real__g_lock();
    real__ctx_cancel_locked(ctx, RT_ECANCELED);
    if (ctx->children) {
        /* A bug of the program (children must be released first): detach
         * them so they stay valid (and cancelled) instead of dangling. */
        for (rt_ctx *c = ctx->children; c; c = c->sib_next) c->parent = NULL;
        fprintf(stderr, "deja-node: rt_ctx_release: context released before its children\n");
    }
    if (ctx->parent) {
        rt_ctx *p = ctx->parent;
        if (ctx->sib_prev)
            ctx->sib_prev->sib_next = ctx->sib_next;
        else
            p->children = ctx->sib_next;
        if (ctx->sib_next) ctx->sib_next->sib_prev = ctx->sib_prev;
    }
    assert(!ctx->done->recvq.head && "rt_ctx_release: a task still waits on rt_ctx_done");
    real__g_unlock();
    rt_chan_free(ctx->done);
    free(ctx);
}

/* ---- wait groups ------------------------------------------------------- */

struct rt_wg {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t count;
};

rt_wg *rt_wg_new(void) {
    rt_wg *wg = calloc(1, sizeof *wg);
    if (!wg) return NULL;
    pthread_mutex_init(&wg->mu, NULL);
    real__cond_init(&wg->cv);
    return wg;
}

void rt_wg_add(rt_wg *wg, int delta) {
    pthread_mutex_lock(&wg->mu);
    wg->count += delta;
    assert(wg->count >= 0 && "rt_wg_add: negative wait group counter");
    if (wg->count == 0) pthread_cond_broadcast(&wg->cv);
    pthread_mutex_unlock(&wg->mu);
}

void rt_wg_done(rt_wg *wg) { rt_wg_add(wg, -1); }

int rt_wg_wait_at(rt_wg *wg, int64_t timeout_ns, const char *file, int line) {
    real__site(file, line);
    struct timespec abs;
    bool bounded = real__deadline(timeout_ns, &abs);
    int rc = RT_OK;
    pthread_mutex_lock(&wg->mu);
    if (wg->count > 0) {
        if (timeout_ns == 0) {
            rc = RT_ETIMEDOUT;
        } else {
            real__task *t = real__self();
            real__task_block(t, REAL__WG, "waitgroup");
            while (wg->count > 0) {
                int e = bounded ? pthread_cond_timedwait(&wg->cv, &wg->mu, &abs) : pthread_cond_wait(&wg->cv, &wg->mu);
                if (e == ETIMEDOUT && wg->count > 0) {
                    rc = RT_ETIMEDOUT;
                    break;
                }
            }
            real__task_unblock(t);
        }
    }
    pthread_mutex_unlock(&wg->mu);
    return rc;
}

void rt_wg_free(rt_wg *wg) {
    if (!wg) return;
    pthread_cond_destroy(&wg->cv);
    pthread_mutex_destroy(&wg->mu);
    free(wg);
}

/* ---- mutexes ----------------------------------------------------------- */

struct rt_mutex {
    real__lk k; /* kind and name: first (lockwait.c) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    real__task *owner; /* &real__gone once its owner returned holding it */
    real__hold *hold;  /* the owner's hold (site, instant); NULL then */
    int waiters;
};

/* The owner of a mutex whose task returned holding it: it stays locked. */
static real__task real__gone = {.name = "(returned)", .file = "?"};

rt_mutex *rt_mutex_new(const char *name) {
    rt_mutex *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->k.kind = REAL__LK_MUTEX;
    pthread_mutex_init(&m->mu, NULL);
    real__cond_init(&m->cv);
    snprintf(m->k.name, sizeof m->k.name, "%s", name ? name : "mutex");
    return m;
}

int rt_mutex_lock_at(rt_mutex *m, int64_t timeout_ns, const char *file, int line) {
    real__task *t = real__self();
    t->wfile = file;
    t->wline = line;
    struct timespec abs;
    bool bounded = real__deadline(timeout_ns, &abs);
    real__hold *h = real__hold_get(t);
    h->lock = &m->k;
    h->write = true;
    h->file = file;
    h->line = line;
    int rc = RT_OK;
    pthread_mutex_lock(&m->mu);
    if (m->owner) {
        assert((!bounded || m->owner != t) && "rt_mutex_lock: the owner locks again with a timeout (self-deadlock)");
        if (timeout_ns == 0) {
            pthread_mutex_unlock(&m->mu);
            real__hold_put(t, h);
            return RT_ETIMEDOUT;
        }
        /* In the wait-for table until the wait ends: a cycle of waits
         * without a deadline (a relock among them) aborts there. */
        bool tabled = real__lw_on();
        if (tabled) real__lw_wait(t, &m->k, true, bounded, file, line, &m->mu);
        char what[160];
        if (m->hold)
            snprintf(what, sizeof what, "%s (owner #%llu %s, taken at %s:%d)", m->k.name,
                     (unsigned long long)m->owner->id, m->owner->name, m->hold->file ? m->hold->file : "?",
                     m->hold->line);
        else
            snprintf(what, sizeof what, "%s (owner returned)", m->k.name);
        real__task_block(t, REAL__MUTEX, what);
        m->waiters++;
        while (m->owner) {
            int e = bounded ? pthread_cond_timedwait(&m->cv, &m->mu, &abs) : pthread_cond_wait(&m->cv, &m->mu);
            if (e == ETIMEDOUT && m->owner) {
                rc = RT_ETIMEDOUT;
                break;
            }
        }
        m->waiters--;
        if (tabled) real__lw_leave(t);
        real__task_unblock(t);
    }
    if (rc == RT_OK) {
        h->since_ns = real__mono_coarse();
        m->owner = t;
        m->hold = h;
    }
    pthread_mutex_unlock(&m->mu);
    if (rc == RT_OK)
        real__hold_own(t, h);
    else
        real__hold_put(t, h);
    return rc;
}

void rt_mutex_unlock(rt_mutex *m) {
    real__task *t = real__self();
    pthread_mutex_lock(&m->mu);
    assert(m->owner == t && m->hold && "rt_mutex_unlock: caller is not the owner");
    real__hold *h = m->hold;
    m->owner = NULL;
    m->hold = NULL;
    if (m->waiters) pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    real__hold_put(t, h);
}

void real__mutex_orphan(const real__lk *k, real__hold *h) {
    assert(k->kind == REAL__LK_MUTEX);
    rt_mutex *m = (rt_mutex *)(void *)(uintptr_t)k; /* k is m's first member */
    pthread_mutex_lock(&m->mu);
    assert(m->hold == h);
    m->owner = &real__gone; /* m stays locked: nobody can release it */
    m->hold = NULL;
    pthread_mutex_unlock(&m->mu);
}

void rt_mutex_free(rt_mutex *m) {
    if (!m) return;
    assert(m->owner == NULL && m->waiters == 0 && "rt_mutex_free: mutex held or awaited");
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
