/*
 * scratch_dir.h -- what the tests that write files share: a fresh scratch
 * directory per test (cmocka setup) under /tmp, removed with everything in
 * it afterwards (teardown). Define SCRATCH_NAME before including it.
 */
#ifndef DEJA_TESTS_SCRATCH_DIR_H
#define DEJA_TESTS_SCRATCH_DIR_H

#include <stdio.h>
#include <stdlib.h>

static char test__dir[256];

static int test__setup(void **state) {
    (void)state;
    snprintf(test__dir, sizeof test__dir, "/tmp/deja-test-%s-XXXXXX", SCRATCH_NAME);
    return mkdtemp(test__dir) ? 0 : -1;
}

static int test__teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test__dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif /* DEJA_TESTS_SCRATCH_DIR_H */
