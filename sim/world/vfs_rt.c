/*
 * vfs_rt.c -- the SQLite VFS "deja", written against rt.h and sqlite3.h
 * only, so that one file serves both backends: in the simulator SQLite runs
 * on the node's virtual disk (its crash model and faults), in production on
 * the node's data directory.
 *
 * What it maps:
 *   - files: xOpen/xRead/xWrite/xSync/xTruncate/xFileSize over rt_file_*;
 *     names are flat (xFullPathname keeps the last path component); rt
 *     errors become SQLite codes (RT_EIO: SQLITE_IOERR_READ/WRITE/FSYNC...,
 *     RT_ENOSPC: SQLITE_FULL, a short read: zero fill and
 *     SQLITE_IOERR_SHORT_READ);
 *   - randomness from rt_rand_u64, time from rt_wall_ns, and a sleep that
 *     returns at once;
 *   - locks: single-process. Every connection to a file of this node shares
 *     one record (an "inode") holding the lock levels, like the in-process
 *     half of SQLite's unix VFS; PRAGMA locking_mode=EXCLUSIVE (what the
 *     node uses) simply keeps the EXCLUSIVE level;
 *   - shared memory for the WAL index: regions in (libc) memory hanging off
 *     the inode, shared by the node's connections to the database, gone when
 *     the last one unmaps, so WAL works without exclusive locking mode too.
 *
 * The rule this file exists to keep: NO TASK SWITCH MAY HAPPEN INSIDE AN
 * SQLITE CALL. SQLite keeps process-global state (its PRNG, page-cache and
 * memory accounting, static mutexes) that every simulated node shares on the
 * one OS thread. If a task parked inside SQLite, another node's task would
 * run SQLite code while those structures are half-updated or their mutexes
 * held (SQLite's static mutexes are not recursive: a deadlock or worse), and
 * a crash of the parked node would drop its stack mid-operation. So every
 * file is opened with RT_O_NOWAIT (the simulator charges no disk latency to
 * it), xSleep does not sleep, and nothing here blocks on a channel or lock
 * of rt.h. A crash therefore always finds SQLite between two calls.
 *
 * After a crash of a simulated node, its connections' rt_file handles are
 * dead (every call fails with RT_EIO) while SQLite's own memory may survive
 * as a "zombie" connection. The records here notice dead handles when a new
 * connection opens the file or meets a lock held by one (rt_file_size < 0),
 * and release their locks and shared memory, so the restarted node can open
 * its database again (with a fresh WAL index: the zombie keeps its own
 * reference to the old one, which it may still write). A zombie may be
 * closed later, safely -- before its world is freed, which frees the dead
 * handles.
 *
 * Being the default VFS, "deja" also serves any later sqlite3_open_v2 with
 * a NULL VFS name in the process: code that opens real files next to the
 * simulator (the sweep results database) must name "unix".
 */
#include <assert.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/rt.h"

#define VFS__NAME_MAX 256 /* bytes, with the terminating NUL */
#ifndef VFS__ZNAME
#define VFS__ZNAME "deja" /* the name SQLite knows it by (a test builds another) */
#endif

typedef struct vfs__inode vfs__inode;

/* The shared memory (WAL index) of one database: regions of libc memory,
 * freed when the last connection that mapped them lets go. A connection
 * detached after a crash keeps its reference (SQLite still holds pointers
 * into the regions and writes them if the zombie is ever closed), while the
 * inode forgets it, so that the next connection starts a fresh index. */
typedef struct vfs__shm {
    int refs; /* connections that mapped it, live or detached */
    int nregion, szregion;
    void **regions;
} vfs__shm;

/* One open file of one SQLite connection (libc memory: it must survive a
 * simulated crash that wipes the node's heap, see the top of the file). */
typedef struct vfs__conn {
    rt_file *fh;
    vfs__inode *ino;               /* NULL once detached (its handle died) */
    int lock;                      /* SQLITE_LOCK_* held */
    vfs__shm *shm;                 /* the shared memory it mapped, or NULL */
    uint16_t shm_shared, shm_excl; /* shm lock slots held, one bit each */
    bool delete_on_close;
    char name[VFS__NAME_MAX];
    struct vfs__conn *next; /* the inode's connections */
} vfs__conn;

/* What every connection to one file of one node shares. */
struct vfs__inode {
    uint32_t node;
    char name[VFS__NAME_MAX];
    vfs__conn *conns;
    int nshared;       /* connections holding SHARED or more */
    vfs__conn *writer; /* the holder of RESERVED, PENDING or EXCLUSIVE */
    /* shared memory (the WAL index) and its locks */
    vfs__shm *shm;     /* NULL until mapped, and again once no live user is left */
    int shm_users;     /* live connections that mapped it */
    int shm_nshared[SQLITE_SHM_NLOCK];
    vfs__conn *shm_excl[SQLITE_SHM_NLOCK];
    vfs__inode *next;
};

/* Every inode of the process, under vfs__lock(). */
static vfs__inode *vfs__inodes;

typedef struct vfs__file {
    sqlite3_file base;
    vfs__conn *c;
} vfs__file;

/* The registry's mutex: SQLite's static mutex for application VFSes. In the
 * simulator it is never contended (one thread, no switch while held); in
 * production it serialises the backend's threads. */
static void vfs__lock(void) { sqlite3_mutex_enter(sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_VFS3)); }
static void vfs__unlock(void) { sqlite3_mutex_leave(sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_VFS3)); }

/* The last component of a path: the flat name on the node's disk. */
static const char *vfs__base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- the registry (callers hold vfs__lock) ----------------------------------- */

/* Drops c's reference to the shared memory it mapped (freed with the last). */
static void vfs__shm_release(vfs__conn *c) {
    vfs__shm *shm = c->shm;
    if (!shm) return;
    c->shm = NULL;
    if (--shm->refs > 0) return;
    for (int i = 0; i < shm->nregion; i++) free(shm->regions[i]);
    free(shm->regions);
    free(shm);
}

/* Releases c's shm locks and stops counting it as a user of the inode's
 * shared memory, which the inode forgets with its last live user. With
 * unmap, c's own reference goes too; without (a purge), c keeps it. */
static void vfs__shm_detach(vfs__conn *c, bool unmap) {
    vfs__inode *ino = c->ino;
    if (ino && c->shm && c->shm == ino->shm) {
        for (int i = 0; i < SQLITE_SHM_NLOCK; i++) {
            uint16_t bit = (uint16_t)(1u << i);
            if (c->shm_excl & bit) ino->shm_excl[i] = NULL;
            if (c->shm_shared & bit) ino->shm_nshared[i]--;
        }
        if (--ino->shm_users == 0) ino->shm = NULL;
    }
    c->shm_excl = c->shm_shared = 0;
    if (unmap) vfs__shm_release(c);
}

/* Releases every lock of c, detaches it from its inode and frees the inode
 * with its last connection. unmap: also drop c's shared memory (a purge
 * leaves it to the zombie, which may still write it). */
static void vfs__detach(vfs__conn *c, bool unmap) {
    vfs__inode *ino = c->ino;
    if (!ino) {
        if (unmap) vfs__shm_release(c);
        return;
    }
    vfs__shm_detach(c, unmap);
    if (ino->writer == c) ino->writer = NULL;
    if (c->lock >= SQLITE_LOCK_SHARED) ino->nshared--;
    c->lock = SQLITE_LOCK_NONE;
    for (vfs__conn **pp = &ino->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->ino = NULL;
    c->next = NULL;
    if (ino->conns) return;
    for (vfs__inode **pp = &vfs__inodes; *pp; pp = &(*pp)->next)
        if (*pp == ino) {
            *pp = ino->next;
            break;
        }
    assert(ino->shm == NULL && ino->shm_users == 0 && ino->nshared == 0 && !ino->writer);
    free(ino);
}

/* Detaches every connection of ino (except keep) whose handle a simulated
 * crash has killed. Returns how many; frees ino when none is left. */
static int vfs__purge(vfs__inode *ino, const vfs__conn *keep) {
    int n = 0;
    bool last;
    do {
        vfs__conn *dead = NULL;
        for (vfs__conn *c = ino->conns; c; c = c->next)
            if (c != keep && rt_file_size(c->fh) < 0) {
                dead = c;
                break;
            }
        if (!dead) break;
        last = ino->conns == dead && !dead->next;
        vfs__detach(dead, false);
        n++;
    } while (!last);
    return n;
}

/* Attaches c to the inode of (this node, c->name), creating it. */
static int vfs__attach(vfs__conn *c) {
    uint32_t node = rt_node_id();
    vfs__inode *ino = vfs__inodes;
    while (ino && !(ino->node == node && !strcmp(ino->name, c->name))) ino = ino->next;
    if (ino && vfs__purge(ino, NULL) > 0) {
        /* the purge may have freed it */
        ino = vfs__inodes;
        while (ino && !(ino->node == node && !strcmp(ino->name, c->name))) ino = ino->next;
    }
    if (!ino) {
        ino = calloc(1, sizeof *ino);
        if (!ino) return SQLITE_NOMEM;
        ino->node = node;
        memcpy(ino->name, c->name, sizeof ino->name);
        ino->next = vfs__inodes;
        vfs__inodes = ino;
    }
    c->ino = ino;
    c->next = ino->conns;
    ino->conns = c;
    return SQLITE_OK;
}

/* ---- the file methods ----------------------------------------------------------- */

static int vfs__close(sqlite3_file *file) {
    vfs__conn *c = ((vfs__file *)file)->c;
    vfs__lock();
    vfs__detach(c, true);
    vfs__unlock();
    bool alive = rt_file_size(c->fh) >= 0; /* a zombie's dead handle deletes nothing */
    rt_file_close(c->fh);
    if (c->delete_on_close && alive) rt_file_delete(c->name);
    free(c);
    file->pMethods = NULL;
    return SQLITE_OK;
}

static int vfs__read(sqlite3_file *file, void *buf, int amt, sqlite3_int64 off) {
    vfs__conn *c = ((vfs__file *)file)->c;
    size_t got = 0;
    if (rt_file_read(c->fh, off, buf, (size_t)amt, &got) != RT_OK) return SQLITE_IOERR_READ;
    if (got < (size_t)amt) {
        /* SQLite requires the rest zero-filled on a short read */
        memset((char *)buf + got, 0, (size_t)amt - got);
        return SQLITE_IOERR_SHORT_READ;
    }
    return SQLITE_OK;
}

static int vfs__write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off) {
    vfs__conn *c = ((vfs__file *)file)->c;
    int rc = rt_file_write(c->fh, off, buf, (size_t)amt);
    if (rc == RT_OK) return SQLITE_OK;
    return rc == RT_ENOSPC ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

static int vfs__truncate(sqlite3_file *file, sqlite3_int64 size) {
    vfs__conn *c = ((vfs__file *)file)->c;
    int rc = rt_file_truncate(c->fh, size);
    if (rc == RT_OK) return SQLITE_OK;
    return rc == RT_ENOSPC ? SQLITE_FULL : SQLITE_IOERR_TRUNCATE;
}

static int vfs__sync(sqlite3_file *file, int flags) {
    (void)flags; /* FULL or NORMAL: a sync is a sync */
    vfs__conn *c = ((vfs__file *)file)->c;
    return rt_file_sync(c->fh) == RT_OK ? SQLITE_OK : SQLITE_IOERR_FSYNC;
}

static int vfs__file_size(sqlite3_file *file, sqlite3_int64 *size) {
    vfs__conn *c = ((vfs__file *)file)->c;
    int64_t n = rt_file_size(c->fh);
    if (n < 0) return SQLITE_IOERR_FSTAT;
    *size = n;
    return SQLITE_OK;
}

/* Takes lock level `level` (SHARED, RESERVED or EXCLUSIVE; SQLite never asks
 * for PENDING) with the single-process rules of SQLite's unix VFS: many
 * SHARED, one writer (RESERVED), EXCLUSIVE once no other SHARED is left
 * (meanwhile PENDING keeps new readers out). SQLITE_BUSY on a conflict. */
static int vfs__lock_try(vfs__conn *c, int level) {
    vfs__inode *ino = c->ino;
    if (level == SQLITE_LOCK_SHARED) {
        if (ino->writer && ino->writer != c && c->lock < SQLITE_LOCK_SHARED &&
            ino->writer->lock >= SQLITE_LOCK_PENDING)
            return SQLITE_BUSY;
        ino->nshared++;
        c->lock = SQLITE_LOCK_SHARED;
        return SQLITE_OK;
    }
    if (c->lock < SQLITE_LOCK_SHARED) return SQLITE_IOERR_LOCK; /* SQLite always goes through SHARED */
    if (ino->writer && ino->writer != c) return SQLITE_BUSY;
    ino->writer = c;
    if (level == SQLITE_LOCK_RESERVED) {
        c->lock = SQLITE_LOCK_RESERVED;
        return SQLITE_OK;
    }
    if (ino->nshared > 1) { /* readers still in: hold PENDING, try again later */
        c->lock = SQLITE_LOCK_PENDING;
        return SQLITE_BUSY;
    }
    c->lock = SQLITE_LOCK_EXCLUSIVE;
    return SQLITE_OK;
}

static int vfs__xlock(sqlite3_file *file, int level) {
    vfs__conn *c = ((vfs__file *)file)->c;
    if (c->lock >= level) return SQLITE_OK;
    vfs__lock();
    int rc = SQLITE_IOERR_LOCK;
    if (c->ino) {
        rc = vfs__lock_try(c, level);
        if (rc == SQLITE_BUSY && vfs__purge(c->ino, c) > 0) rc = vfs__lock_try(c, level);
    }
    vfs__unlock();
    return rc;
}

static int vfs__xunlock(sqlite3_file *file, int level) {
    vfs__conn *c = ((vfs__file *)file)->c;
    if (c->lock <= level) return SQLITE_OK;
    vfs__lock();
    vfs__inode *ino = c->ino;
    if (ino) {
        if (c->lock > SQLITE_LOCK_SHARED) {
            if (ino->writer == c) ino->writer = NULL;
        }
        if (level == SQLITE_LOCK_NONE) ino->nshared--;
    }
    c->lock = level;
    vfs__unlock();
    return SQLITE_OK;
}

static int vfs__check_reserved(sqlite3_file *file, int *out) {
    vfs__conn *c = ((vfs__file *)file)->c;
    vfs__lock();
    *out = c->ino && c->ino->writer != NULL;
    vfs__unlock();
    return SQLITE_OK;
}

static int vfs__file_control(sqlite3_file *file, int op, void *arg) {
    (void)file, (void)op, (void)arg;
    return SQLITE_NOTFOUND;
}

static int vfs__sector_size(sqlite3_file *file) {
    vfs__conn *c = ((vfs__file *)file)->c;
    int64_t s = rt_file_sector_size(c->fh);
    return s > 0 && s <= 65536 ? (int)s : 4096;
}

/* Writes never change bytes outside their range, even across a crash: the
 * disk model tears at sector granularity but keeps each sector whole. */
static int vfs__device_characteristics(sqlite3_file *file) {
    (void)file;
    return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

/* ---- shared memory ------------------------------------------------------------- */

/* xShmMap with the registry locked: attaches c to the inode's shared
 * memory (creating it) and returns region `region`, growing it if asked. */
static int vfs__shm_map_locked(vfs__conn *c, int region, int szregion, int extend, void volatile **pp) {
    vfs__inode *ino = c->ino;
    if (!ino) return SQLITE_IOERR_SHMMAP; /* detached: its handle died */
    if (!c->shm) {
        if (!ino->shm) {
            ino->shm = calloc(1, sizeof *ino->shm);
            if (!ino->shm) return SQLITE_IOERR_NOMEM;
            ino->shm->szregion = szregion;
        }
        c->shm = ino->shm;
        c->shm->refs++;
        ino->shm_users++;
    }
    vfs__shm *shm = c->shm;
    assert(shm == ino->shm);
    if (shm->szregion != szregion) return SQLITE_IOERR_SHMSIZE;
    if (region >= shm->nregion) {
        if (!extend) return SQLITE_OK;
        void **regions = realloc(shm->regions, (size_t)(region + 1) * sizeof *regions);
        if (!regions) return SQLITE_IOERR_NOMEM;
        shm->regions = regions;
        for (; shm->nregion <= region; shm->nregion++) {
            regions[shm->nregion] = calloc(1, (size_t)szregion);
            if (!regions[shm->nregion]) return SQLITE_IOERR_NOMEM;
        }
    }
    *pp = shm->regions[region];
    return SQLITE_OK;
}

static int vfs__shm_map(sqlite3_file *file, int region, int szregion, int extend, void volatile **pp) {
    vfs__conn *c = ((vfs__file *)file)->c;
    *pp = NULL;
    vfs__lock();
    int rc = vfs__shm_map_locked(c, region, szregion, extend, pp);
    vfs__unlock();
    return rc;
}

/* Takes or releases shm lock slots [ofst, ofst+n) as SQLite's xShmLock
 * specifies: SHARED slots are counted, an EXCLUSIVE slot has one owner and
 * no other reader. SQLITE_BUSY on a conflict. */
static int vfs__shm_lock_try(vfs__conn *c, int ofst, int n, int flags) {
    vfs__inode *ino = c->ino;
    uint16_t mask = (uint16_t)(((1u << (ofst + n)) - 1) & ~((1u << ofst) - 1));
    if (flags & SQLITE_SHM_UNLOCK) {
        for (int i = ofst; i < ofst + n; i++) {
            uint16_t bit = (uint16_t)(1u << i);
            if (c->shm_excl & bit) ino->shm_excl[i] = NULL;
            if (c->shm_shared & bit) ino->shm_nshared[i]--;
        }
        c->shm_excl &= (uint16_t)~mask;
        c->shm_shared &= (uint16_t)~mask;
        return SQLITE_OK;
    }
    if (flags & SQLITE_SHM_SHARED) {
        if ((c->shm_shared | c->shm_excl) & mask) return SQLITE_OK;
        if (ino->shm_excl[ofst]) return SQLITE_BUSY;
        ino->shm_nshared[ofst]++;
        c->shm_shared |= mask;
        return SQLITE_OK;
    }
    for (int i = ofst; i < ofst + n; i++) {
        uint16_t bit = (uint16_t)(1u << i);
        if ((ino->shm_excl[i] && ino->shm_excl[i] != c) ||
            ino->shm_nshared[i] > ((c->shm_shared & bit) ? 1 : 0))
            return SQLITE_BUSY;
    }
    for (int i = ofst; i < ofst + n; i++) ino->shm_excl[i] = c;
    c->shm_excl |= mask;
    return SQLITE_OK;
}

static int vfs__shm_lock(sqlite3_file *file, int ofst, int n, int flags) {
    vfs__conn *c = ((vfs__file *)file)->c;
    if (ofst < 0 || n < 1 || ofst + n > SQLITE_SHM_NLOCK) return SQLITE_IOERR_SHMLOCK;
    vfs__lock();
    int rc = SQLITE_IOERR_SHMLOCK;
    if (c->ino && c->shm && c->shm == c->ino->shm) {
        rc = vfs__shm_lock_try(c, ofst, n, flags);
        if (rc == SQLITE_BUSY && vfs__purge(c->ino, c) > 0) rc = vfs__shm_lock_try(c, ofst, n, flags);
    }
    vfs__unlock();
    return rc;
}

static void vfs__shm_barrier(sqlite3_file *file) {
    (void)file;
    atomic_thread_fence(memory_order_seq_cst);
}

static int vfs__shm_unmap(sqlite3_file *file, int delete_flag) {
    (void)delete_flag; /* the memory goes with its last user anyway */
    vfs__conn *c = ((vfs__file *)file)->c;
    vfs__lock();
    vfs__shm_detach(c, true);
    vfs__unlock();
    return SQLITE_OK;
}

static const sqlite3_io_methods vfs__io = {
    .iVersion = 2,
    .xClose = vfs__close,
    .xRead = vfs__read,
    .xWrite = vfs__write,
    .xTruncate = vfs__truncate,
    .xSync = vfs__sync,
    .xFileSize = vfs__file_size,
    .xLock = vfs__xlock,
    .xUnlock = vfs__xunlock,
    .xCheckReservedLock = vfs__check_reserved,
    .xFileControl = vfs__file_control,
    .xSectorSize = vfs__sector_size,
    .xDeviceCharacteristics = vfs__device_characteristics,
    .xShmMap = vfs__shm_map,
    .xShmLock = vfs__shm_lock,
    .xShmBarrier = vfs__shm_barrier,
    .xShmUnmap = vfs__shm_unmap,
};

/* ---- the VFS methods ------------------------------------------------------------ */

/* Opens name (a temporary file with a random name when NULL) on this
 * node's disk. Never switches tasks (RT_O_NOWAIT). */
static int vfs__open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    vfs__file *vf = (vfs__file *)file;
    vf->base.pMethods = NULL; /* SQLite calls xClose only when set */
    vf->c = NULL;
    vfs__conn *c = calloc(1, sizeof *c);
    if (!c) return SQLITE_NOMEM;
    if (name) {
        const char *base = vfs__base(name);
        if (strlen(base) >= sizeof c->name) {
            free(c);
            return SQLITE_CANTOPEN;
        }
        snprintf(c->name, sizeof c->name, "%s", base);
    } else {
        snprintf(c->name, sizeof c->name, "etilqs_%016llx", (unsigned long long)rt_rand_u64());
    }
    c->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
    int rf = RT_O_NOWAIT;
    if (flags & SQLITE_OPEN_CREATE) rf |= RT_O_CREATE;
    if (flags & SQLITE_OPEN_EXCLUSIVE) rf |= RT_O_EXCL;
    if (flags & SQLITE_OPEN_READONLY) rf |= RT_O_READONLY;
    int rc = rt_file_open(c->name, rf, &c->fh);
    if (rc != RT_OK) {
        free(c);
        return rc == RT_ENOSPC ? SQLITE_FULL : SQLITE_CANTOPEN;
    }
    vfs__lock();
    rc = vfs__attach(c);
    vfs__unlock();
    if (rc != SQLITE_OK) {
        rt_file_close(c->fh);
        free(c);
        return rc;
    }
    vf->c = c;
    vf->base.pMethods = &vfs__io;
    if (out_flags) *out_flags = flags;
    return SQLITE_OK;
}

static int vfs__delete(sqlite3_vfs *vfs, const char *name, int sync_dir) {
    (void)vfs, (void)sync_dir; /* deletions are durable when they return */
    int rc = rt_file_delete(vfs__base(name));
    if (rc == RT_OK) return SQLITE_OK;
    return rc == RT_ENOENT ? SQLITE_IOERR_DELETE_NOENT : SQLITE_IOERR_DELETE;
}

static int vfs__access(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs, (void)flags; /* EXISTS, READ or READWRITE: a node owns its files */
    *out = rt_file_exists(vfs__base(name));
    return SQLITE_OK;
}

static int vfs__full_pathname(sqlite3_vfs *vfs, const char *name, int n_out, char *out) {
    (void)vfs;
    const char *base = vfs__base(name);
    size_t len = strlen(base);
    if (len + 1 > (size_t)n_out || len + 1 > VFS__NAME_MAX) return SQLITE_CANTOPEN;
    memcpy(out, base, len + 1);
    return SQLITE_OK;
}

static void *vfs__dl_open(sqlite3_vfs *vfs, const char *path) {
    (void)vfs, (void)path;
    return NULL;
}

static void vfs__dl_error(sqlite3_vfs *vfs, int n, char *msg) {
    (void)vfs;
    if (n > 0) snprintf(msg, (size_t)n, "the deja VFS loads no extensions");
}

static void (*vfs__dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void) {
    (void)vfs, (void)h, (void)sym;
    return NULL;
}

static void vfs__dl_close(sqlite3_vfs *vfs, void *h) { (void)vfs, (void)h; }

/* SQLite seeds its PRNG from here: from the node's own stream, so WAL salts
 * and temporary names replay from the seed. */
static int vfs__randomness(sqlite3_vfs *vfs, int n, char *out) {
    (void)vfs;
    for (int i = 0; i < n; i += 8) {
        uint64_t r = rt_rand_u64();
        int k = n - i < 8 ? n - i : 8;
        memcpy(out + i, &r, (size_t)k);
    }
    return n;
}

/* Returns at once, without sleeping: a sleep would switch tasks inside an
 * SQLite call (see the top of the file). SQLite sleeps only in busy
 * handlers, which then give up sooner: with one connection per database, as
 * the node uses it, there is never anyone to wait for. */
static int vfs__sleep(sqlite3_vfs *vfs, int us) {
    (void)vfs;
    return us;
}

/* Milliseconds since the Julian epoch (noon, 24 November 4714 BC). */
static int vfs__current_time_i64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    *out = (sqlite3_int64)210866760000000 + rt_wall_ns() / 1000000;
    return SQLITE_OK;
}

static int vfs__current_time(sqlite3_vfs *vfs, double *out) {
    sqlite3_int64 ms;
    vfs__current_time_i64(vfs, &ms);
    *out = (double)ms / 86400000.0; /* SQLite's API is a double */
    return SQLITE_OK;
}

static int vfs__last_error(sqlite3_vfs *vfs, int n, char *msg) {
    (void)vfs, (void)n, (void)msg;
    return 0;
}

static sqlite3_vfs vfs__vfs = {
    .iVersion = 2,
    .szOsFile = sizeof(vfs__file),
    .mxPathname = VFS__NAME_MAX,
    .zName = VFS__ZNAME,
    .xOpen = vfs__open,
    .xDelete = vfs__delete,
    .xAccess = vfs__access,
    .xFullPathname = vfs__full_pathname,
    .xDlOpen = vfs__dl_open,
    .xDlError = vfs__dl_error,
    .xDlSym = vfs__dl_sym,
    .xDlClose = vfs__dl_close,
    .xRandomness = vfs__randomness,
    .xSleep = vfs__sleep,
    .xCurrentTime = vfs__current_time,
    .xGetLastError = vfs__last_error,
    .xCurrentTimeInt64 = vfs__current_time_i64,
};

/* Registers "deja" as the default VFS (again: it stays registered once) and
 * reseeds SQLite's process-global PRNG from the calling node's stream now,
 * so that a run does not inherit the PRNG state of an earlier run in the
 * same process, and no later draw reseeds it outside a task. */
int rt_sqlite_vfs_register(void) {
    if (sqlite3_vfs_register(&vfs__vfs, 1) != SQLITE_OK) return RT_EIO;
    sqlite3_randomness(0, NULL); /* forget the state */
    unsigned char b;
    sqlite3_randomness(1, &b); /* seed it from vfs__randomness, here */
    return RT_OK;
}

/* Forgets every connection of node `node` (the simulator calls it when the
 * node crashes, whose heap held those connections' SQLite memory, and when
 * its world ends): their locks, shared memory and records go; the files'
 * handles are the disk's to free. Never called in production. */
void deja_vfs_forget_node(uint32_t node);
void deja_vfs_forget_node(uint32_t node) {
    vfs__lock();
    vfs__inode **pp = &vfs__inodes;
    while (*pp) {
        vfs__inode *ino = *pp;
        if (ino->node != node) {
            pp = &ino->next;
            continue;
        }
        /* detaching the last connection frees ino and unlinks it from *pp */
        for (bool last = false; !last;) {
            vfs__conn *c = ino->conns;
            assert(c);
            last = c->next == NULL;
            vfs__detach(c, true);
            free(c);
        }
    }
    vfs__unlock();
}
