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

void *deja__node_alloc(deja__node *n, size_t size) { return deja__node_alloc_as(n, size, size); }

void *deja__node_alloc_as(deja__node *n, size_t size, size_t charged) {
    assert(charged <= size);
    deja__alloc *a = malloc(sizeof *a + size);
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
    free(a);
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
