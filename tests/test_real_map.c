/*
 * test_real_map.c -- mapped regions in the production backend
 * (sim/real/map.c): a region is zero-filled and reserved, not resident;
 * touched pages become resident; RT_MADV_DONTNEED drops the pages wholly
 * inside its range (and the partial last page at the region's end) so they
 * read back as zero; bad arguments give RT_EINVAL; rt_unmap releases it.
 * The same contract as the simulator's (tests/test_memory.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>

#include "deja/rt.h"

/* Resident pages of [p, p + len) by mincore. */
static size_t resident_pages(const void *p, size_t len) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, r = 0;
    unsigned char vec[256];
    assert_true(n <= sizeof vec);
    assert_int_equal(mincore((void *)p, len, vec), 0);
    for (size_t i = 0; i < n; i++) r += vec[i] & 1;
    return r;
}

static void test_map_contract(void **state) {
    (void)state;
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = 64 * pg - 100;
    assert_null(rt_map("empty", 0));
    unsigned char *p = rt_map("blocks.dat", len);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % pg, 0);
    assert_int_equal(resident_pages(p, len), 0);
    p[0] = 1;
    p[10 * pg] = 2;
    p[len - 1] = 3;
    assert_int_equal(resident_pages(p, len), 3);
    /* pages 0 and 10 lie wholly inside [0, 11 pages) */
    assert_int_equal(rt_map_advise(p, 0, 11 * pg, RT_MADV_DONTNEED), RT_OK);
    assert_int_equal(resident_pages(p, len), 1);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[10 * pg], 0);
    /* no whole page in range: kept */
    p[pg] = 7;
    assert_int_equal(rt_map_advise(p, pg / 2, pg, RT_MADV_DONTNEED), RT_OK);
    assert_int_equal(p[pg], 7);
    /* reaching the end takes the partial last page */
    assert_int_equal(rt_map_advise(p, 63 * pg, len - 63 * pg, RT_MADV_DONTNEED), RT_OK);
    assert_int_equal(p[len - 1], 0);
    /* bad arguments */
    assert_int_equal(rt_map_advise(p + 1, 0, 1, RT_MADV_DONTNEED), RT_EINVAL);
    assert_int_equal(rt_map_advise(p, 0, len + 1, RT_MADV_DONTNEED), RT_EINVAL);
    assert_int_equal(rt_map_advise(p, 0, 1, 99), RT_EINVAL);
    assert_int_equal(rt_map_advise(NULL, 0, 1, RT_MADV_DONTNEED), RT_EINVAL);
    rt_unmap(p, len);
    rt_unmap(NULL, 0);
    /* gone: the registry forgot it */
    assert_int_equal(rt_map_advise(p, 0, 1, RT_MADV_DONTNEED), RT_EINVAL);
}

static void test_map_many(void **state) {
    (void)state;
    unsigned char *r[8];
    for (int i = 0; i < 8; i++) {
        r[i] = rt_map("r", (size_t)(i + 1) << 20);
        assert_non_null(r[i]);
        memset(r[i], i, (size_t)(i + 1) << 20);
    }
    for (int i = 7; i >= 0; i -= 2) rt_unmap(r[i], (size_t)(i + 1) << 20);
    for (int i = 0; i < 8; i += 2) {
        assert_int_equal(r[i][((size_t)(i + 1) << 20) - 1], i);
        rt_unmap(r[i], (size_t)(i + 1) << 20);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_contract),
        cmocka_unit_test(test_map_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
