/*
 * outfile.c -- output files written to a temporary name in the same
 * directory and renamed into place on success (see deja/outfile.h), so a
 * failing command never truncates or half-writes a user's file.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deja/outfile.h"

static void outfile__free(deja_outfile *o) {
    free(o->path);
    free(o->tmp);
    free(o);
}

deja_outfile *deja_outfile_open(const char *path) {
    assert(path);
    if (!path[0]) {
        errno = ENOENT;
        return NULL;
    }
    deja_outfile *o = calloc(1, sizeof *o);
    assert(o);
    o->path = strdup(path);
    assert(o->path);
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            outfile__free(o);
            return NULL;
        }
        o->f = fopen(path, "w"); /* a device or a FIFO: in place */
        if (!o->f) {
            int e = errno;
            outfile__free(o);
            errno = e;
            return NULL;
        }
        return o;
    }
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 16;
    o->tmp = malloc(len);
    assert(o->tmp);
    snprintf(o->tmp, len, "%.*s.%s.tmp-XXXXXX", (int)dlen, path, path + dlen);
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        int e = errno;
        outfile__free(o);
        errno = e;
        return NULL;
    }
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    o->f = fdopen(fd, "w");
    if (!o->f) {
        int e = errno;
        close(fd);
        unlink(o->tmp);
        outfile__free(o);
        errno = e;
        return NULL;
    }
    return o;
}

void deja_outfile_detach(deja_outfile *o) {
    assert(o);
    if (o->f) fclose(o->f);
    o->f = NULL;
}

int deja_outfile_commit(deja_outfile *o) {
    if (!o) return 0;
    int bad = 0, e = 0;
    if (o->f) {
        bad = fflush(o->f) != 0 || ferror(o->f);
        if (!bad && o->tmp && fsync(fileno(o->f)) != 0) bad = 1;
        if (bad) e = errno ? errno : EIO;
        if (fclose(o->f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        o->f = NULL;
    }
    if (!bad && o->tmp && rename(o->tmp, o->path) != 0) {
        bad = 1;
        e = errno;
    }
    if (bad && o->tmp) unlink(o->tmp);
    outfile__free(o);
    if (bad) errno = e;
    return bad ? -1 : 0;
}

void deja_outfile_abort(deja_outfile *o) {
    if (!o) return;
    if (o->f) fclose(o->f);
    if (o->tmp) unlink(o->tmp);
    outfile__free(o);
}
