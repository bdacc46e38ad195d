/*
 * outfile.h -- output files that appear whole or not at all.
 *
 * EVERY FILE A deja COMMAND WRITES (a trace, a timeline, a plan, a plot, a
 * seed file, a CSV, an export) GOES THROUGH THIS: open it with
 * deja_outfile_open, write to ->f, then deja_outfile_commit when the
 * command succeeded or deja_outfile_abort when it failed. The data goes to
 * a temporary file in the same directory (".NAME.tmp-XXXXXX") that is
 * flushed, synced and renamed over NAME only on commit, so a command that
 * fails -- bad input found late, a full disk, a crash, Ctrl-C -- leaves an
 * existing NAME untouched and no partial file behind. Open every output
 * before the work starts (a bad path is exit 2 before anything is run) and
 * commit them all at the end.
 *
 * A path that exists and is not a regular file (/dev/null, /dev/stdout, a
 * FIFO) is written in place. A program that writes the file itself
 * (gnuplot) is given ->tmp after deja_outfile_detach.
 */
#ifndef DEJA_OUTFILE_H
#define DEJA_OUTFILE_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct deja_outfile {
    FILE *f;    /* write here (NULL after deja_outfile_detach) */
    char *path; /* the final name */
    char *tmp;  /* the temporary name, NULL when written in place */
} deja_outfile;

/* Creates the temporary file for path, mode 0666 minus the umask as a plain
 * fopen would. NULL with errno set (the directory is missing or not
 * writable...); nothing is created then. */
deja_outfile *deja_outfile_open(const char *path);
/* Closes ->f so that another program can write ->tmp (or ->path when in
 * place); commit or abort as usual afterwards. */
void deja_outfile_detach(deja_outfile *o);
/* Flushes, syncs and closes the file and renames it over path. 0, or -1
 * with errno (a write failed, the disk is full): the temporary file is
 * removed and path is untouched. Frees o either way; NULL is a no-op (0). */
int deja_outfile_commit(deja_outfile *o);
/* Closes and removes the temporary file, leaving path as it was. Frees o;
 * NULL is a no-op. */
void deja_outfile_abort(deja_outfile *o);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_OUTFILE_H */
