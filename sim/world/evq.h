/*
 * evq.h -- the simulator's event queue (evq.c), private to the scheduler:
 * events in order of virtual time, then of scheduling, kept as one FIFO
 * per distinct instant.
 *
 * The events of one instant arrive in the order they are scheduled, so
 * appending to the instant's FIFO keeps them sorted, and
 * only the distinct instants need ordering among themselves (a binary heap
 * keyed by time, with a hash table from time to instant). Each instant's
 * FIFO is an array: when many tasks sleep to the same deadline, scheduling
 * one is an append to the instant used last and popping one an index
 * increment, and the events after the head can be looked at without
 * chasing pointers (the scheduler warms the tasks they will wake). The
 * fast paths (the instant used last, the earliest instant) are inline.
 */
#ifndef DEJA_SIM_EVQ_H
#define DEJA_SIM_EVQ_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* An event as stored: its time is its instant's, its rank among the
 * instant's events its place in the array. 24 bytes: when a hundred thousand tasks share a deadline,
 * the arrays stream through the cache, so every byte counts. */
typedef struct deja__qev {
    deja__ev_fn fn;
    void *arg;
    uint64_t u;
} deja__qev;

typedef struct deja__instant {
    int64_t t;
    deja__qev *ev;        /* the FIFO: ev[head .. len) are pending */
    uint32_t head, len, cap;
    struct deja__instant *hnext; /* hash chain; free list link */
} deja__instant;

typedef struct deja__slot {
    int64_t t;
    deja__instant *in;
} deja__slot;

struct deja__evq {
    deja__slot *heap; /* instants, a min-heap on t (times are distinct) */
    size_t n_inst, heap_cap;
    deja__instant **hash; /* chained, hash_mask + 1 buckets */
    size_t hash_mask;
    unsigned hash_bits;
    deja__instant *last;      /* the instant appended to last (a cache) */
    deja__instant *free_inst; /* recycled instants, each keeping its array */
    size_t len;               /* events queued */
};

deja__evq *deja__evq_new(void);
void deja__evq_free(deja__evq *q);
/* Appends an event (slow path of deja__evq_push: a new instant, or a full
 * array). Its fields are arguments, not a struct: no copy of one is built on
 * the caller's stack (the blocking paths' frames stay small). */
void deja__evq_push_slow(deja__evq *q, int64_t t, deja__ev_fn fn, void *arg, uint64_t u);
/* Removes the earliest instant, now empty (slow path of deja__evq_pop). */
void deja__evq_drop_first(deja__evq *q);

/* Queues fn(arg, u) at time t, after every event already queued at t,
 * when t is the instant appended to last and its array has room: 1, else
 * 0 (nothing queued). A leaf: it calls nothing. */
static inline int deja__evq_push_quick(deja__evq *q, int64_t t, deja__ev_fn fn, void *arg, uint64_t u) {
    deja__instant *in = q->last;
    if (!in || in->t != t || in->len >= in->cap) return 0;
    in->ev[in->len++] = (deja__qev){fn, arg, u};
    q->len++;
    return 1;
}

/* Queues fn(arg, u) at time t, after every event already queued at t. */
static inline void deja__evq_push(deja__evq *q, int64_t t, deja__ev_fn fn, void *arg, uint64_t u) {
    if (!deja__evq_push_quick(q, t, fn, arg, u)) deja__evq_push_slow(q, t, fn, arg, u);
}

/* The earliest event, left in the queue (NULL when it is empty); its time
 * in *t. */
static inline const deja__qev *deja__evq_peek(const deja__evq *q, int64_t *t) {
    if (q->n_inst == 0) return NULL;
    const deja__instant *in = q->heap[0].in;
    assert(in->head < in->len);
    *t = in->t;
    return &in->ev[in->head];
}

/* The event k places after the earliest one when it is at the same instant,
 * else NULL: a look ahead, to warm what it will touch. */
static inline const deja__qev *deja__evq_ahead(const deja__evq *q, uint32_t k) {
    if (q->n_inst == 0) return NULL;
    const deja__instant *in = q->heap[0].in;
    return in->head + k < in->len ? &in->ev[in->head + k] : NULL;
}

/* Removes and returns the earliest event (the queue must not be empty). */
static inline deja__event deja__evq_pop(deja__evq *q) {
    assert(q->n_inst > 0 && q->len > 0);
    deja__instant *in = q->heap[0].in;
    assert(in->head < in->len);
    const deja__qev *e = &in->ev[in->head++];
    deja__event ev = {in->t, e->fn, e->arg, e->u};
    q->len--;
    if (in->head == in->len) deja__evq_drop_first(q);
    return ev;
}

/* 1 and the earliest event's time in *t, or 0 when the queue is empty. */
static inline int deja__evq_next(const deja__evq *q, int64_t *t) {
    if (q->n_inst == 0) return 0;
    *t = q->heap[0].t;
    return 1;
}

static inline size_t deja__evq_len(const deja__evq *q) { return q->len; }

#endif /* DEJA_SIM_EVQ_H */
