/*
 * store_vfs.c -- "deja-verify": a thin SQLite VFS the store layers over the
 * backend's own ("deja", rt_sqlite_vfs_register), so that SQLite never acts
 * on a read the disk garbled in transit.
 *
 * Disks, buses and memory return flipped bits now and then while the bytes
 * on the medium are fine. SQLite has no defence of its own: a flipped WAL
 * frame read while it recovers the log after a crash ends the log there
 * (its checksum fails), silently dropping every transaction committed after
 * it; a flipped page read by a checkpoint is copied into the database file,
 * turning a transient error into lasting damage; a flipped page read into
 * the page cache is written back with the next change to that page. So
 * every read here is done twice, and again until two reads in a row agree
 * (at most STORE_VFS_READS_MAX): what the medium holds is what two
 * independent reads return alike. Reads are rare in the store's settings
 * (exclusive locking keeps the page cache across transactions), so the cost
 * is small; persistent damage (a latent sector error, a misdirected write)
 * is not what this layer is for: the store's record checksums and the
 * integrity check catch that.
 *
 * Everything else is passed to the layer below, the backend's VFS, found
 * by its name ("deja", rt.h) in SQLite's VFS list.
 *
 * The one exception to "no global mutable state" in node/: SQLite links
 * every registered VFS object into its process-wide list (it writes the
 * object's pNext), and the object must outlive every connection of every
 * node, so it is a static here, not memory of a node (in the simulator,
 * SQLite's allocations are charged to the running node and vanish with it
 * at a crash). It is the same for every node, complete at compile time, and
 * registered once, under SQLite's application mutex (the production
 * backend's threads).
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <sqlite3.h>

#include "deja/rt.h"
#include "store.h"

#define STORE_VFS_READS_MAX 6 /* reads of one range before giving up */

/* An open file: the wrapped file of the layer below follows it in memory. */
typedef struct store_vfs__file {
    sqlite3_file base;
    sqlite3_file *real;
} store_vfs__file;

#define STORE_VFS_BELOW_NAME "deja" /* rt_sqlite_vfs_register's VFS */

#define STORE_VFS__REAL(f) (((store_vfs__file *)(f))->real)
#define STORE_VFS__BELOW(v) ((void)(v), sqlite3_vfs_find(STORE_VFS_BELOW_NAME))

/* ---- file methods: reads verified, the rest passed through -------------- */

static int store_vfs__close(sqlite3_file *f) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    int rc = r->pMethods->xClose(r);
    f->pMethods = NULL;
    return rc;
}

/* Reads until two reads in a row return the same bytes and status. */
static int store_vfs__read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    int rc = r->pMethods->xRead(r, buf, amt, off);
    if ((rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) || amt <= 0) return rc;
    void *again = sqlite3_malloc(amt);
    if (again == NULL) return SQLITE_IOERR_NOMEM;
    for (int n = 1; n < STORE_VFS_READS_MAX; n++) {
        int rc2 = r->pMethods->xRead(r, again, amt, off);
        if (rc2 == rc && memcmp(again, buf, (size_t)amt) == 0) {
            sqlite3_free(again);
            return rc;
        }
        if (rc2 != SQLITE_OK && rc2 != SQLITE_IOERR_SHORT_READ) {
            sqlite3_free(again);
            return rc2;
        }
        /* the two disagree: the newer one is the candidate to confirm */
        memcpy(buf, again, (size_t)amt);
        rc = rc2;
    }
    sqlite3_free(again);
    rt_log(RT_LOG_WARN, "store: %d reads of %d bytes at %lld never agreed", STORE_VFS_READS_MAX, amt,
           (long long)off);
    return SQLITE_IOERR_READ;
}

static int store_vfs__write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xWrite(r, buf, amt, off);
}

static int store_vfs__truncate(sqlite3_file *f, sqlite3_int64 size) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xTruncate(r, size);
}

static int store_vfs__sync(sqlite3_file *f, int flags) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xSync(r, flags);
}

static int store_vfs__file_size(sqlite3_file *f, sqlite3_int64 *size) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xFileSize(r, size);
}

static int store_vfs__lock(sqlite3_file *f, int level) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xLock(r, level);
}

static int store_vfs__unlock(sqlite3_file *f, int level) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xUnlock(r, level);
}

static int store_vfs__check_reserved(sqlite3_file *f, int *out) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xCheckReservedLock(r, out);
}

static int store_vfs__file_control(sqlite3_file *f, int op, void *arg) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xFileControl(r, op, arg);
}

static int store_vfs__sector_size(sqlite3_file *f) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xSectorSize(r);
}

static int store_vfs__device_characteristics(sqlite3_file *f) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    return r->pMethods->xDeviceCharacteristics(r);
}

static int store_vfs__shm_map(sqlite3_file *f, int region, int sz, int extend, void volatile **pp) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    if (r->pMethods->iVersion < 2 || r->pMethods->xShmMap == NULL) return SQLITE_IOERR_SHMMAP;
    return r->pMethods->xShmMap(r, region, sz, extend, pp);
}

static int store_vfs__shm_lock(sqlite3_file *f, int ofst, int n, int flags) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    if (r->pMethods->iVersion < 2 || r->pMethods->xShmLock == NULL) return SQLITE_IOERR_SHMLOCK;
    return r->pMethods->xShmLock(r, ofst, n, flags);
}

static void store_vfs__shm_barrier(sqlite3_file *f) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    if (r->pMethods->iVersion >= 2 && r->pMethods->xShmBarrier != NULL) r->pMethods->xShmBarrier(r);
}

static int store_vfs__shm_unmap(sqlite3_file *f, int del) {
    sqlite3_file *r = STORE_VFS__REAL(f);
    if (r->pMethods->iVersion < 2 || r->pMethods->xShmUnmap == NULL) return SQLITE_OK;
    return r->pMethods->xShmUnmap(r, del);
}

static const sqlite3_io_methods store_vfs__io = {
    .iVersion = 2, /* no xFetch: the store does not memory-map */
    .xClose = store_vfs__close,
    .xRead = store_vfs__read,
    .xWrite = store_vfs__write,
    .xTruncate = store_vfs__truncate,
    .xSync = store_vfs__sync,
    .xFileSize = store_vfs__file_size,
    .xLock = store_vfs__lock,
    .xUnlock = store_vfs__unlock,
    .xCheckReservedLock = store_vfs__check_reserved,
    .xFileControl = store_vfs__file_control,
    .xSectorSize = store_vfs__sector_size,
    .xDeviceCharacteristics = store_vfs__device_characteristics,
    .xShmMap = store_vfs__shm_map,
    .xShmLock = store_vfs__shm_lock,
    .xShmBarrier = store_vfs__shm_barrier,
    .xShmUnmap = store_vfs__shm_unmap,
};

/* ---- VFS methods: passed to the layer below ------------------------------ */

static int store_vfs__open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    store_vfs__file *sf = (store_vfs__file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    sf->real->pMethods = NULL;
    int rc = below->xOpen(below, name, sf->real, flags, out);
    /* SQLite closes what has methods, even after a failed open */
    f->pMethods = sf->real->pMethods != NULL ? &store_vfs__io : NULL;
    return rc;
}

static int store_vfs__delete(sqlite3_vfs *v, const char *name, int sync_dir) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xDelete(below, name, sync_dir);
}

static int store_vfs__access(sqlite3_vfs *v, const char *name, int flags, int *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xAccess(below, name, flags, out);
}

static int store_vfs__full_pathname(sqlite3_vfs *v, const char *name, int n, char *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xFullPathname(below, name, n, out);
}

static void *store_vfs__dl_open(sqlite3_vfs *v, const char *path) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xDlOpen(below, path);
}

static void store_vfs__dl_error(sqlite3_vfs *v, int n, char *msg) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    below->xDlError(below, n, msg);
}

static void (*store_vfs__dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xDlSym(below, h, sym);
}

static void store_vfs__dl_close(sqlite3_vfs *v, void *h) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    below->xDlClose(below, h);
}

static int store_vfs__randomness(sqlite3_vfs *v, int n, char *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xRandomness(below, n, out);
}

static int store_vfs__sleep(sqlite3_vfs *v, int us) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xSleep(below, us);
}

static int store_vfs__current_time(sqlite3_vfs *v, double *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xCurrentTime(below, out);
}

static int store_vfs__last_error(sqlite3_vfs *v, int n, char *msg) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    return below->xGetLastError != NULL ? below->xGetLastError(below, n, msg) : 0;
}

static int store_vfs__current_time_i64(sqlite3_vfs *v, sqlite3_int64 *out) {
    sqlite3_vfs *below = STORE_VFS__BELOW(v);
    if (below->iVersion >= 2 && below->xCurrentTimeInt64 != NULL)
        return below->xCurrentTimeInt64(below, out);
    double d = 0;
    int rc = below->xCurrentTime(below, &d);
    *out = (sqlite3_int64)(d * 86400000.0);
    return rc;
}

/* ---- registration -------------------------------------------------------- */

/* Set up for the layer below at registration (szOsFile, mxPathname); SQLite
 * writes pNext. */
static sqlite3_vfs store_vfs__vfs = {
    .iVersion = 2,
    .zName = STORE_VFS_NAME,
    .xOpen = store_vfs__open,
    .xDelete = store_vfs__delete,
    .xAccess = store_vfs__access,
    .xFullPathname = store_vfs__full_pathname,
    .xDlOpen = store_vfs__dl_open,
    .xDlError = store_vfs__dl_error,
    .xDlSym = store_vfs__dl_sym,
    .xDlClose = store_vfs__dl_close,
    .xRandomness = store_vfs__randomness,
    .xSleep = store_vfs__sleep,
    .xCurrentTime = store_vfs__current_time,
    .xGetLastError = store_vfs__last_error,
    .xCurrentTimeInt64 = store_vfs__current_time_i64,
};

int store_vfs_register(void) {
    int rc = rt_sqlite_vfs_register(); /* the backend's VFS becomes the default */
    if (rc != RT_OK) return rc;
    sqlite3_mutex *mu = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
    sqlite3_mutex_enter(mu);
    if (sqlite3_vfs_find(STORE_VFS_NAME) == NULL) {
        sqlite3_vfs *below = sqlite3_vfs_find(STORE_VFS_BELOW_NAME);
        if (below == NULL) {
            rc = RT_EIO;
        } else {
            store_vfs__vfs.szOsFile = (int)sizeof(store_vfs__file) + below->szOsFile;
            store_vfs__vfs.mxPathname = below->mxPathname;
            if (sqlite3_vfs_register(&store_vfs__vfs, 0) != SQLITE_OK) rc = RT_EIO;
        }
    }
    sqlite3_mutex_leave(mu);
    return rc;
}
