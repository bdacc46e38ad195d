/*
 * disk.c -- the simulator's virtual disk: one per node, files in memory, a
 * crash model for unsynced writes and the storage faults real disks and
 * kernels produce; and the rt_file_* calls of rt.h over the running node's
 * disk.
 *
 * Each file keeps two images: `cur`, what reads see (the page cache: the
 * durable bytes with every write since applied), and `dur`, what survives a
 * crash (the medium). Between them sits the file's pending list: every
 * write and truncation since the last sync, in order, each with its own copy
 * of the data. A successful sync applies the pending list to `dur`; a crash
 * applies the crash model to it -- each pending write independently kept,
 * dropped, or torn (a random non-empty, proper subset of its sectors kept) --
 * then rebuilds `cur` from `dur`. Creating, renaming and deleting files are
 * durable at once (a journaled file system).
 *
 * Faults, each off by default, each drawn from the world's "disk" PRNG
 * stream only when its probability is non-zero (so turning one on never
 * shifts another model) and each written to the trace as a DEJA__TK_DISK
 * event: latent sector errors (a write leaves one of its sectors unreadable
 * until it is written again), corrupted reads (one bit flipped in the
 * caller's buffer, the disk unchanged), misdirected writes (the data lands a
 * whole number of sectors away, inside the file), a full disk (ENOSPC when
 * the files' sizes would pass the capacity), failed fsync (EIO; the file's
 * pending writes never reach the medium, though reads still see them, as on
 * Linux: a retried sync then succeeds without saving them), and latency (the
 * calling task parks for a fixed virtual time).
 *
 * A crash also kills every open handle: calls on it then fail with RT_EIO
 * and rt_file_close frees it (an SQLite connection that outlived the crash,
 * whose memory is not the node's heap, may still close its files); the disk
 * frees whatever is left. Latency applies to open/read/write/sync/truncate
 * on handles opened without RT_O_NOWAIT; delete, rename, exists, size and
 * close take no virtual time.
 *
 * No floating point: probabilities are parts per million. Nothing depends
 * on pointer values: files are kept sorted by name.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "internal.h"

#define DISK__NAME_MAX 255
#define DISK__FILE_MAGIC 0x646a6b66696c6521ull /* "djkfile!" */
#define DISK__PPM 1000000u

/* ---- structures ------------------------------------------------------------ */

/* A growable byte image of a file. */
typedef struct disk__buf {
    uint8_t *p;
    int64_t len, cap;
} disk__buf;

/* A pending (unsynced) operation: a write of len bytes at off, or, when len
 * is -1, a change of the file's size to off. */
typedef struct disk__op {
    struct disk__op *next;
    int64_t off;
    int64_t len;
    uint8_t data[];
} disk__op;

typedef struct disk__file {
    char *name;
    disk__buf cur;   /* what reads see */
    disk__buf dur;   /* what survives a crash */
    disk__op *pend_head, *pend_tail;
    size_t npend;
    int64_t *bad;    /* latent-error sector numbers, unsorted, no duplicates */
    size_t nbad, capbad;
    int nopen;       /* live handles */
    bool linked;     /* has a name in the directory (else: deleted, still open) */
    struct disk__file *orphan_next;
} disk__file;

/* A handle; `file` is NULL once a crash has killed it (every call then
 * fails with RT_EIO, and rt_file_close frees it). */
struct rt_file {
    uint64_t magic;
    deja_disk *disk;
    disk__file *file;
    int flags;
    struct rt_file *prev, *next; /* the disk's handle list */
};

struct deja_disk {
    deja_world *w;
    uint32_t node;
    deja_disk_cfg cfg;
    deja_prng *rng;     /* the world's "disk" stream */
    deja_prng *sync_rng; /* the world's "disk-sync" stream, once disk.sync_jitter_us draws */
    disk__file **files; /* linked files, sorted by name */
    size_t nfiles, capfiles;
    disk__file *orphans; /* deleted while open */
    rt_file handles;     /* sentinel of every handle, live or dead */
    int64_t used;        /* bytes: sum of every file's current size */
    uint64_t ops, faults;
    uint64_t media; /* faults that damage data at rest: latent sectors, misdirected writes */
};

/* ---- parameters ------------------------------------------------------------ */

const deja_param_def deja_disk_params[] = {
    {"disk.sector_bytes", "512", "sector size: the unit of torn writes, latent errors and misdirection (bytes, a power of two in [512, 65536])"},
    {"disk.capacity_mb", "0", "size of each node's disk; writes past it fail with ENOSPC (MiB, decimals allowed; 0: unbounded)"},
    {"disk.crash_keep_pct", "50", "at a crash, chance that an unsynced write survives whole (%)"},
    {"disk.crash_torn_pct", "0", "at a crash, chance that an unsynced write is torn: some of its sectors kept, others lost (%)"},
    {"disk.latent_pct", "0", "chance that a write leaves a latent sector error (reads fail with EIO until rewritten) (%)"},
    {"disk.corrupt_read_pct", "0", "chance that a read returns a flipped bit (the disk itself unchanged) (%)"},
    {"disk.misdirect_pct", "0", "chance that a write lands a whole number of sectors away from its offset (%)"},
    {"disk.fsync_fail_pct", "0", "chance that a sync fails with EIO, losing the file's unsynced writes (%)"},
    {"disk.latency_us", "0", "virtual time each file operation of node code takes (us; SQLite's calls take none)"},
    {"disk.sync_us", "0", "virtual time each sync takes on top of disk.latency_us (us; a slow fsync)"},
    {"disk.sync_jitter_us", "0", "each sync takes a uniform draw in [0, 2*this] more (us; an fsync whose latency varies)"},
    {NULL, NULL, NULL},
};

/* The value of key in p, or its default from deja_disk_params. */
static const char *disk__param(const deja_params *p, const char *key) {
    const char *v = p ? deja_params_get(p, key) : NULL;
    if (v) return v;
    for (const deja_param_def *d = deja_disk_params; d->key; d++)
        if (!strcmp(d->key, key)) return d->dflt;
    assert(!"unknown disk parameter");
    return "0";
}

/* Parses a percentage with up to 9 decimals into parts per million. */
static int disk__pct(const deja_params *p, const char *key, uint32_t *ppm, char *err, size_t errlen) {
    const char *v = disk__param(p, key);
    int64_t f9;
    if (deja_parse_fixed9(v, &f9) != 0 || f9 < 0 || f9 > 100 * (int64_t)1000000000) {
        snprintf(err, errlen, "parameter %s=%s: expected a percentage in [0, 100]", key, v);
        return 2;
    }
    *ppm = (uint32_t)(f9 / 100000); /* pct * 1e9 -> ppm = pct * 1e4 */
    return 0;
}

int deja_disk_config(const deja_params *p, deja_disk_cfg *cfg, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    int64_t sector, cap_f9, lat_us, sync_us, sync_jit_us;
    const char *v = disk__param(p, "disk.sector_bytes");
    if (deja_parse_i64(v, &sector) != 0 || sector < 512 || sector > 65536 || (sector & (sector - 1)) != 0) {
        snprintf(err, errlen, "parameter disk.sector_bytes=%s: expected a power of two in [512, 65536]", v);
        return 2;
    }
    v = disk__param(p, "disk.capacity_mb");
    if (deja_parse_fixed9(v, &cap_f9) != 0 || cap_f9 < 0 || cap_f9 > ((int64_t)1 << 30) * 1000000000) {
        snprintf(err, errlen, "parameter disk.capacity_mb=%s: expected a size in [0, %d] MiB", v, 1 << 30);
        return 2;
    }
    v = disk__param(p, "disk.latency_us");
    if (deja_parse_i64(v, &lat_us) != 0 || lat_us < 0 || lat_us > (int64_t)3600 * 1000000) {
        snprintf(err, errlen, "parameter disk.latency_us=%s: expected an integer in [0, 3600000000]", v);
        return 2;
    }
    v = disk__param(p, "disk.sync_us");
    if (deja_parse_i64(v, &sync_us) != 0 || sync_us < 0 || sync_us > (int64_t)3600 * 1000000) {
        snprintf(err, errlen, "parameter disk.sync_us=%s: expected an integer in [0, 3600000000]", v);
        return 2;
    }
    v = disk__param(p, "disk.sync_jitter_us");
    if (deja_parse_i64(v, &sync_jit_us) != 0 || sync_jit_us < 0 || sync_jit_us > (int64_t)3600 * 1000000) {
        snprintf(err, errlen, "parameter disk.sync_jitter_us=%s: expected an integer in [0, 3600000000]", v);
        return 2;
    }
    if (disk__pct(p, "disk.crash_keep_pct", &cfg->crash_keep_ppm, err, errlen) ||
        disk__pct(p, "disk.crash_torn_pct", &cfg->crash_torn_ppm, err, errlen) ||
        disk__pct(p, "disk.latent_pct", &cfg->latent_ppm, err, errlen) ||
        disk__pct(p, "disk.corrupt_read_pct", &cfg->corrupt_ppm, err, errlen) ||
        disk__pct(p, "disk.misdirect_pct", &cfg->misdirect_ppm, err, errlen) ||
        disk__pct(p, "disk.fsync_fail_pct", &cfg->fsync_fail_ppm, err, errlen))
        return 2;
    if (cfg->crash_keep_ppm + cfg->crash_torn_ppm > DISK__PPM) {
        snprintf(err, errlen, "parameters disk.crash_keep_pct=%s + disk.crash_torn_pct=%s: the sum must be <= 100",
                 disk__param(p, "disk.crash_keep_pct"), disk__param(p, "disk.crash_torn_pct"));
        return 2;
    }
    cfg->sector_size = sector;
    /* MiB (fixed point, 1e9) to bytes: f9 * 2^20 / 1e9 = f9 * 16384 / 15625000, split to avoid overflow */
    cfg->capacity = (cap_f9 / 15625000) * 16384 + ((cap_f9 % 15625000) * 16384) / 15625000;
    cfg->latency_ns = lat_us * 1000;
    cfg->sync_ns = sync_us * 1000;
    cfg->sync_jitter_ns = sync_jit_us * 1000;
    return 0;
}

/* ---- byte images ------------------------------------------------------------- */

/* Makes room for n bytes (contents beyond len are undefined). */
static void disk__reserve(disk__buf *b, int64_t n) {
    if (n <= b->cap) return;
    int64_t cap = b->cap ? b->cap : 4096;
    while (cap < n) cap *= 2;
    b->p = realloc(b->p, (size_t)cap);
    assert(b->p && "the virtual disk ran out of host memory");
    b->cap = cap;
}

/* Sets the size to n: a shrink drops the tail, a growth fills with zeros. */
static void disk__resize(disk__buf *b, int64_t n) {
    assert(n >= 0);
    if (n > b->len) {
        disk__reserve(b, n);
        memset(b->p + b->len, 0, (size_t)(n - b->len));
    }
    b->len = n;
}

/* Writes len bytes at off, growing (zero-filled) as needed. */
static void disk__put(disk__buf *b, int64_t off, const uint8_t *data, int64_t len) {
    assert(off >= 0 && len >= 0);
    if (off + len > b->len) disk__resize(b, off + len);
    memcpy(b->p + off, data, (size_t)len);
}

/* ---- files ------------------------------------------------------------------- */

static void disk__trace(deja_disk *d, uint64_t a, uint64_t b, const char *what, const char *name) {
    char text[2 * DISK__NAME_MAX + 48];
    snprintf(text, sizeof text, "%.32s %.520s", what, name);
    deja__trace(d->w, DEJA__TK_DISK, (int)d->node, a, b, text);
}

/* Traces a fault and counts it. */
static void disk__fault(deja_disk *d, uint64_t a, uint64_t b, const char *what, const char *name) {
    d->faults++;
    if (!strcmp(what, "latent") || !strcmp(what, "misdirect")) d->media++;
    disk__trace(d, a, b, what, name);
}

static void disk__pending_clear(disk__file *f) {
    for (disk__op *op = f->pend_head, *next; op; op = next) {
        next = op->next;
        free(op);
    }
    f->pend_head = f->pend_tail = NULL;
    f->npend = 0;
}

static void disk__pending_add(disk__file *f, int64_t off, const void *data, int64_t len) {
    disk__op *op = malloc(sizeof *op + (len > 0 ? (size_t)len : 0));
    assert(op);
    op->next = NULL;
    op->off = off;
    op->len = len;
    if (len > 0) memcpy(op->data, data, (size_t)len);
    if (f->pend_tail)
        f->pend_tail->next = op;
    else
        f->pend_head = op;
    f->pend_tail = op;
    f->npend++;
}

static void disk__file_free(disk__file *f) {
    disk__pending_clear(f);
    free(f->cur.p);
    free(f->dur.p);
    free(f->bad);
    free(f->name);
    free(f);
}

/* Index of the first linked file whose name is >= name. */
static size_t disk__lower(const deja_disk *d, const char *name) {
    size_t lo = 0, hi = d->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(d->files[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static disk__file *disk__find(const deja_disk *d, const char *name) {
    size_t i = disk__lower(d, name);
    return i < d->nfiles && !strcmp(d->files[i]->name, name) ? d->files[i] : NULL;
}

/* Links f under its name (which no linked file has). */
static void disk__link(deja_disk *d, disk__file *f) {
    size_t i = disk__lower(d, f->name);
    assert(i == d->nfiles || strcmp(d->files[i]->name, f->name) != 0);
    if (d->nfiles == d->capfiles) {
        d->capfiles = d->capfiles ? 2 * d->capfiles : 16;
        d->files = realloc(d->files, d->capfiles * sizeof *d->files);
        assert(d->files);
    }
    memmove(d->files + i + 1, d->files + i, (d->nfiles - i) * sizeof *d->files);
    d->files[i] = f;
    d->nfiles++;
    f->linked = true;
}

/* Removes f's name; frees it when no handle has it open. */
static void disk__unlink(deja_disk *d, disk__file *f) {
    size_t i = disk__lower(d, f->name);
    assert(i < d->nfiles && d->files[i] == f);
    memmove(d->files + i, d->files + i + 1, (d->nfiles - i - 1) * sizeof *d->files);
    d->nfiles--;
    f->linked = false;
    if (f->nopen > 0) {
        f->orphan_next = d->orphans;
        d->orphans = f;
    } else {
        d->used -= f->cur.len;
        disk__file_free(f);
    }
}

/* Frees an orphan (deleted while open) whose last handle went away. */
static void disk__orphan_free(deja_disk *d, disk__file *f) {
    assert(!f->linked && f->nopen == 0);
    for (disk__file **pp = &d->orphans; *pp; pp = &(*pp)->orphan_next)
        if (*pp == f) {
            *pp = f->orphan_next;
            d->used -= f->cur.len;
            disk__file_free(f);
            return;
        }
    assert(!"orphan not found");
}

/* ---- latent sector errors ----------------------------------------------------- */

/* Forgets the latent errors of sectors [first, last] (they were rewritten). */
static void disk__bad_clear(disk__file *f, int64_t first, int64_t last) {
    for (size_t i = 0; i < f->nbad;)
        if (f->bad[i] >= first && f->bad[i] <= last)
            f->bad[i] = f->bad[--f->nbad];
        else
            i++;
}

static void disk__bad_add(disk__file *f, int64_t sector) {
    for (size_t i = 0; i < f->nbad; i++)
        if (f->bad[i] == sector) return;
    if (f->nbad == f->capbad) {
        f->capbad = f->capbad ? 2 * f->capbad : 8;
        f->bad = realloc(f->bad, f->capbad * sizeof *f->bad);
        assert(f->bad);
    }
    f->bad[f->nbad++] = sector;
}

/* The lowest bad sector in [first, last], or -1. */
static int64_t disk__bad_hit(const disk__file *f, int64_t first, int64_t last) {
    int64_t hit = -1;
    for (size_t i = 0; i < f->nbad; i++)
        if (f->bad[i] >= first && f->bad[i] <= last && (hit < 0 || f->bad[i] < hit)) hit = f->bad[i];
    return hit;
}

/* ---- the disk ---------------------------------------------------------------- */

deja_disk *deja_disk_new(deja_world *w, uint32_t node, const deja_disk_cfg *cfg) {
    assert(cfg->sector_size > 0 && (cfg->sector_size & (cfg->sector_size - 1)) == 0);
    assert(cfg->crash_keep_ppm + cfg->crash_torn_ppm <= DISK__PPM);
    assert(cfg->capacity >= 0 && cfg->latency_ns >= 0);
    deja_disk *d = calloc(1, sizeof *d);
    assert(d);
    d->w = w;
    d->node = node;
    d->cfg = *cfg;
    d->rng = deja_world_stream(w, "disk");
    d->handles.next = d->handles.prev = &d->handles;
    return d;
}

void deja_disk_free(deja_disk *d) {
    if (!d) return;
    while (d->handles.next != &d->handles) {
        rt_file *h = d->handles.next;
        h->next->prev = h->prev;
        h->prev->next = h->next;
        h->magic = 0;
        free(h);
    }
    for (size_t i = 0; i < d->nfiles; i++) disk__file_free(d->files[i]);
    for (disk__file *f = d->orphans, *next; f; f = next) {
        next = f->orphan_next;
        disk__file_free(f);
    }
    free(d->files);
    free(d);
}

deja_disk *deja_node_disk(deja_world *w, uint32_t node) {
    assert(node < w->n_nodes);
    return w->nodes[node]->disk;
}

void deja_node_set_disk(deja_world *w, uint32_t node, deja_disk *d) {
    assert(node < w->n_nodes);
    deja__node *n = w->nodes[node];
    assert(!d || d->node == node);
    if (n->disk && n->disk != d) deja_disk_free(n->disk);
    n->disk = d;
}

void deja_disk_set_config(deja_disk *d, const deja_disk_cfg *cfg) {
    assert(cfg->sector_size == d->cfg.sector_size && "the sector size is fixed at creation");
    assert(cfg->crash_keep_ppm + cfg->crash_torn_ppm <= DISK__PPM);
    assert(cfg->capacity >= 0 && cfg->latency_ns >= 0);
    d->cfg = *cfg;
}

uint64_t deja_disk_ops(const deja_disk *d) { return d->ops; }
uint64_t deja_disk_faults(const deja_disk *d) { return d->faults; }
uint64_t deja_disk_media_faults(const deja_disk *d) { return d->media; }

uint64_t deja_node_media_faults(const deja_world *w, uint32_t node) {
    assert(node < w->n_nodes);
    return w->nodes[node]->disk ? w->nodes[node]->disk->media : 0;
}

uint64_t deja_disk_digest(const deja_disk *d) {
    XXH3_state_t *st = XXH3_createState();
    assert(st);
    XXH3_64bits_reset_withSeed(st, 0);
    for (size_t i = 0; i < d->nfiles; i++) {
        const disk__file *f = d->files[i];
        XXH3_64bits_update(st, f->name, strlen(f->name) + 1);
        int64_t lens[3] = {f->cur.len, f->dur.len, (int64_t)f->npend};
        XXH3_64bits_update(st, lens, sizeof lens);
        if (f->cur.len) XXH3_64bits_update(st, f->cur.p, (size_t)f->cur.len);
        if (f->dur.len) XXH3_64bits_update(st, f->dur.p, (size_t)f->dur.len);
        /* latent errors, order-independent */
        uint64_t bad = 0;
        for (size_t j = 0; j < f->nbad; j++) bad += XXH3_64bits(&f->bad[j], sizeof f->bad[j]);
        XXH3_64bits_update(st, &bad, sizeof bad);
    }
    uint64_t h = XXH3_64bits_digest(st);
    XXH3_freeState(st);
    return h;
}

/* ---- the crash model ------------------------------------------------------------ */

/* Applies the sectors of a torn write chosen by the disk stream to dur: a
 * random non-empty proper subset when the write spans two sectors or more,
 * all or nothing (even odds) when it lies in one. Returns the sectors kept. */
static int64_t disk__tear(deja_disk *d, disk__file *f, const disk__op *op) {
    const int64_t S = d->cfg.sector_size;
    int64_t first = op->off / S, last = (op->off + op->len - 1) / S, n = last - first + 1;
    uint8_t *keep = malloc((size_t)n);
    assert(keep);
    int64_t kept = 0;
    uint64_t bits = 0;
    for (int64_t i = 0; i < n; i++) {
        if (i % 64 == 0) bits = deja_prng_next(d->rng);
        keep[i] = (uint8_t)((bits >> (i % 64)) & 1);
        kept += keep[i];
    }
    if (n >= 2 && (kept == 0 || kept == n)) { /* torn means some, not all */
        int64_t flip = (int64_t)deja_prng_below(d->rng, (uint64_t)n);
        keep[flip] ^= 1;
        kept += keep[flip] ? 1 : -1;
    }
    assert(n == 1 || (kept > 0 && kept < n));
    for (int64_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        int64_t lo = (first + i) * S, hi = lo + S;
        if (lo < op->off) lo = op->off;
        if (hi > op->off + op->len) hi = op->off + op->len;
        disk__put(&f->dur, lo, op->data + (lo - op->off), hi - lo);
    }
    free(keep);
    return kept;
}

/* Applies the crash model to f's pending operations, then makes the page
 * cache (cur) what the medium (dur) now holds. */
static void disk__crash_file(deja_disk *d, disk__file *f) {
    const uint32_t keep = d->cfg.crash_keep_ppm, torn = d->cfg.crash_torn_ppm;
    for (const disk__op *op = f->pend_head; op; op = op->next) {
        /* one draw per operation, skipped when the outcome is certain */
        uint32_t u = 0;
        if (keep + torn == 0)
            u = DISK__PPM - 1; /* every unsynced operation is lost */
        else if (keep < DISK__PPM)
            u = (uint32_t)deja_prng_below(d->rng, DISK__PPM);
        if (u < keep) {
            if (op->len < 0)
                disk__resize(&f->dur, op->off);
            else
                disk__put(&f->dur, op->off, op->data, op->len);
            disk__trace(d, (uint64_t)op->off, (uint64_t)op->len, "crash-keep", f->name);
        } else if (u < keep + torn && op->len > 0) {
            int64_t kept = disk__tear(d, f, op);
            disk__fault(d, (uint64_t)op->off, (uint64_t)kept, "crash-torn", f->name);
        } else if (u < keep + torn) { /* a torn truncation: sizes change whole */
            disk__resize(&f->dur, op->off);
            disk__trace(d, (uint64_t)op->off, (uint64_t)op->len, "crash-keep", f->name);
        } else {
            disk__trace(d, (uint64_t)op->off, (uint64_t)op->len, "crash-drop", f->name);
        }
    }
    disk__pending_clear(f);
    d->used -= f->cur.len;
    disk__reserve(&f->cur, f->dur.len);
    if (f->dur.len) memcpy(f->cur.p, f->dur.p, (size_t)f->dur.len);
    f->cur.len = f->dur.len;
    d->used += f->cur.len;
    int64_t S = d->cfg.sector_size;
    disk__bad_clear(f, (f->cur.len + S - 1) / S, INT64_MAX); /* sectors past the end are gone */
}

void deja_disk_crash(deja_disk *d) {
    /* every handle dies: node code and SQLite never use them again (a zombie
     * SQLite connection may still close them; see rt_file_close) */
    for (rt_file *h = d->handles.next; h != &d->handles; h = h->next) {
        if (!h->file) continue;
        h->file->nopen--;
        assert(h->file->nopen >= 0);
        h->file = NULL;
    }
    /* deleted-while-open files vanish */
    for (disk__file *f = d->orphans, *next; f; f = next) {
        next = f->orphan_next;
        assert(f->nopen == 0);
        d->used -= f->cur.len;
        disk__file_free(f);
    }
    d->orphans = NULL;
    disk__trace(d, d->nfiles, 0, "crash", "-");
    for (size_t i = 0; i < d->nfiles; i++) disk__crash_file(d, d->files[i]);
    assert(d->used >= 0);
}

/* ---- the rt_file_* calls --------------------------------------------------------- */

/* The running node's disk, created with the default settings on first use
 * (scenarios create it at the start of a run from the disk.* parameters). */
static deja_disk *disk__self(void) {
    deja__node *n = deja__self_node();
    if (!n->disk) {
        deja_disk_cfg cfg;
        char err[160];
        int rc = deja_disk_config(NULL, &cfg, err, sizeof err);
        assert(rc == 0);
        (void)rc;
        n->disk = deja_disk_new(deja__w, n->id, &cfg);
    }
    return n->disk;
}

/* Charges the disk's latency (plus extra_ns) to the calling task, unless
 * the handle is RT_O_NOWAIT: it parks first, and the operation takes effect
 * when the call returns (a crash during the wait finds it not done). op is
 * a static string: it shows in task dumps. */
static void disk__latency(deja_disk *d, int flags, const char *op, int64_t extra_ns) {
    assert(extra_ns >= 0);
    if (d->cfg.latency_ns + extra_ns <= 0 || (flags & RT_O_NOWAIT)) return;
    deja_world *w = deja__w;
    assert(w && w->cur && w->cur->node->disk == d);
    deja__park(w, "disk", op, w->now + d->cfg.latency_ns + extra_ns);
}

/* True when name is a valid flat file name. */
static bool disk__name_ok(const char *name) {
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= DISK__NAME_MAX && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* A handle's live file, or NULL when a crash has killed it. */
static disk__file *disk__handle(rt_file *h) {
    assert(h && h->magic == DISK__FILE_MAGIC && "not an rt_file (or used after rt_file_close)");
    return h->file;
}

int rt_file_open(const char *path, int flags, rt_file **out) {
    *out = NULL;
    if (!disk__name_ok(path)) return RT_EINVAL;
    deja_disk *d = disk__self();
    disk__latency(d, flags, "open", 0);
    d->ops++;
    disk__file *f = disk__find(d, path);
    if (f && (flags & RT_O_CREATE) && (flags & RT_O_EXCL)) return RT_EEXIST;
    if (!f && !(flags & RT_O_CREATE)) return RT_ENOENT;
    if (!f) {
        f = calloc(1, sizeof *f);
        assert(f);
        f->name = strdup(path);
        assert(f->name);
        disk__link(d, f);
        disk__trace(d, (uint64_t)flags, 1, "create", path);
    } else {
        disk__trace(d, (uint64_t)flags, 0, "open", path);
    }
    rt_file *h = calloc(1, sizeof *h);
    assert(h);
    h->magic = DISK__FILE_MAGIC;
    h->disk = d;
    h->file = f;
    h->flags = flags;
    h->next = &d->handles;
    h->prev = d->handles.prev;
    d->handles.prev->next = h;
    d->handles.prev = h;
    f->nopen++;
    *out = h;
    return RT_OK;
}

int rt_file_read(rt_file *h, int64_t off, void *buf, size_t len, size_t *got) {
    *got = 0;
    if (!disk__handle(h)) return RT_EIO;
    if (off < 0) return RT_EINVAL;
    deja_disk *d = h->disk;
    disk__latency(d, h->flags, "read", 0);
    disk__file *f = h->file;
    d->ops++;
    if (len == 0 || off >= f->cur.len) return RT_OK;
    int64_t n = f->cur.len - off;
    if ((uint64_t)n > len) n = (int64_t)len;
    const int64_t S = d->cfg.sector_size;
    int64_t bad = disk__bad_hit(f, off / S, (off + n - 1) / S);
    if (bad >= 0) {
        disk__trace(d, (uint64_t)bad, (uint64_t)off, "read-eio", f->name);
        return RT_EIO;
    }
    memcpy(buf, f->cur.p + off, (size_t)n);
    if (deja_prng_chance_ppm(d->rng, d->cfg.corrupt_ppm)) {
        uint64_t at = deja_prng_below(d->rng, (uint64_t)n), bit = deja_prng_below(d->rng, 8);
        ((uint8_t *)buf)[at] ^= (uint8_t)(1u << bit);
        disk__fault(d, (uint64_t)off + at, bit, "corrupt-read", f->name);
    }
    *got = (size_t)n;
    return RT_OK;
}

/* Where a write of len bytes meant for off lands: off, or (a misdirected
 * write) another offset a whole number of sectors away that stays inside
 * max(file size, off + len). */
static int64_t disk__target(deja_disk *d, const disk__file *f, int64_t off, int64_t len) {
    if (!deja_prng_chance_ppm(d->rng, d->cfg.misdirect_ppm)) return off;
    const int64_t S = d->cfg.sector_size;
    int64_t limit = f->cur.len > off + len ? f->cur.len : off + len;
    int64_t r = off % S, slots = (limit - len - r) / S + 1; /* starts r, r+S, ... */
    if (slots < 2) return off;                               /* nowhere else to land */
    int64_t j = (int64_t)deja_prng_below(d->rng, (uint64_t)(slots - 1));
    if (j >= off / S) j++; /* skip the right slot */
    return r + j * S;
}

int rt_file_write(rt_file *h, int64_t off, const void *buf, size_t len) {
    if (!disk__handle(h)) return RT_EIO;
    if (off < 0 || (h->flags & RT_O_READONLY) || len > ((uint64_t)1 << 40)) return RT_EINVAL;
    deja_disk *d = h->disk;
    disk__latency(d, h->flags, "write", 0);
    disk__file *f = h->file;
    d->ops++;
    if (len == 0) return RT_OK;
    int64_t n = (int64_t)len, end = off + n;
    int64_t grow = end > f->cur.len ? end - f->cur.len : 0;
    if (d->cfg.capacity > 0 && d->used + grow > d->cfg.capacity) {
        disk__fault(d, (uint64_t)off, (uint64_t)n, "enospc", f->name);
        return RT_ENOSPC;
    }
    disk__trace(d, (uint64_t)off, (uint64_t)n, "write", f->name);
    int64_t at = disk__target(d, f, off, n);
    if (at != off) {
        disk__fault(d, (uint64_t)off, (uint64_t)at, "misdirect", f->name);
        if (end > f->cur.len) { /* the size grows as asked, with nothing there */
            disk__resize(&f->cur, end);
            disk__pending_add(f, end, NULL, -1);
        }
    }
    const int64_t S = d->cfg.sector_size;
    disk__bad_clear(f, at / S, (at + n - 1) / S);
    disk__put(&f->cur, at, buf, n);
    disk__pending_add(f, at, buf, n);
    d->used += grow;
    if (deja_prng_chance_ppm(d->rng, d->cfg.latent_ppm)) {
        int64_t first = at / S, last = (at + n - 1) / S;
        int64_t s = first + (int64_t)deja_prng_below(d->rng, (uint64_t)(last - first + 1));
        disk__bad_add(f, s);
        disk__fault(d, (uint64_t)s, 0, "latent", f->name);
    }
    return RT_OK;
}

int rt_file_sync(rt_file *h) {
    if (!disk__handle(h)) return RT_EIO;
    deja_disk *d = h->disk;
    int64_t extra = d->cfg.sync_ns;
    if (d->cfg.sync_jitter_ns > 0 && !(h->flags & RT_O_NOWAIT)) {
        /* its own stream, drawn only when on: runs without it keep their draws */
        if (d->sync_rng == NULL) d->sync_rng = deja_world_stream(d->w, "disk-sync");
        extra += (int64_t)deja_prng_below(d->sync_rng, (uint64_t)(2 * d->cfg.sync_jitter_ns + 1));
    }
    disk__latency(d, h->flags, "sync", extra);
    disk__file *f = h->file;
    d->ops++;
    if (deja_prng_chance_ppm(d->rng, d->cfg.fsync_fail_ppm)) {
        /* as Linux: the dirty pages are marked clean and their data never
         * reaches the medium; reads still see it until a crash */
        disk__fault(d, f->npend, 0, "fsync-fail", f->name);
        disk__pending_clear(f);
        return RT_EIO;
    }
    disk__trace(d, f->npend, 0, "sync", f->name);
    for (const disk__op *op = f->pend_head; op; op = op->next) {
        if (op->len < 0)
            disk__resize(&f->dur, op->off);
        else
            disk__put(&f->dur, op->off, op->data, op->len);
    }
    disk__pending_clear(f);
    return RT_OK;
}

int rt_file_truncate(rt_file *h, int64_t size) {
    if (!disk__handle(h)) return RT_EIO;
    if (size < 0 || (h->flags & RT_O_READONLY)) return RT_EINVAL;
    deja_disk *d = h->disk;
    disk__latency(d, h->flags, "truncate", 0);
    disk__file *f = h->file;
    d->ops++;
    int64_t grow = size - f->cur.len;
    if (grow > 0 && d->cfg.capacity > 0 && d->used + grow > d->cfg.capacity) {
        disk__fault(d, (uint64_t)size, 0, "enospc", f->name);
        return RT_ENOSPC;
    }
    disk__trace(d, (uint64_t)size, 0, "truncate", f->name);
    disk__resize(&f->cur, size);
    d->used += grow;
    disk__pending_add(f, size, NULL, -1);
    const int64_t S = d->cfg.sector_size;
    disk__bad_clear(f, (size + S - 1) / S, INT64_MAX);
    return RT_OK;
}

int64_t rt_file_size(rt_file *h) {
    disk__file *f = disk__handle(h);
    return f ? f->cur.len : RT_EIO;
}

int64_t rt_file_sector_size(rt_file *h) {
    assert(h && h->magic == DISK__FILE_MAGIC);
    return h->disk->cfg.sector_size;
}

/* Closes a handle; also frees one a crash has killed (no task needed). */
void rt_file_close(rt_file *h) {
    if (!h) return;
    disk__file *f = disk__handle(h);
    deja_disk *d = h->disk;
    h->next->prev = h->prev;
    h->prev->next = h->next;
    h->magic = 0;
    free(h);
    if (!f) return;
    f->nopen--;
    assert(f->nopen >= 0);
    if (!f->linked && f->nopen == 0) disk__orphan_free(d, f);
}

int rt_file_delete(const char *path) {
    if (!disk__name_ok(path)) return RT_EINVAL;
    deja_disk *d = disk__self();
    d->ops++;
    disk__file *f = disk__find(d, path);
    if (!f) return RT_ENOENT;
    disk__trace(d, 0, 0, "delete", path);
    disk__unlink(d, f);
    return RT_OK;
}

int rt_file_rename(const char *from, const char *to) {
    if (!disk__name_ok(from) || !disk__name_ok(to)) return RT_EINVAL;
    deja_disk *d = disk__self();
    d->ops++;
    disk__file *f = disk__find(d, from);
    if (!f) return RT_ENOENT;
    if (!strcmp(from, to)) return RT_OK;
    char text[2 * DISK__NAME_MAX + 8];
    snprintf(text, sizeof text, "%s -> %s", from, to);
    disk__trace(d, 0, 0, "rename", text);
    disk__file *old = disk__find(d, to);
    if (old) disk__unlink(d, old);
    /* unlink from the sorted array under the old name, relink under the new */
    size_t i = disk__lower(d, from);
    assert(d->files[i] == f);
    memmove(d->files + i, d->files + i + 1, (d->nfiles - i - 1) * sizeof *d->files);
    d->nfiles--;
    free(f->name);
    f->name = strdup(to);
    assert(f->name);
    disk__link(d, f);
    return RT_OK;
}

bool rt_file_exists(const char *path) {
    if (!disk__name_ok(path)) return false;
    return disk__find(disk__self(), path) != NULL;
}
