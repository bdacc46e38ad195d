/*
 * chan.c -- channels and select in the simulator.
 *
 * A channel is a ring buffer of fixed-size elements plus two FIFO queues of
 * waiters (blocked receivers and senders). A waiter lives on its task's
 * stack while the task is parked; a select parks one waiter per case, all
 * sharing one deja__sel, and the first case to fire wins: the others are
 * skipped by whoever meets them later and unlinked when the task resumes.
 * Handing an element to a waiting receiver copies it straight into the
 * receiver's buffer, so an unbuffered send completes only when taken.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEJA__WOULD_BLOCK 1
#define DEJA__FEW_CASES 4 /* select waiters kept on the stack */
/* A channel's header as a node's heap counts it: the model's figure, fixed
 * (memory timelines and OOM instants in pinned seeds depend on it), not the
 * header's size in this build. */
#define DEJA__CHAN_CHARGE 120

typedef struct deja__sel {
    int done;
    int fired;
    int result;
} deja__sel;

typedef struct deja__waiter {
    deja__task *task;
    deja__sel *sel;
    int index;
    void *elem;
    rt_chan *ch; /* non-NULL while linked in ch's queue */
    struct deja__waiter *prev, *next;
} deja__waiter;

/* A channel's header, then its elements. The fields every send and receive
 * reads come last, next to the elements: a receive from a buffered channel
 * touches 32 bytes and its element, which share one cache line three times
 * in four (blocks are 16-byte aligned), where a receive from a task's inbox
 * is often a cache miss: tens of thousands of tasks, each with its inbox. The
 * waiter queues (FIFO, by op: RT_RECV, RT_SEND) keep their heads there and
 * their tails with the rest, used only to park. */
struct rt_chan {
    char name[32];
    deja__node *node;
    deja__waiter *tail[2];   /* the waiter queues' last: [RT_RECV], [RT_SEND] */
    bool ext;                /* made by the world (inbox, timer, context): see deja__chan_external */
    bool done;               /* a context's done channel */
    bool closed;
    deja__waiter *head[2];   /* the waiter queues' first */
    uint32_t count, first;   /* buffered elements, from the one at first */
    uint32_t cap, elem_size;
};
_Static_assert((sizeof(deja__alloc) + offsetof(struct rt_chan, head[RT_SEND])) % 16 == 0 &&
                   offsetof(struct rt_chan, head[RT_SEND]) + 24 == sizeof(struct rt_chan),
               "a receive's fields and an 8-byte first element fill 32 bytes from a 16-byte boundary "
               "(after the node allocation's header)");
/* Where the fields that sends and receives read begin (ext is not one of
 * them, but closed is): a task's rx_warm. */
#define DEJA__MSG_FIELDS(ch) ((const void *)&(ch)->ext)
_Static_assert(sizeof(struct rt_chan) - offsetof(struct rt_chan, ext) + 8 == DEJA__CHAN_MSG_BYTES &&
                   offsetof(struct rt_chan, ext) < offsetof(struct rt_chan, closed),
               "a task's rx_warm spans the message path's fields and an 8-byte first element");

/* The elements, after the header. */
static inline unsigned char *deja__buf(rt_chan *ch) { return (unsigned char *)(ch + 1); }

/* ---- waiter queues --------------------------------------------------------- */

static void deja__wq_push(rt_chan *ch, int op, deja__waiter *wt) {
    assert(op == RT_RECV || op == RT_SEND);
    wt->ch = ch;
    wt->next = NULL;
    wt->prev = ch->tail[op];
    if (ch->tail[op])
        ch->tail[op]->next = wt;
    else
        ch->head[op] = wt;
    ch->tail[op] = wt;
}

static void deja__wq_unlink(rt_chan *ch, int op, deja__waiter *wt) {
    assert(wt->ch == ch);
    if (wt->prev)
        wt->prev->next = wt->next;
    else
        ch->head[op] = wt->next;
    if (wt->next)
        wt->next->prev = wt->prev;
    else
        ch->tail[op] = wt->prev;
    wt->ch = NULL;
    wt->prev = wt->next = NULL;
}

/* Unlinks and returns the first waiter of queue op whose select has not
 * fired yet. */
static deja__waiter *deja__wq_take(rt_chan *ch, int op) {
    deja__waiter *wt;
    while ((wt = ch->head[op])) {
        deja__wq_unlink(ch, op, wt);
        if (!wt->sel->done) return wt;
    }
    return NULL;
}

/* Marks the waiter's select as fired by its case and wakes its task. */
static void deja__complete(deja__waiter *wt, int result) {
    assert(!wt->sel->done);
    wt->sel->done = 1;
    wt->sel->fired = wt->index;
    wt->sel->result = result;
    deja_fiber_warm(&wt->task->fiber); /* it runs soon */
    deja__wake(deja__w, wt->task, RT_OK);
}

/* ---- the operations -------------------------------------------------------- */

/* The i-th buffered element (i < cap): no division on this path. */
static inline void *deja__slot(rt_chan *ch, size_t i) {
    size_t k = (size_t)ch->first + i;
    if (k >= ch->cap) k -= ch->cap;
    return deja__buf(ch) + k * ch->elem_size;
}

/* Copies one element; the common small sizes without a call. */
static inline void deja__copy(void *dst, const void *src, size_t size) {
    if (size == 8)
        memcpy(dst, src, 8);
    else if (size == 4)
        memcpy(dst, src, 4);
    else
        memcpy(dst, src, size);
}

/* Appends an element to the buffer (it has room). */
static inline void deja__push_last(rt_chan *ch, const void *elem) {
    assert(ch->count < ch->cap);
    deja__copy(deja__slot(ch, ch->count), elem, ch->elem_size);
    ch->count++;
}

/* Takes the buffer's first element (there is one) into elem, or drops it
 * when elem is NULL. */
static inline void deja__pop_first(rt_chan *ch, void *elem) {
    assert(ch->count > 0);
    if (elem) deja__copy(elem, deja__slot(ch, 0), ch->elem_size);
    if (++ch->first == ch->cap) ch->first = 0;
    ch->count--;
}

/* One attempt to send: RT_OK, RT_ECLOSED, or DEJA__WOULD_BLOCK. */
static int deja__try_send(rt_chan *ch, const void *elem) {
    if (ch->closed) return RT_ECLOSED;
    deja__waiter *r = deja__wq_take(ch, RT_RECV);
    if (r) {
        if (r->elem) deja__copy(r->elem, elem, ch->elem_size);
        deja__complete(r, RT_OK);
        return RT_OK;
    }
    if (ch->count < ch->cap) {
        deja__push_last(ch, elem);
        return RT_OK;
    }
    return DEJA__WOULD_BLOCK;
}

/* One attempt to receive: RT_OK, RT_ECLOSED, or DEJA__WOULD_BLOCK. */
static int deja__try_recv(rt_chan *ch, void *elem) {
    if (ch->count > 0) {
        deja__pop_first(ch, elem);
        deja__waiter *s = deja__wq_take(ch, RT_SEND);
        if (s) {
            deja__push_last(ch, s->elem);
            deja__complete(s, RT_OK);
        }
        return RT_OK;
    }
    deja__waiter *s = deja__wq_take(ch, RT_SEND);
    if (s) {
        if (elem) deja__copy(elem, s->elem, ch->elem_size);
        deja__complete(s, RT_OK);
        return RT_OK;
    }
    if (ch->closed) {
        if (elem) memset(elem, 0, ch->elem_size);
        return RT_ECLOSED;
    }
    return DEJA__WOULD_BLOCK;
}

rt_chan *deja__chan_new(deja__node *n, const char *name, size_t elem_size, size_t cap) {
    assert(elem_size > 0);
    if (elem_size > UINT32_MAX || cap > UINT32_MAX) return NULL;
    size_t bytes = sizeof(rt_chan) + elem_size * cap;
    rt_chan *ch = n ? deja__node_alloc_as(n, bytes, DEJA__CHAN_CHARGE + elem_size * cap) : malloc(bytes);
    if (!ch) return NULL;
    memset(ch, 0, sizeof *ch);
    snprintf(ch->name, sizeof ch->name, "%s", name ? name : "chan");
    ch->node = n;
    ch->ext = true;
    ch->elem_size = (uint32_t)elem_size;
    ch->cap = (uint32_t)cap;
    return ch;
}

rt_chan *rt_chan_new(const char *name, size_t elem_size, size_t cap) {
    rt_chan *ch = deja__chan_new(deja__self_node(), name, elem_size, cap);
    if (ch) ch->ext = false;
    return ch;
}

bool deja__chan_external(const rt_chan *ch) { return ch->ext; }
void deja__chan_mark_done(rt_chan *ch) { ch->done = true; }

void rt_chan_close(rt_chan *ch) {
    assert(!ch->closed && "channel closed twice");
    ch->closed = true;
    deja__waiter *wt;
    while ((wt = deja__wq_take(ch, RT_RECV))) {
        if (wt->elem) memset(wt->elem, 0, ch->elem_size);
        deja__complete(wt, RT_ECLOSED);
    }
    while ((wt = deja__wq_take(ch, RT_SEND))) deja__complete(wt, RT_ECLOSED);
}

int deja__chan_waiters(const rt_chan *ch) {
    int n = 0;
    for (deja__waiter *wt = ch->head[RT_RECV]; wt; wt = wt->next) n += !wt->sel->done;
    for (deja__waiter *wt = ch->head[RT_SEND]; wt; wt = wt->next) n += !wt->sel->done;
    return n;
}

void rt_chan_free(rt_chan *ch) {
    if (!ch) return;
    assert(deja__chan_waiters(ch) == 0 && "channel freed while tasks wait on it");
    if (ch->node)
        deja__node_free(ch->node, ch);
    else
        free(ch);
}

size_t rt_chan_len(const rt_chan *ch) { return ch->count; }

int deja__chan_offer(rt_chan *ch, const void *elem) {
    int r = deja__try_send(ch, elem);
    return r == DEJA__WOULD_BLOCK ? RT_ETIMEDOUT : r;
}

/* The waiter queue a select case parks in: RT_SEND, or RT_RECV for any
 * other op. */
static inline int deja__case_op(const rt_case *c) { return c->op == RT_SEND ? RT_SEND : RT_RECV; }

int rt_select_at(rt_case *cases, int n, int64_t timeout_ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__task *self = deja__self();
    assert(n >= 0 && n <= 64);
    self->wfile = file;
    self->wline = line;
    for (int i = 0; i < n; i++) {
        if (!cases[i].ch) continue;
        int r = cases[i].op == RT_SEND ? deja__try_send(cases[i].ch, cases[i].elem)
                                       : deja__try_recv(cases[i].ch, cases[i].elem);
        if (r != DEJA__WOULD_BLOCK) {
            cases[i].result = r;
            return i;
        }
    }
    if (timeout_ns == 0) return RT_ETIMEDOUT;
    /* the parked frame stays small (it is resumed from cold cache when
     * thousands of tasks wait): a few waiters on the stack, more on the heap */
    deja__waiter few[DEJA__FEW_CASES];
    deja__waiter *wts = n <= DEJA__FEW_CASES ? few : malloc((size_t)n * sizeof *wts);
    assert(wts);
    deja__sel sel = {0, -1, 0};
    const char *on = NULL;
    int armed = 0;
    for (int i = 0; i < n; i++) {
        if (!cases[i].ch) continue;
        wts[i] = (deja__waiter){self, &sel, i, cases[i].elem, NULL, NULL, NULL};
        deja__wq_push(cases[i].ch, deja__case_op(&cases[i]), &wts[i]);
        on = cases[i].ch->name;
        armed++;
    }
    if (w->det) { /* only the node's own tasks can end a wait on its own channels */
        bool internal = armed > 0 && timeout_ns < 0, cancellable = false;
        for (int i = 0; i < n; i++)
            if (cases[i].ch) {
                internal &= !cases[i].ch->ext;
                cancellable |= cases[i].ch->done;
            }
        self->internal_wait = internal;
        self->wait_cancellable = cancellable;
    }
    const char *kind = "select";
    if (armed == 1) {
        for (int i = 0; i < n; i++)
            if (cases[i].ch) kind = cases[i].op == RT_SEND ? "chan send" : "chan recv";
    } else {
        on = NULL;
    }
    deja__park(w, kind, on, deja__deadline(w, self->node, timeout_ns));
    for (int i = 0; i < n; i++) {
        if (!cases[i].ch || !wts[i].ch) continue;
        deja__wq_unlink(cases[i].ch, deja__case_op(&cases[i]), &wts[i]);
    }
    if (wts != few) free(wts);
    if (!sel.done) return RT_ETIMEDOUT;
    cases[sel.fired].result = sel.result;
    return sel.fired;
}

/* Parks the running task on ch until its send (op RT_SEND) or receive
 * completes or the deadline (true time, -1 for none) passes. Out of line,
 * and its caller's frame gone (a tail call): its frame, with the waiter in
 * it, is the only one a task parked here keeps (deja__park_begin and
 * deja__block add none), so the lines a parked task's resumption touches
 * are few. It makes no call before parking, so it keeps no register. */
__attribute__((noinline)) static int deja__chan_wait(rt_chan *ch, int op, void *elem, int64_t deadline) {
    deja_world *w = deja__w;
    deja__task *self = w->cur;
    struct {
        deja__waiter wt;
        deja__sel sel;
    } x = {{self, &x.sel, op, elem, NULL, NULL, NULL}, {0, -1, 0}};
    deja__wq_push(ch, op, &x.wt);
    if (w->det) { /* only the node's own tasks can end a wait on its own channels */
        self->internal_wait = deadline < 0 && !ch->ext;
        self->wait_cancellable = ch->done;
    }
    deja__park_begin(w, self, op == RT_SEND ? "chan send" : "chan recv", ch->name, deadline);
    /* from here on only the frame's own memory is read (the world again
     * from its global): no register is kept across the calls */
    deja__block(deja__w);
    assert(deja__w->cur->state == DEJA__T_RUNNING);
    ch = x.wt.ch;
    if (ch) deja__wq_unlink(ch, x.wt.index, &x.wt);
    return x.sel.done ? x.sel.result : RT_ETIMEDOUT;
}

/* A send or receive on one channel: rt_select of that single case, without
 * its loops over cases. On a NULL channel (a disabled case) it waits out
 * the timeout. Out of line: the sends and receives that complete at once
 * and wake no one do not come here (deja__send_now, deja__recv_now). */
__attribute__((noinline)) static int deja__chan_op(rt_chan *ch, int op, void *elem, int64_t timeout_ns,
                                                   const char *file, int line) {
    if (!ch) {
        rt_case c = {NULL, op, elem, 0};
        int i = rt_select_at(&c, 1, timeout_ns, file, line);
        return i < 0 ? i : c.result;
    }
    deja__task *self = deja__self();
    self->wfile = file;
    self->wline = line;
    int r = op == RT_SEND ? deja__try_send(ch, elem) : deja__try_recv(ch, elem);
    if (r != DEJA__WOULD_BLOCK) return r;
    if (timeout_ns == 0) return RT_ETIMEDOUT;
    return deja__chan_wait(ch, op, elem, deja__deadline(deja__w, self->node, timeout_ns));
}

/* The sends and receives of the message path: an element of 4 or 8 bytes
 * that goes into a buffer with room, or comes out of a buffer no sender
 * waits on, wakes no one and cannot block. These two do it inline without
 * a call: the rt_chan_send or rt_chan_recv that takes them keeps no frame
 * below its caller's, so it touches no stack line its caller does not. 1
 * when done, 0 when the operation takes the general path. */
static inline bool deja__small_elems(const rt_chan *ch) {
    return ch->elem_size == 8 || ch->elem_size == 4; /* then deja__copy makes no call */
}

static inline int deja__send_now(rt_chan *ch, const void *elem) {
    if (ch->closed || ch->head[RT_RECV] || ch->count == ch->cap || !deja__small_elems(ch)) return 0;
    deja__push_last(ch, elem);
    return 1;
}

static inline int deja__recv_now(rt_chan *ch, void *elem) {
    if (ch->count == 0 || ch->head[RT_SEND] || !deja__small_elems(ch)) return 0;
    deja__pop_first(ch, elem);
    return 1;
}

int rt_chan_send_at(rt_chan *ch, const void *elem, int64_t timeout_ns, const char *file, int line) {
    if (__builtin_expect(ch != NULL, 1) && deja__send_now(ch, elem)) return RT_OK;
    return deja__chan_op(ch, RT_SEND, (void *)elem, timeout_ns, file, line);
}

int rt_chan_recv_at(rt_chan *ch, void *elem, int64_t timeout_ns, const char *file, int line) {
    deja__task *self = deja__w->cur;
    if (__builtin_expect(self != NULL, 1)) self->rx_warm = ch ? DEJA__MSG_FIELDS(ch) : NULL;
    if (__builtin_expect(ch != NULL, 1) && deja__recv_now(ch, elem)) return RT_OK;
    return deja__chan_op(ch, RT_RECV, elem, timeout_ns, file, line);
}
