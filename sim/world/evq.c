/*
 * evq.c -- the simulator's event queue (see evq.h): the slow paths. New
 * instants (recycled with their arrays), growing an instant's array, and
 * dropping the earliest instant once it is empty. The heap of instants
 * moves once per instant, not per event.
 */
#include "evq.h"

#include <stdlib.h>
#include <string.h>

#define DEJA__EVQ_MIN_CAP 8 /* events in a new instant's array */

deja__evq *deja__evq_new(void) {
    deja__evq *q = calloc(1, sizeof *q);
    assert(q);
    q->hash_bits = 8;
    q->hash_mask = ((size_t)1 << q->hash_bits) - 1;
    q->hash = calloc(q->hash_mask + 1, sizeof *q->hash);
    assert(q->hash);
    return q;
}

static void deja__instant_free(deja__instant *in) {
    free(in->ev);
    free(in);
}

void deja__evq_free(deja__evq *q) {
    if (!q) return;
    for (size_t i = 0; i < q->n_inst; i++) deja__instant_free(q->heap[i].in);
    while (q->free_inst) {
        deja__instant *in = q->free_inst;
        q->free_inst = in->hnext;
        deja__instant_free(in);
    }
    free(q->heap);
    free(q->hash);
    free(q);
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

/* Gives in's array room for one more event: slides the pending events to
 * the front when at least half the array is spent, else doubles it. */
static void deja__instant_grow(deja__instant *in) {
    assert(in->len == in->cap);
    if (in->head > 0 && in->head >= in->len / 2) {
        memmove(in->ev, in->ev + in->head, (size_t)(in->len - in->head) * sizeof *in->ev);
        in->len -= in->head;
        in->head = 0;
        return;
    }
    assert(in->cap < UINT32_MAX / 2 && "too many events at one instant");
    uint32_t cap = in->cap ? 2 * in->cap : DEJA__EVQ_MIN_CAP;
    deja__qev *ev = aligned_alloc(64, (size_t)cap * sizeof *ev);
    assert(ev);
    if (in->len > in->head) memcpy(ev + in->head, in->ev + in->head, (size_t)(in->len - in->head) * sizeof *ev);
    free(in->ev);
    in->ev = ev;
    in->cap = cap;
}

/* The instant for time t, created (and put in the heap) when missing. */
static deja__instant *deja__instant_get(deja__evq *q, int64_t t) {
    if (q->last && q->last->t == t) return q->last;
    size_t b = deja__hash(q, t);
    for (deja__instant *in = q->hash[b]; in; in = in->hnext)
        if (in->t == t) return in;
    deja__instant *in = q->free_inst;
    if (in) {
        q->free_inst = in->hnext;
    } else {
        in = calloc(1, sizeof *in);
        assert(in);
    }
    in->t = t;
    in->head = in->len = 0;
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

void deja__evq_push_slow(deja__evq *q, int64_t t, deja__ev_fn fn, void *arg, uint64_t u) {
    deja__instant *in = deja__instant_get(q, t);
    q->last = in;
    if (in->len == in->cap) deja__instant_grow(in);
    in->ev[in->len++] = (deja__qev){fn, arg, u};
    q->len++;
}

void deja__evq_drop_first(deja__evq *q) {
    deja__instant *in = q->heap[0].in;
    assert(in->head == in->len);
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
