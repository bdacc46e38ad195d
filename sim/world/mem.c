/*
 * mem.c -- accounted allocation for simulated nodes.
 *
 * Every block a node allocates carries a header linking it into the node's
 * allocation list, so the node's heap size is known at every instant and
 * everything it still holds is freed when the world ends (a crashed or
 * leaking node leaves nothing behind in the host process). Mapped regions
 * (map.c) are the node's too: freeing everything unmaps them.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "map.h"

#define DEJA__MAGIC 0xde1a0a11c0ffee00ull

/* ---- small blocks ---------------------------------------------------------
 * Blocks of up to 1 KiB come in 16-byte size classes, carved from 64 KiB
 * chunks; a freed one waits on its class's list for the next allocation of
 * that class. The host's malloc and free cost more than all the rest of a
 * simulated allocation; the node's accounting is the same either way (what
 * is charged, and when). Process-wide (one world runs at a time): when a
 * world is freed, after everything in it was, the lists are emptied and the
 * first DEJA__CHUNKS_KEPT chunks are kept for the next world (their pages
 * stay mapped: a run after a run does not fault them in again), the rest
 * freed. Off under AddressSanitizer, which must see every free to catch a
 * use after it. */

#if defined(__SANITIZE_ADDRESS__)
#define DEJA__CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEJA__CACHE 0
#endif
#endif
#ifndef DEJA__CACHE
#define DEJA__CACHE 1
#endif

#define DEJA__CACHE_CLASSES 64       /* 16-byte classes: blocks of up to 1 KiB */
#define DEJA__CHUNK_BYTES (64 * 1024) /* carved into blocks */
#define DEJA__CHUNKS_KEPT 32          /* from one world to the next: 2 MiB */

typedef struct deja__free_block {
    struct deja__free_block *next;
} deja__free_block;

typedef struct deja__chunk {
    struct deja__chunk *next;
    size_t used;
    _Alignas(16) unsigned char data[DEJA__CHUNK_BYTES];
} deja__chunk;

static deja__free_block *deja__cache[DEJA__CACHE_CLASSES + 1];
static deja__chunk *deja__chunks;    /* oldest first */
static deja__chunk *deja__chunk_cur; /* the one blocks are carved from (NULL: none yet) */

/* The size class of a block of size bytes (0: not cached). */
static size_t deja__cache_class(size_t size) {
    size_t c = size ? (size + 15) / 16 : 1;
    return DEJA__CACHE && c <= DEJA__CACHE_CLASSES ? c : 0;
}

void *deja__cache_alloc(size_t size) {
    size_t c = deja__cache_class(size);
    if (c == 0) return malloc(size);
    deja__free_block *b = deja__cache[c];
    if (b != NULL) {
        deja__cache[c] = b->next;
        return b;
    }
    deja__chunk *k = deja__chunk_cur;
    if (k == NULL || DEJA__CHUNK_BYTES - k->used < c * 16) {
        if (k != NULL && k->next != NULL) { /* a kept one, empty */
            k = k->next;
            assert(k->used == 0);
        } else {
            deja__chunk *n = malloc(sizeof *n);
            if (n == NULL) return NULL;
            n->next = NULL;
            n->used = 0;
            if (k != NULL)
                k->next = n;
            else
                deja__chunks = n;
            k = n;
        }
        deja__chunk_cur = k;
    }
    void *p = k->data + k->used;
    k->used += c * 16;
    return p;
}

void deja__cache_free(void *p, size_t size) {
    if (!p) return;
    size_t c = deja__cache_class(size);
    if (c == 0) {
        free(p);
        return;
    }
    deja__free_block *b = p;
    b->next = deja__cache[c];
    deja__cache[c] = b;
}

void deja__cache_release(void) {
    memset(deja__cache, 0, sizeof deja__cache);
    deja__chunk **at = &deja__chunks;
    for (int kept = 0; *at != NULL && kept < DEJA__CHUNKS_KEPT; kept++) {
        (*at)->used = 0;
        at = &(*at)->next;
    }
    while (*at != NULL) {
        deja__chunk *k = *at;
        *at = k->next;
        free(k);
    }
    deja__chunk_cur = deja__chunks;
}

/* ---- accounted allocation ------------------------------------------------ */

void *deja__node_alloc(deja__node *n, size_t size) { return deja__node_alloc_as(n, size, size); }

void *deja__node_alloc_as(deja__node *n, size_t size, size_t charged) {
    assert(charged <= size);
    deja__alloc *a = deja__cache_alloc(sizeof *a + size);
    if (!a) return NULL;
    a->size = size;
    a->charged = charged;
    a->magic = DEJA__MAGIC;
    a->next = n->heap.next;
    a->prev = &n->heap;
    n->heap.next->prev = a;
    n->heap.next = a;
    n->heap_bytes += (int64_t)charged;
    if (n->heap_bytes > n->heap_peak) n->heap_peak = n->heap_bytes;
    return a + 1;
}

void deja__node_free(deja__node *n, void *p) {
    if (!p) return;
    deja__alloc *a = (deja__alloc *)p - 1;
    assert(a->magic == DEJA__MAGIC && "rt_free of a pointer rt_malloc did not return");
    a->magic = 0;
    a->prev->next = a->next;
    a->next->prev = a->prev;
    n->heap_bytes -= (int64_t)a->charged;
    assert(n->heap_bytes >= 0);
    deja__cache_free(a, sizeof *a + a->size);
}

void deja__node_free_all(deja__node *n) {
    while (n->heap.next != &n->heap) deja__node_free(n, n->heap.next + 1);
    deja__map_free_all(n);
}

void *rt_malloc(size_t size) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    void *p = deja__node_alloc(n, size);
    deja__mem_check(w, n);
    if (n->oom_pending) deja__park(w, "oom-kill", NULL, -1); /* the kill event ends this task */
    return p;
}

void *rt_calloc(size_t count, size_t n) {
    if (n && count > SIZE_MAX / n) return NULL;
    void *p = rt_malloc(count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void *rt_realloc(void *p, size_t n) {
    if (!p) return rt_malloc(n);
    deja__alloc *a = (deja__alloc *)p - 1;
    assert(a->magic == DEJA__MAGIC);
    void *q = rt_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, a->size < n ? a->size : n);
    rt_free(p);
    return q;
}

void rt_free(void *p) { deja__node_free(deja__self_node(), p); }
