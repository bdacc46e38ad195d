/*
 * disk.h -- the simulator's virtual disk (internal to sim/).
 *
 * Each node owns one disk that outlives the node's crashes and restarts:
 * files in memory whose writes stay pending until synced. A crash applies
 * the crash model to every pending write (kept, dropped, or torn at sector
 * granularity) and closes every open handle. Faults (latent sector errors,
 * corrupted reads, misdirected writes, a full disk, failed fsync, latency)
 * are drawn from the world's "disk" stream and written to the trace.
 * The rt_file_* calls of rt.h are implemented over it for the running node.
 */
#ifndef DEJA_SIM_DISK_H
#define DEJA_SIM_DISK_H

#include <stdint.h>

#include "deja/deja.h"

typedef struct deja_disk deja_disk;

/* Fault and geometry settings, from the disk.* parameters. Probabilities are
 * in parts per million per operation; 0 turns a fault off. */
typedef struct deja_disk_cfg {
    int64_t sector_size;        /* disk.sector_bytes (default 512) */
    int64_t capacity;           /* disk.capacity_mb in bytes (0: unbounded) */
    uint32_t crash_keep_ppm;    /* disk.crash_keep_pct: an unsynced write survives whole */
    uint32_t crash_torn_ppm;    /* disk.crash_torn_pct: an unsynced write is torn */
    uint32_t latent_ppm;        /* disk.latent_pct: a write leaves a latent sector error */
    uint32_t corrupt_ppm;       /* disk.corrupt_read_pct: a read returns flipped bits */
    uint32_t misdirect_ppm;     /* disk.misdirect_pct: a write lands at the wrong offset */
    uint32_t fsync_fail_ppm;    /* disk.fsync_fail_pct: a sync fails with EIO */
    int64_t latency_ns;         /* disk.latency_us: per operation (0: none) */
    int64_t sync_ns;            /* disk.sync_us: more per sync (0: none) */
    int64_t sync_jitter_ns;     /* disk.sync_jitter_us: plus uniform [0, 2*this] per sync */
} deja_disk_cfg;

/* The disk.* parameters every scenario accepts (key NULL ends the list). */
extern const deja_param_def deja_disk_params[];

/* Reads the disk.* parameters of p into cfg: 0, or 2 naming the bad one. */
int deja_disk_config(const deja_params *p, deja_disk_cfg *cfg, char *err, size_t errlen);

struct deja_world;
/* A new, empty disk for node `node` of world w. */
deja_disk *deja_disk_new(struct deja_world *w, uint32_t node, const deja_disk_cfg *cfg);
void deja_disk_free(deja_disk *d);
/* Replaces the fault settings of d from now on (a scenario's liveness phase
 * turns faults off; tests switch one on for one operation). The sector size
 * must not change. */
void deja_disk_set_config(deja_disk *d, const deja_disk_cfg *cfg);
/* The disk of node `node` (NULL until it has one), and setting it (before
 * the run; the world frees it). For scenarios, oracles and tests, which
 * must not reach into internal.h. */
deja_disk *deja_node_disk(struct deja_world *w, uint32_t node);
void deja_node_set_disk(struct deja_world *w, uint32_t node, deja_disk *d);
/* Applies the crash model to every unsynced write and kills every handle
 * (calls on it fail with RT_EIO; rt_file_close frees it, or the disk does). */
void deja_disk_crash(deja_disk *d);
/* XXH3-64 over every file, in name order: its name, what reads see
 * (durable plus pending), what a crash would keep for certain (durable),
 * and its latent sector errors (the state a replay must reproduce byte for
 * byte; right after a crash the first two are equal). */
uint64_t deja_disk_digest(const deja_disk *d);
/* Operation counters, for benchmarks and summaries. */
uint64_t deja_disk_ops(const deja_disk *d);
uint64_t deja_disk_faults(const deja_disk *d);
/* Faults that damage data at rest (latent sectors, misdirected writes):
 * no amount of syncing protects a single copy from them. */
uint64_t deja_disk_media_faults(const deja_disk *d);

/* Forgets every SQLite connection of node `node` in the VFS registry
 * (vfs_rt.c): their memory went with the node's heap at a crash, or the
 * world is ending. */
void deja_vfs_forget_node(uint32_t node);

#endif /* DEJA_SIM_DISK_H */
