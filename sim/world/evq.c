/*
 * evq.c -- the simulator's event queue: events in (virtual time, sequence)
 * order, kept as one FIFO per distinct instant.
 *
 * Sequence numbers only grow, so the events of one instant arrive in
 * sequence order: appending to the instant's FIFO keeps them sorted, and
 * only the distinct instants need ordering among themselves. They sit in a
 * binary heap keyed by time and are found by a hash table from time to
 * instant. When many tasks sleep to the same deadline, scheduling one is a
 * hash look-up (usually a hit on the instant used last) and an append, and
 * popping one an unlink: the heap moves once per instant, not per event.
 * Event records and instants come from slabs recycled through free lists.
 */
#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct deja__evnode {
    deja__event ev;
    struct deja__evnode *next;
} deja__evnode;

typedef struct deja__instant {
    int64_t t;
    deja__evnode *head, *tail;
    struct deja__instant *hnext; /* hash chain */
} deja__instant;

typedef struct deja__slot {
    int64_t t;
    deja__instant *in;
} deja__slot;

typedef struct deja__slab {
    struct deja__slab *next;
} deja__slab;

#define DEJA__SLAB_ITEMS 1024

struct deja__evq {
    deja__slot *heap; /* instants, a min-heap on t (times are distinct) */
    size_t n_inst, heap_cap;
    deja__instant **hash; /* chained, hash_mask + 1 buckets */
    size_t hash_mask;
    unsigned hash_bits;
    deja__instant *last; /* the instant appended to last (a cache) */
    deja__evnode *free_nodes;
    deja__instant *free_inst;
    deja__slab *slabs;
    size_t len; /* events queued */
};

deja__evq *deja__evq_new(void) {
    deja__evq *q = calloc(1, sizeof *q);
    assert(q);
    q->hash_bits = 8;
    q->hash_mask = ((size_t)1 << q->hash_bits) - 1;
    q->hash = calloc(q->hash_mask + 1, sizeof *q->hash);
    assert(q->hash);
    return q;
}

void deja__evq_free(deja__evq *q) {
    if (!q) return;
    while (q->slabs) {
        deja__slab *s = q->slabs;
        q->slabs = s->next;
        free(s);
    }
    free(q->heap);
    free(q->hash);
    free(q);
}

size_t deja__evq_len(const deja__evq *q) { return q->len; }

/* A fresh slab of n items of size sz, threaded onto a free list through
 * the pointer at offset link in each item; returns the first. */
static void *deja__slab_new(deja__evq *q, size_t sz, size_t link) {
    size_t hdr = (sizeof(deja__slab) + 15) & ~(size_t)15;
    deja__slab *s = malloc(hdr + sz * DEJA__SLAB_ITEMS);
    assert(s);
    s->next = q->slabs;
    q->slabs = s;
    char *base = (char *)s + hdr;
    for (size_t i = 0; i < DEJA__SLAB_ITEMS; i++) {
        void *nx = i + 1 < DEJA__SLAB_ITEMS ? base + (i + 1) * sz : NULL;
        memcpy(base + i * sz + link, &nx, sizeof nx);
    }
    return base;
}

static inline size_t deja__hash(const deja__evq *q, int64_t t) {
    return (size_t)(((uint64_t)t * 0x9E3779B97F4A7C15ull) >> (64 - q->hash_bits));
}

/* Doubles the hash table (load factor above 1). */
static void deja__rehash(deja__evq *q) {
    unsigned bits = q->hash_bits + 1;
    size_t mask = ((size_t)1 << bits) - 1;
    deja__instant **h = calloc(mask + 1, sizeof *h);
    assert(h);
    deja__instant **old = q->hash;
    size_t old_n = q->hash_mask + 1;
    q->hash = h;
    q->hash_bits = bits;
    q->hash_mask = mask;
    for (size_t i = 0; i < old_n; i++)
        for (deja__instant *in = old[i], *nx; in; in = nx) {
            nx = in->hnext;
            size_t b = deja__hash(q, in->t);
            in->hnext = h[b];
            h[b] = in;
        }
    free(old);
}

/* The instant for time t, created (and put in the heap) when missing. */
static deja__instant *deja__instant_get(deja__evq *q, int64_t t) {
    if (q->last && q->last->t == t) return q->last;
    size_t b = deja__hash(q, t);
    for (deja__instant *in = q->hash[b]; in; in = in->hnext)
        if (in->t == t) return in;
    if (!q->free_inst) q->free_inst = deja__slab_new(q, sizeof(deja__instant), offsetof(deja__instant, hnext));
    deja__instant *in = q->free_inst;
    q->free_inst = in->hnext;
    in->t = t;
    in->head = in->tail = NULL;
    in->hnext = q->hash[b];
    q->hash[b] = in;
    if (q->n_inst == q->heap_cap) {
        q->heap_cap = q->heap_cap ? 2 * q->heap_cap : 256;
        q->heap = realloc(q->heap, q->heap_cap * sizeof *q->heap);
        assert(q->heap);
    }
    size_t i = q->n_inst++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent].t < t) break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = (deja__slot){t, in};
    if (q->n_inst > q->hash_mask + 1) deja__rehash(q);
    return in;
}

void deja__evq_push(deja__evq *q, const deja__event *ev) {
    deja__instant *in = deja__instant_get(q, ev->t);
    q->last = in;
    if (!q->free_nodes) q->free_nodes = deja__slab_new(q, sizeof(deja__evnode), offsetof(deja__evnode, next));
    deja__evnode *nd = q->free_nodes;
    q->free_nodes = nd->next;
    nd->ev = *ev;
    nd->next = NULL;
    assert(!in->tail || in->tail->ev.seq < ev->seq);
    if (in->tail)
        in->tail->next = nd;
    else
        in->head = nd;
    in->tail = nd;
    q->len++;
}

int deja__evq_next(const deja__evq *q, int64_t *t) {
    if (q->n_inst == 0) return 0;
    *t = q->heap[0].t;
    return 1;
}

/* Removes the earliest instant (now empty) from the heap and the table. */
static void deja__instant_drop(deja__evq *q) {
    deja__instant *in = q->heap[0].in;
    assert(!in->head);
    deja__instant **pp = &q->hash[deja__hash(q, in->t)];
    while (*pp != in) pp = &(*pp)->hnext;
    *pp = in->hnext;
    if (q->last == in) q->last = NULL;
    in->hnext = q->free_inst;
    q->free_inst = in;
    deja__slot last = q->heap[--q->n_inst];
    size_t i = 0, n = q->n_inst;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        int64_t best = last.t;
        if (l < n && q->heap[l].t < best) m = l, best = q->heap[l].t;
        if (r < n && q->heap[r].t < best) m = r;
        if (m == i) break;
        q->heap[i] = q->heap[m];
        i = m;
    }
    if (n > 0) q->heap[i] = last;
}

const deja__event *deja__evq_peek(const deja__evq *q) {
    if (q->n_inst == 0) return NULL;
    return &q->heap[0].in->head->ev;
}

deja__event deja__evq_pop(deja__evq *q) {
    assert(q->n_inst > 0 && q->len > 0);
    deja__instant *in = q->heap[0].in;
    deja__evnode *nd = in->head;
    assert(nd);
    deja__event ev = nd->ev;
    in->head = nd->next;
    if (!in->head) {
        in->tail = NULL;
        deja__instant_drop(q);
    }
    nd->next = q->free_nodes;
    q->free_nodes = nd;
    q->len--;
    return ev;
}
