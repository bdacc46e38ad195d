/*
 * map.c -- mapped regions of simulated nodes: rt_map, rt_unmap and
 * rt_map_advise over real host mappings, and the count of their touched
 * pages that the memory model adds to a node's resident size (see map.h
 * for when the count is taken).
 *
 * Each region is mmap(MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE) with
 * transparent huge pages turned off (MADV_NOHUGEPAGE), so reserving costs
 * nothing and the first read or write of a page makes exactly that page
 * resident on every host: mincore() then tells, page by page, what the node
 * has touched. The count depends only on what the node did, so it is as
 * deterministic as the node; the one outside influence would be the host
 * swapping those pages out (run deja where it does not swap). Regions belong
 * to the node: a crash unmaps them all (deja__map_free_all, from
 * deja__node_free_all).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "map.h"

struct deja__map {
    struct deja__map *next;
    unsigned char *addr;
    size_t len;      /* as given to rt_map */
    size_t span;     /* len rounded up to whole pages: what is mapped */
    int64_t touched; /* bytes at the last recount, for reports */
    char name[40];
};

/* The host's page size (configuration, not simulation state). */
static size_t deja__page(void) {
    static size_t pg;
    if (!pg) {
        long v = sysconf(_SC_PAGESIZE);
        pg = v > 0 ? (size_t)v : 4096;
    }
    return pg;
}

/* Touched bytes of one region: its pages mincore() reports resident. */
static int64_t deja__map_touched(const deja__map *m) {
    enum { CHUNK = 4096 }; /* pages per mincore call: a 4 KiB vector on the stack */
    unsigned char vec[CHUNK];
    size_t pg = deja__page(), pages = m->span / pg, n = 0;
    for (size_t i = 0; i < pages; i += CHUNK) {
        size_t k = pages - i < CHUNK ? pages - i : CHUNK;
        int rc = mincore(m->addr + i * pg, k * pg, vec);
        assert(rc == 0 && "mincore on a live region");
        (void)rc;
        for (size_t j = 0; j < k; j++) n += vec[j] & 1;
    }
    return (int64_t)(n * pg);
}

void deja__map_recount(deja__node *n) {
    int64_t total = 0;
    for (deja__map *m = n->maps; m; m = m->next) {
        m->touched = deja__map_touched(m);
        total += m->touched;
    }
    n->map_bytes = total;
}

int64_t deja__map_count(const deja__node *n) {
    int64_t total = 0;
    for (const deja__map *m = n->maps; m; m = m->next) total += deja__map_touched(m);
    return total;
}

void deja__map_free_all(deja__node *n) {
    while (n->maps) {
        deja__map *m = n->maps;
        n->maps = m->next;
        int rc = munmap(m->addr, m->span);
        assert(rc == 0);
        (void)rc;
        free(m);
    }
    n->map_bytes = 0;
}

void deja__map_report(const deja__node *n, FILE *f) {
    fprintf(f, "mapped regions of node %u: name touched_bytes mapped_bytes\n", n->id);
    for (const deja__map *m = n->maps; m; m = m->next)
        fprintf(f, "  %s %lld %zu\n", m->name, (long long)m->touched, m->len);
}

/* The region of n starting at p, or NULL; *prevp gets the link to it. */
static deja__map *deja__map_find(deja__node *n, const void *p, deja__map ***prevp) {
    for (deja__map **l = &n->maps; *l; l = &(*l)->next)
        if ((*l)->addr == p) {
            if (prevp) *prevp = l;
            return *l;
        }
    return NULL;
}

/* The periodic recount (every mem.map_check_ms while a region exists):
 * recounts every node that holds one and applies the memory limit to it. */
static void deja__map_tick_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)arg, (void)u;
    w->map_tick = false;
    if (drop) return;
    bool any = false;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        deja__node *n = w->nodes[i];
        if (!n->maps) continue;
        any = true;
        deja__map_recount(n);
        deja__mem_check(w, n);
    }
    if (any && !w->stopping && w->mem_map_check_ns > 0 && w->now + w->mem_map_check_ns <= w->duration) {
        w->map_tick = true;
        deja__schedule(w, w->now + w->mem_map_check_ns, deja__map_tick_ev, NULL, 0);
    }
}

/* After a map call of the running node: recount its regions, apply the
 * limit, and park the caller for good when that OOM-kills the node. */
static void deja__map_changed(deja_world *w, deja__node *n) {
    deja__map_recount(n);
    deja__mem_check(w, n);
    if (n->oom_pending) deja__park(w, "oom-kill", NULL, -1); /* the kill event ends this task */
}

void *rt_map(const char *name, size_t len) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    size_t pg = deja__page();
    if (len == 0 || len > SIZE_MAX - pg) return NULL;
    size_t span = (len + pg - 1) / pg * pg;
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return NULL;
    /* no transparent huge pages: one touch must make one page resident on
     * every host (fails harmlessly on kernels without THP) */
    (void)madvise(p, span, MADV_NOHUGEPAGE);
    deja__map *m = calloc(1, sizeof *m);
    assert(m);
    m->addr = p;
    m->len = len;
    m->span = span;
    snprintf(m->name, sizeof m->name, "%s", name ? name : "region");
    deja__map **tail = &n->maps; /* keep map order, for reports */
    while (*tail) tail = &(*tail)->next;
    *tail = m;
    char text[64];
    snprintf(text, sizeof text, "map %s", m->name);
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, (uint64_t)len, 0, text);
    if (!w->map_tick && w->mem_map_check_ns > 0 && !w->stopping) {
        w->map_tick = true;
        deja__schedule(w, w->now + w->mem_map_check_ns, deja__map_tick_ev, NULL, 0);
    }
    deja__map_changed(w, n);
    return p;
}

void rt_unmap(void *p, size_t len) {
    if (!p) return;
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    deja__map **link = NULL;
    deja__map *m = deja__map_find(n, p, &link);
    assert(m && "rt_unmap of a pointer rt_map did not return (or of another node's region)");
    assert(m->len == len && "rt_unmap with a length other than rt_map's");
    (void)len;
    *link = m->next;
    char text[64];
    snprintf(text, sizeof text, "unmap %s", m->name);
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, (uint64_t)m->len, 0, text);
    int rc = munmap(m->addr, m->span);
    assert(rc == 0);
    (void)rc;
    free(m);
    deja__map_changed(w, n);
}

int rt_map_advise(void *p, size_t off, size_t len, int advice) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    deja__map *m = p ? deja__map_find(n, p, NULL) : NULL;
    if (!m || advice != RT_MADV_DONTNEED || off > m->len || len > m->len - off) return RT_EINVAL;
    size_t pg = deja__page();
    size_t lo = (off + pg - 1) / pg * pg;
    size_t hi = off + len == m->len ? m->span : (off + len) / pg * pg;
    if (hi > lo) {
        int rc = madvise(m->addr + lo, hi - lo, MADV_DONTNEED);
        assert(rc == 0);
        (void)rc;
    }
    char text[64];
    snprintf(text, sizeof text, "dontneed %s", m->name);
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, (uint64_t)off, (uint64_t)len, text);
    deja__map_changed(w, n);
    return RT_OK;
}
