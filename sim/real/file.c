/*
 * file.c -- the production backend's rt_file_* calls: POSIX files in the
 * node's data directory (the --data directory given to real_init; the
 * current directory when there is none).
 *
 * rt.h's contract, kept here: names are flat (no '/'); a write is durable
 * once rt_file_sync returns RT_OK (fsync); creating, renaming and deleting
 * a file are durable once the call returns, so each of them fsyncs the
 * directory. RT_O_NOWAIT means nothing here (a blocking system call blocks
 * only the calling thread). Errors: ENOENT -> RT_ENOENT, EEXIST ->
 * RT_EEXIST, ENOSPC/EDQUOT -> RT_ENOSPC, ENOMEM -> RT_ENOMEM, anything
 * else -> RT_EIO. A failed fsync is reported once (RT_EIO): the caller must
 * treat the unsynced data as lost, as the simulator's disk model does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deja/rt.h"

#define FILE__NAME_MAX 255

/* The data directory, from node.c (real_init's data_dir), when it offers
 * it; weak, so this file links before that hook exists. */
extern const char *real__data_dir(void) __attribute__((weak));

struct rt_file {
    int fd;
    int flags;
};

/* The directory files live in. */
static const char *file__dir(void) {
    const char *d = real__data_dir ? real__data_dir() : NULL;
    return d && *d ? d : ".";
}

/* Builds DIR/name into buf; false when name is not a valid flat name. */
static bool file__path(const char *name, char *buf, size_t len) {
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > FILE__NAME_MAX || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    int w = snprintf(buf, len, "%s/%s", file__dir(), name);
    return w > 0 && (size_t)w < len;
}

static int file__err(int e) {
    switch (e) {
    case ENOENT: return RT_ENOENT;
    case EEXIST: return RT_EEXIST;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return RT_ENOSPC;
    case ENOMEM: return RT_ENOMEM;
    case EINVAL: return RT_EINVAL;
    default: return RT_EIO;
    }
}

/* Makes the directory's entries durable (after create, rename, delete). */
static int file__sync_dir(void) {
    int fd = open(file__dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return file__err(errno);
    int rc = fsync(fd) == 0 ? RT_OK : RT_EIO;
    close(fd);
    return rc;
}

int rt_file_open(const char *path, int flags, rt_file **out) {
    *out = NULL;
    char full[4096 + FILE__NAME_MAX + 2];
    if (!file__path(path, full, sizeof full)) return RT_EINVAL;
    int base = O_CLOEXEC | ((flags & RT_O_READONLY) ? O_RDONLY : O_RDWR);
    int fd = -1;
    bool created = false;
    if (flags & RT_O_CREATE) {
        /* create exclusively first, to know whether the directory changed */
        for (;;) {
            fd = open(full, base | O_CREAT | O_EXCL, 0644);
            if (fd >= 0) {
                created = true;
                break;
            }
            if (errno == EINTR) continue;
            if (errno != EEXIST || (flags & RT_O_EXCL)) return file__err(errno);
            fd = open(full, base);
            if (fd >= 0) break;
            if (errno != ENOENT && errno != EINTR) return file__err(errno);
            /* deleted in between: try to create again */
        }
    } else {
        do fd = open(full, base);
        while (fd < 0 && errno == EINTR);
        if (fd < 0) return file__err(errno);
    }
    if (created && file__sync_dir() != RT_OK) {
        close(fd);
        return RT_EIO;
    }
    rt_file *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return RT_ENOMEM;
    }
    f->fd = fd;
    f->flags = flags;
    *out = f;
    return RT_OK;
}

int rt_file_read(rt_file *f, int64_t off, void *buf, size_t len, size_t *got) {
    *got = 0;
    if (off < 0) return RT_EINVAL;
    while (*got < len) {
        ssize_t n = pread(f->fd, (char *)buf + *got, len - *got, (off_t)(off + (int64_t)*got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return file__err(errno) == RT_EINVAL ? RT_EINVAL : RT_EIO;
        if (n == 0) break; /* end of file */
        *got += (size_t)n;
    }
    return RT_OK;
}

int rt_file_write(rt_file *f, int64_t off, const void *buf, size_t len) {
    if (off < 0 || (f->flags & RT_O_READONLY)) return RT_EINVAL;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int rc = file__err(errno);
            return rc == RT_ENOSPC ? RT_ENOSPC : RT_EIO;
        }
        done += (size_t)n;
    }
    return RT_OK;
}

int rt_file_sync(rt_file *f) {
    int rc;
    do rc = fsync(f->fd);
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? RT_OK : RT_EIO;
}

int rt_file_truncate(rt_file *f, int64_t size) {
    if (size < 0 || (f->flags & RT_O_READONLY)) return RT_EINVAL;
    int rc;
    do rc = ftruncate(f->fd, (off_t)size);
    while (rc != 0 && errno == EINTR);
    if (rc == 0) return RT_OK;
    return file__err(errno) == RT_ENOSPC ? RT_ENOSPC : RT_EIO;
}

int64_t rt_file_size(rt_file *f) {
    struct stat sb;
    if (fstat(f->fd, &sb) != 0) return RT_EIO;
    return (int64_t)sb.st_size;
}

int64_t rt_file_sector_size(rt_file *f) {
    (void)f;
    return 4096; /* what SQLite's unix VFS assumes; right for today's disks */
}

void rt_file_close(rt_file *f) {
    if (!f) return;
    close(f->fd);
    free(f);
}

int rt_file_delete(const char *path) {
    char full[4096 + FILE__NAME_MAX + 2];
    if (!file__path(path, full, sizeof full)) return RT_EINVAL;
    if (unlink(full) != 0) return file__err(errno);
    return file__sync_dir();
}

int rt_file_rename(const char *from, const char *to) {
    char a[4096 + FILE__NAME_MAX + 2], b[4096 + FILE__NAME_MAX + 2];
    if (!file__path(from, a, sizeof a) || !file__path(to, b, sizeof b)) return RT_EINVAL;
    if (rename(a, b) != 0) return file__err(errno);
    return file__sync_dir();
}

bool rt_file_exists(const char *path) {
    char full[4096 + FILE__NAME_MAX + 2];
    if (!file__path(path, full, sizeof full)) return false;
    struct stat sb;
    return stat(full, &sb) == 0;
}
