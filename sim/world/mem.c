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
#include <sys/mman.h>

#include "internal.h"
#include "map.h"

#define DEJA__MAGIC 0xde1a0a11c0ffee00ull

/* ---- small blocks ---------------------------------------------------------
 * Blocks of up to 1 KiB come in 16-byte size classes, carved from chunks
 * of 2 MiB; a freed one waits on its class's list for the next allocation
 * of that class. Blocks that must start a cache line (deja__cache_line:
 * task structs) have 64-byte classes and lists of their own. The host's
 * malloc and free cost more than all the rest of a simulated allocation;
 * the node's accounting is the same either way (what is charged, and
 * when). A chunk is one huge page where the host gives them
 * (MADV_HUGEPAGE): a world of 100,000 tasks visits its tasks' structs and
 * channels in turn, and with 4 KiB pages each visit would also miss the
 * TLB. Process-wide (one world runs at a time): when a world is freed,
 * after everything in it was, the lists are emptied and the first chunk
 * is kept for the next world (its pages stay mapped: a run after a run
 * does not fault them in again), the rest unmapped. Off under
 * AddressSanitizer, which must see every free to catch a use after it. */

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

#define DEJA__CACHE_CLASSES 64               /* 16-byte classes: blocks of up to 1 KiB */
#define DEJA__LINE_CLASSES 16                /* 64-byte classes: line blocks of up to 1 KiB */
#define DEJA__CHUNK_SIZE ((size_t)2 << 20)   /* a chunk, header included: one huge page */

typedef struct deja__free_block {
    struct deja__free_block *next;
} deja__free_block;

typedef struct deja__chunk {
    struct deja__chunk *next;
    size_t used;
    _Alignas(64) unsigned char data[DEJA__CHUNK_SIZE - 64];
} deja__chunk;
_Static_assert(sizeof(deja__chunk) == DEJA__CHUNK_SIZE, "a chunk is one huge page");

static deja__free_block *deja__cache[DEJA__CACHE_CLASSES + 1];
static deja__free_block *deja__cache_lines[DEJA__LINE_CLASSES + 1];
static deja__chunk *deja__chunks;    /* oldest first */
static deja__chunk *deja__chunk_cur; /* the one blocks are carved from (NULL: none yet) */

/* A new chunk, aligned to its size (so that it can be one huge page), or
 * NULL. */
static deja__chunk *deja__chunk_map(void) {
    size_t span = 2 * DEJA__CHUNK_SIZE;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uintptr_t a = ((uintptr_t)m + DEJA__CHUNK_SIZE - 1) & ~(uintptr_t)(DEJA__CHUNK_SIZE - 1);
    size_t lead = a - (uintptr_t)m;
    if (lead) munmap(m, lead);
    if (span - lead - DEJA__CHUNK_SIZE) munmap((char *)a + DEJA__CHUNK_SIZE, span - lead - DEJA__CHUNK_SIZE);
#ifdef MADV_HUGEPAGE
    madvise((void *)a, DEJA__CHUNK_SIZE, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
    deja__chunk *k = (deja__chunk *)a;
    k->next = NULL;
    k->used = 0;
    return k;
}

/* bytes carved from the current chunk, after skipping to a multiple of
 * align (16 or 64): a new chunk when the current one has no room left. */
static void *deja__carve(size_t bytes, size_t align) {
    deja__chunk *k = deja__chunk_cur;
    size_t at = k ? (k->used + align - 1) & ~(align - 1) : 0;
    if (k == NULL || at + bytes > sizeof k->data) {
        assert(k == NULL || k->next == NULL); /* blocks are carved from the newest chunk */
        deja__chunk *n = deja__chunk_map();
        if (n == NULL) return NULL;
        if (k != NULL)
            k->next = n;
        else
            deja__chunks = n;
        deja__chunk_cur = k = n;
        at = 0;
    }
    assert(at % align == 0 && at + bytes <= sizeof k->data);
    k->used = at + bytes;
    return k->data + at;
}

/* The class of a block of size bytes in granules of g bytes, classes up
 * to max (0: not cached, malloc's). */
static size_t deja__class(size_t size, size_t g, size_t max) {
    size_t c = size ? (size + g - 1) / g : 1;
    return DEJA__CACHE && c <= max ? c : 0;
}

/* A block of class c (granules of g bytes, g-aligned): from the class's
 * free list, else carved. */
static void *deja__take(deja__free_block **lists, size_t c, size_t g) {
    deja__free_block *b = lists[c];
    if (b != NULL) {
        lists[c] = b->next;
        return b;
    }
    return deja__carve(c * g, g);
}

/* Puts a block of class c back on its free list. */
static void deja__put(deja__free_block **lists, size_t c, void *p) {
    deja__free_block *b = p;
    b->next = lists[c];
    lists[c] = b;
}

void *deja__cache_alloc(size_t size) {
    size_t c = deja__class(size, 16, DEJA__CACHE_CLASSES);
    return c ? deja__take(deja__cache, c, 16) : malloc(size);
}

void deja__cache_free(void *p, size_t size) {
    if (!p) return;
    size_t c = deja__class(size, 16, DEJA__CACHE_CLASSES);
    if (c)
        deja__put(deja__cache, c, p);
    else
        free(p);
}

void *deja__cache_line(size_t size) {
    size_t c = deja__class(size, 64, DEJA__LINE_CLASSES);
    return c ? deja__take(deja__cache_lines, c, 64) : aligned_alloc(64, (size + 63) & ~(size_t)63);
}

void deja__cache_line_free(void *p, size_t size) {
    if (!p) return;
    assert((uintptr_t)p % 64 == 0);
    size_t c = deja__class(size, 64, DEJA__LINE_CLASSES);
    if (c)
        deja__put(deja__cache_lines, c, p);
    else
        free(p);
}

void deja__cache_release(void) {
    memset(deja__cache, 0, sizeof deja__cache);
    memset(deja__cache_lines, 0, sizeof deja__cache_lines);
    deja__chunk *first = deja__chunks; /* kept, emptied */
    if (first == NULL) return;
    while (first->next != NULL) {
        deja__chunk *k = first->next;
        first->next = k->next;
        munmap(k, DEJA__CHUNK_SIZE);
    }
    first->used = 0;
    deja__chunk_cur = first;
}

/* ---- accounted allocation ------------------------------------------------ */

void *deja__node_alloc(deja__node *n, size_t size) { return deja__node_alloc_as(n, size, size); }

void *deja__node_alloc_as(deja__node *n, size_t size, size_t charged) {
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
