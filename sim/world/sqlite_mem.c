/*
 * sqlite_mem.c -- SQLite's memory in the simulator.
 *
 * SQLite is configured (before it initialises) to allocate through these
 * methods: inside a simulated task the memory is charged to the running
 * node's heap, so a node's resident size includes its database caches, and
 * a crash wipes a connection's memory with the rest of the node's heap (the
 * dead connection is never closed: it is gone, as a killed process's is).
 * Outside any task (the sweep database, global initialisation) memory comes
 * from libc. No allocation here ever parks a task: SQLite must never switch
 * tasks (see vfs_rt.c), so the OOM check happens at the node's next rt call.
 */
#include <assert.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "internal.h"

#define DEJA__SQL_MAGIC 0x5117e11u

/* Sits before every block SQLite gets; 16 bytes keep 16-byte alignment. */
typedef struct deja__sql_hdr {
    uint32_t magic;
    uint32_t owner; /* node id + 1, or 0 for libc */
    uint64_t size;
} deja__sql_hdr;

static void *deja__sql_malloc(int n) {
    if (n <= 0) return NULL;
    deja_world *w = deja__w;
    deja__sql_hdr *h;
    uint32_t owner = 0;
    if (w && w->cur) {
        deja__node *node = w->cur->node;
        h = deja__node_alloc(node, sizeof *h + (size_t)n);
        owner = node->id + 1;
    } else {
        h = malloc(sizeof *h + (size_t)n);
    }
    if (!h) return NULL;
    h->magic = DEJA__SQL_MAGIC;
    h->owner = owner;
    h->size = (uint64_t)n;
    return h + 1;
}

static void deja__sql_free(void *p) {
    if (!p) return;
    deja__sql_hdr *h = (deja__sql_hdr *)p - 1;
    assert(h->magic == DEJA__SQL_MAGIC && "SQLite freed memory it did not allocate here");
    h->magic = 0;
    if (h->owner == 0) {
        free(h);
        return;
    }
    deja_world *w = deja__w;
    assert(w && h->owner - 1 < w->n_nodes);
    deja__node_free(w->nodes[h->owner - 1], h);
}

static int deja__sql_size(void *p) {
    if (!p) return 0;
    deja__sql_hdr *h = (deja__sql_hdr *)p - 1;
    assert(h->magic == DEJA__SQL_MAGIC);
    return (int)h->size;
}

/* Reallocation keeps the block with its owner (a node's block stays its). */
static void *deja__sql_realloc(void *p, int n) {
    if (!p) return deja__sql_malloc(n);
    deja__sql_hdr *old = (deja__sql_hdr *)p - 1;
    assert(old->magic == DEJA__SQL_MAGIC);
    deja__sql_hdr *h;
    if (old->owner == 0) {
        h = malloc(sizeof *h + (size_t)n);
    } else {
        deja_world *w = deja__w;
        h = deja__node_alloc(w->nodes[old->owner - 1], sizeof *h + (size_t)n);
    }
    if (!h) return NULL;
    *h = *old;
    h->size = (uint64_t)n;
    memcpy(h + 1, p, old->size < (uint64_t)n ? old->size : (size_t)n);
    deja__sql_free(p);
    return h + 1;
}

static int deja__sql_roundup(int n) { return (n + 15) & ~15; }
static int deja__sql_init(void *arg) {
    (void)arg;
    return SQLITE_OK;
}
static void deja__sql_shutdown(void *arg) { (void)arg; }

void deja_init(void) {
    static int done;
    if (done) return;
    done = 1;
    static const sqlite3_mem_methods methods = {
        deja__sql_malloc, deja__sql_free,  deja__sql_realloc,  deja__sql_size,
        deja__sql_roundup, deja__sql_init, deja__sql_shutdown, NULL,
    };
    /* fails (SQLITE_MISUSE) only if SQLite was initialised earlier in the
     * process: then node memory is simply not accounted */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
    sqlite3_initialize();
}
