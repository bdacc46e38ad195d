/*
 * disk.c -- the disk of the production backend: rt_file_* are POSIX files in
 * the node's data directory (--data), and rt_sqlite_vfs_register installs a
 * VFS named "deja" that is SQLite's own unix VFS with one change: relative
 * database names resolve against the data directory, as they do on the
 * simulator's disk. Locking, syncing and shared memory stay SQLite's.
 *
 * Durability as rt.h promises it: writes are durable after rt_file_sync
 * (fsync; with disk.sync_us it lasts at least that long); creating, renaming and deleting a file fsync the directory
 * before they return. Without a data directory (tests) files live in the
 * current directory.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real_int.h"

static int real__dirfd = AT_FDCWD;
static char real__dirpath[PATH_MAX];

struct rt_file {
    int fd;
};

/* Opens the data directory for the rt_file calls (NULL: the current one).
 * 0, or -1 with errno set. */
int real__disk_open(const char *dir) {
    real__disk_close();
    if (!dir) return 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    real__dirfd = fd;
    snprintf(real__dirpath, sizeof real__dirpath, "%s", dir);
    return 0;
}

void real__disk_close(void) {
    if (real__dirfd != AT_FDCWD) close(real__dirfd);
    real__dirfd = AT_FDCWD;
    real__dirpath[0] = 0;
}

/* A file name of the node's disk: no directory part, not "." or "..". */
static bool real__name_ok(const char *path) {
    return path && *path && !strchr(path, '/') && strcmp(path, ".") && strcmp(path, "..");
}

static void real__dir_sync(void) {
    int fd = real__dirfd == AT_FDCWD ? open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : real__dirfd;
    if (fd < 0) return;
    (void)fsync(fd);
    if (fd != real__dirfd) close(fd);
}

static int real__errno_rt(int e) {
    switch (e) {
    case ENOENT: return RT_ENOENT;
    case EEXIST: return RT_EEXIST;
    case ENOSPC:
    case EDQUOT: return RT_ENOSPC;
    case EINVAL:
    case ENAMETOOLONG: return RT_EINVAL;
    default: return RT_EIO;
    }
}

int rt_file_open(const char *path, int flags, rt_file **out) {
    assert(out != NULL);
    *out = NULL;
    if (!real__name_ok(path)) return RT_EINVAL;
    int of = O_CLOEXEC | ((flags & RT_O_READONLY) ? O_RDONLY : O_RDWR);
    if (flags & RT_O_CREATE) of |= O_CREAT;
    if (flags & RT_O_EXCL) of |= O_CREAT | O_EXCL;
    bool existed = faccessat(real__dirfd, path, F_OK, 0) == 0;
    int fd = openat(real__dirfd, path, of, 0644);
    if (fd < 0) return real__errno_rt(errno);
    if (!existed) real__dir_sync(); /* the new name is durable on return */
    rt_file *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return RT_ENOMEM;
    }
    f->fd = fd;
    *out = f;
    return RT_OK;
}

int rt_file_read(rt_file *f, int64_t off, void *buf, size_t len, size_t *got) {
    assert(f && off >= 0 && got);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            *got = done;
            return RT_EIO;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    *got = done;
    return RT_OK;
}

int rt_file_write(rt_file *f, int64_t off, const void *buf, size_t len) {
    assert(f && off >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? (real__errno_rt(errno) == RT_ENOSPC ? RT_ENOSPC : RT_EIO) : RT_EIO;
        done += (size_t)n;
    }
    return RT_OK;
}

/* A sync takes at least disk.sync_us (read once): the rest of it is slept,
 * so a fast disk stands in for a slow one (the election experiment). */
int rt_file_sync(rt_file *f) {
    assert(f);
    static int64_t sync_ns = -1;
    if (sync_ns < 0) {
        int64_t us = rt_param_i64("disk.sync_us", 0);
        sync_ns = us > 0 && us <= (int64_t)3600 * 1000000 ? us * 1000 : 0;
    }
    int64_t t0 = sync_ns > 0 ? rt_mono_ns() : 0;
    int rc = fsync(f->fd) == 0 ? RT_OK : RT_EIO;
    if (sync_ns > 0) {
        int64_t left = t0 + sync_ns - rt_mono_ns();
        if (left > 0) (void)rt_sleep_ns(left);
    }
    return rc;
}

int rt_file_truncate(rt_file *f, int64_t size) {
    assert(f && size >= 0);
    return ftruncate(f->fd, (off_t)size) == 0 ? RT_OK : real__errno_rt(errno);
}

int64_t rt_file_size(rt_file *f) {
    assert(f);
    struct stat st;
    if (fstat(f->fd, &st) != 0) return RT_EIO;
    return (int64_t)st.st_size;
}

/* The file system's preferred I/O block (st_blksize, 4096 when unknown):
 * the unit a power loss may tear on common disks. */
int64_t rt_file_sector_size(rt_file *f) {
    assert(f);
    struct stat st;
    if (fstat(f->fd, &st) != 0 || st.st_blksize <= 0) return 4096;
    return (int64_t)st.st_blksize;
}

void rt_file_close(rt_file *f) {
    if (!f) return;
    close(f->fd);
    free(f);
}

int rt_file_delete(const char *path) {
    if (!real__name_ok(path)) return RT_EINVAL;
    if (unlinkat(real__dirfd, path, 0) != 0) return real__errno_rt(errno);
    real__dir_sync();
    return RT_OK;
}

int rt_file_rename(const char *from, const char *to) {
    if (!real__name_ok(from) || !real__name_ok(to)) return RT_EINVAL;
    if (renameat(real__dirfd, from, real__dirfd, to) != 0) return real__errno_rt(errno);
    real__dir_sync();
    return RT_OK;
}

bool rt_file_exists(const char *path) {
    return real__name_ok(path) && faccessat(real__dirfd, path, F_OK, 0) == 0;
}

/* ---- SQLite ------------------------------------------------------------ */

static sqlite3_vfs real__vfs;
static sqlite3_vfs *real__vfs_base;
static pthread_mutex_t real__vfs_mu = PTHREAD_MUTEX_INITIALIZER;

/* The unix VFS's xFullPathname, with relative names taken from the data
 * directory. */
static int real__vfs_full(sqlite3_vfs *vfs, const char *name, int nout, char *out) {
    (void)vfs;
    char joined[PATH_MAX + 256];
    if (name && name[0] != '/' && real__dirpath[0]) {
        snprintf(joined, sizeof joined, "%s/%s", real__dirpath, name);
        name = joined;
    }
    return real__vfs_base->xFullPathname(real__vfs_base, name, nout, out);
}

int rt_sqlite_vfs_register(void) {
    pthread_mutex_lock(&real__vfs_mu);
    int rc = RT_OK;
    if (!real__vfs_base) {
        sqlite3_initialize();
        sqlite3_vfs *base = sqlite3_vfs_find("unix");
        if (!base) base = sqlite3_vfs_find(NULL);
        if (!base) {
            rc = RT_EIO;
        } else {
            real__vfs = *base; /* same methods and pAppData: it IS the unix VFS */
            real__vfs.zName = "deja";
            real__vfs.pNext = NULL;
            real__vfs.xFullPathname = real__vfs_full;
            real__vfs_base = base;
            if (sqlite3_vfs_register(&real__vfs, 1) != SQLITE_OK) rc = RT_EIO;
        }
    }
    pthread_mutex_unlock(&real__vfs_mu);
    return rc;
}
