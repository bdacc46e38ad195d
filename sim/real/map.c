/*
 * map.c -- mapped regions in the production backend: rt_map, rt_unmap and
 * rt_map_advise over mmap, munmap and madvise, with the contract of rt.h,
 * and the mapped-bytes figure of the status file (real__mapped_bytes).
 *
 * Regions are private anonymous mappings (MAP_NORESERVE: reserving costs
 * nothing; touched pages are what the kernel counts in the process's RSS
 * and what its OOM killer sees). A table of regions under its own lock M
 * (a leaf: nothing else is taken while it is held) remembers each region's
 * length, so that rt_unmap and rt_map_advise check their arguments as the
 * simulator does, RT_MADV_DONTNEED can include a region's partial last page
 * when the range reaches its end, and the status can report the bytes
 * mapped.
 *
 * (Reconstructed after an accidental overwrite; see the note of the memory
 * work. Same names, same behaviour as tests/test_real_prims.c expects.)
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "real_int.h"

typedef struct real__region {
    unsigned char *p;
    size_t len; /* as given to rt_map; len rounded up to pages is mapped */
} real__region;

static pthread_mutex_t real__M = PTHREAD_MUTEX_INITIALIZER;
static real__region *real__regions; /* under M */
static int real__nregions, real__regions_cap;
static int64_t real__mapped; /* sum of the regions' lengths, under M */

static size_t real__page(void) {
    long v = sysconf(_SC_PAGESIZE);
    return v > 0 ? (size_t)v : 4096;
}

/* The index of the region starting at p, or -1; M held. */
static int real__region_find(const void *p) {
    for (int i = 0; i < real__nregions; i++)
        if (real__regions[i].p == p) return i;
    return -1;
}

int64_t real__mapped_bytes(void) {
    pthread_mutex_lock(&real__M);
    int64_t v = real__mapped;
    pthread_mutex_unlock(&real__M);
    return v;
}

void *rt_map(const char *name, size_t len) {
    size_t page = real__page();
    if (len == 0 || len > SIZE_MAX - page) return NULL;
    size_t span = (len + page - 1) / page * page;
    void *p = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        rt_log(RT_LOG_WARN, "rt_map %s: cannot map %zu bytes", name ? name : "region", len);
        return NULL;
    }
    pthread_mutex_lock(&real__M);
    if (real__nregions == real__regions_cap) {
        int cap = real__regions_cap ? 2 * real__regions_cap : 16;
        real__region *r = realloc(real__regions, (size_t)cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&real__M);
            munmap(p, span);
            return NULL;
        }
        real__regions = r;
        real__regions_cap = cap;
    }
    real__regions[real__nregions++] = (real__region){p, len};
    real__mapped += (int64_t)len;
    pthread_mutex_unlock(&real__M);
    return p;
}

void rt_unmap(void *p, size_t len) {
    if (!p) return;
    pthread_mutex_lock(&real__M);
    int i = real__region_find(p);
    assert(i >= 0 && real__regions[i].len == len && "rt_unmap: not a region returned by rt_map");
    if (i < 0 || real__regions[i].len != len) { /* with NDEBUG: refuse rather than unmap a stranger */
        pthread_mutex_unlock(&real__M);
        rt_log(RT_LOG_ERROR, "rt_unmap: %p/%zu is not a region of this node; ignored", p, len);
        return;
    }
    real__regions[i] = real__regions[--real__nregions];
    real__mapped -= (int64_t)len;
    pthread_mutex_unlock(&real__M);
    size_t page = real__page();
    int rc = munmap(p, (len + page - 1) / page * page);
    assert(rc == 0);
    (void)rc;
}

int rt_map_advise(void *p, size_t off, size_t len, int advice) {
    if (!p || advice != RT_MADV_DONTNEED) return RT_EINVAL;
    pthread_mutex_lock(&real__M);
    int i = real__region_find(p);
    size_t rlen = i >= 0 ? real__regions[i].len : 0;
    pthread_mutex_unlock(&real__M);
    if (i < 0 || off > rlen || len > rlen - off) return RT_EINVAL;
    size_t page = real__page();
    size_t lo = (off + page - 1) / page * page;
    size_t hi = off + len == rlen ? (rlen + page - 1) / page * page : (off + len) / page * page;
    if (hi > lo && madvise((unsigned char *)p + lo, hi - lo, MADV_DONTNEED) != 0) return RT_EINVAL;
    return RT_OK;
}
