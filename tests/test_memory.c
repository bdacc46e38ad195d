/*
 * test_memory.c -- mapped regions and the resident-size timeline: a mapped
 * page counts only once the node touches it; RT_MADV_DONTNEED and rt_unmap
 * drop pages; a crash unmaps every region; a node touching mapped pages past
 * its limit is OOM-killed at the same simulated instant on every run of a
 * seed (at a check instant: a timeline sample, or a mem.map_check_ms tick);
 * the timeline CSV has its columns and non-decreasing times; and the
 * mem-leak scenario's leaky variants are OOM-killed while its careful one is
 * not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "world_build.h"

#include "deja/deja.h"
#include "deja/rt.h"
#include "deja/world.h"
#include "node.h"

extern const deja_scenario deja_scenario_mem_leak;

static deja_world *g_w;
static int64_t g_oom_at;
static int g_ooms, g_starts;

static void on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg, (void)node;
    if ((int)f->kind == DEJA_FACT_OOM && g_ooms++ == 0) g_oom_at = now;
}

/* A world of one node running prog, with the common parameters applied. */
static deja_world *make(uint64_t seed, const char *prog, const char *const *sets, int64_t dur) {
    g_oom_at = -1;
    g_ooms = 0;
    g_starts = 0;
    deja_world *w = one_node_world(seed, prog, sets, dur, on_fact);
    g_w = w;
    return w;
}

static void finish(deja_world *w) {
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
    g_w = NULL;
}

static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* ---- pages count once touched; DONTNEED and unmap drop them ----------------- */

static int64_t g_rec[16];
static int g_ok[16];

static void prog_touch(rt_ctx *ctx) {
    (void)ctx;
    size_t pg = page(), len = 64 * pg - 100; /* the last page is partial */
    unsigned char *p = rt_map("t.dat", len);
    assert_non_null(p);
    g_rec[0] = deja_node_mapped(g_w, 0);
    int64_t r0 = deja_node_resident(g_w, 0);
    p[0] = 1;
    p[10 * pg] = 1;
    p[10 * pg + 5] = 2; /* same page */
    p[len - 1] = 3;     /* the partial last page */
    g_rec[1] = deja_node_mapped(g_w, 0);
    g_rec[2] = deja_node_resident(g_w, 0) - r0;
    /* pages 0 and 10 lie wholly inside [0, 11 pages): dropped */
    g_ok[0] = rt_map_advise(p, 0, 11 * pg, RT_MADV_DONTNEED) == RT_OK;
    g_rec[3] = deja_node_mapped(g_w, 0);
    g_ok[1] = p[0] == 0 && p[10 * pg] == 0 && p[10 * pg + 5] == 0; /* zero again... */
    g_rec[4] = deja_node_mapped(g_w, 0);                           /* ...and read: touched again */
    /* a range holding no whole page drops nothing */
    p[pg] = 7;
    g_ok[2] = rt_map_advise(p, pg / 2, pg, RT_MADV_DONTNEED) == RT_OK && p[pg] == 7;
    /* a range reaching the region's end takes its partial last page */
    g_ok[3] = rt_map_advise(p, 63 * pg, len - 63 * pg, RT_MADV_DONTNEED) == RT_OK;
    g_rec[5] = deja_node_mapped(g_w, 0); /* pages 0, 1, 10 */
    g_ok[4] = p[len - 1] == 0;
    /* bad calls */
    g_ok[5] = rt_map_advise(p + 1, 0, 1, RT_MADV_DONTNEED) == RT_EINVAL &&
              rt_map_advise(p, 0, len + 1, RT_MADV_DONTNEED) == RT_EINVAL &&
              rt_map_advise(p, len + 1, 0, RT_MADV_DONTNEED) == RT_EINVAL &&
              rt_map_advise(p, 0, 1, 99) == RT_EINVAL && rt_map_advise(NULL, 0, 1, RT_MADV_DONTNEED) == RT_EINVAL;
    g_ok[6] = rt_map("empty", 0) == NULL;
    rt_unmap(p, len);
    rt_unmap(NULL, 0);
    g_rec[6] = deja_node_mapped(g_w, 0);
    g_rec[7] = deja_node_resident(g_w, 0) - r0;
}

static void test_touched_pages(void **state) {
    (void)state;
    rt_program_register("t-touch", prog_touch);
    memset(g_rec, -1, sizeof g_rec);
    memset(g_ok, 0, sizeof g_ok);
    deja_world *w = make(1, "t-touch", NULL, RT_SEC);
    deja_world_run(w);
    int64_t pg = (int64_t)page();
    assert_int_equal(g_rec[0], 0);      /* mapped, untouched: nothing */
    assert_int_equal(g_rec[1], 3 * pg); /* three pages touched */
    assert_int_equal(g_rec[2], 3 * pg); /* and the resident size says so */
    assert_true(g_ok[0]);
    assert_int_equal(g_rec[3], 1 * pg); /* DONTNEED dropped two */
    assert_true(g_ok[1]);
    assert_int_equal(g_rec[4], 3 * pg); /* reading a page touches it */
    assert_true(g_ok[2]);
    assert_true(g_ok[3]);
    assert_int_equal(g_rec[5], 3 * pg);
    assert_true(g_ok[4]);
    assert_true(g_ok[5]);
    assert_true(g_ok[6]);
    assert_int_equal(g_rec[6], 0); /* unmapped: gone */
    assert_true(g_rec[7] <= 0);
    finish(w);
}

/* ---- a crash unmaps every region --------------------------------------------- */

static unsigned char g_first[2];

static void prog_holder(rt_ctx *ctx) {
    size_t pg = page();
    unsigned char *a = rt_map("a.dat", 16 * pg), *b = rt_map("b.dat", 1 << 20);
    assert_true(a && b);
    g_first[g_starts < 2 ? g_starts : 1] = a[0]; /* a fresh region after a restart: zero */
    g_starts++;
    memset(a, 0xab, 16 * pg);
    memset(b, 0xcd, 8 * pg);
    rt_chan_recv(rt_ctx_done(ctx), NULL, RT_FOREVER);
    rt_unmap(a, 16 * pg);
    rt_unmap(b, 1 << 20);
}

static void test_crash_unmaps(void **state) {
    (void)state;
    rt_program_register("t-holder", prog_holder);
    int64_t pg = (int64_t)page();
    deja_world *w = make(2, "t-holder", NULL, 10 * RT_SEC);
    deja_node_crash(w, 0, 2 * RT_SEC, -1); /* no restart */
    deja_world_run(w);
    assert_int_equal(g_starts, 1);
    assert_int_equal(deja_node_mapped(w, 0), 0);
    assert_int_equal(deja_node_resident(w, 0), 0);
    finish(w);

    w = make(2, "t-holder", NULL, 10 * RT_SEC);
    deja_node_crash(w, 0, 2 * RT_SEC, RT_SEC); /* restarts at 3 s and maps again */
    deja_world_run(w);
    assert_int_equal(g_starts, 2);
    assert_int_equal(g_first[0], 0);
    assert_int_equal(g_first[1], 0);
    assert_int_equal(deja_node_mapped(w, 0), 24 * pg); /* the new incarnation's pages only */
    finish(w);
}

/* ---- OOM from touching mapped pages, at the same instant every time ----------- */

static void prog_mapleak(rt_ctx *ctx) {
    (void)ctx;
    g_starts++;
    size_t len = 64u << 20, step = 64u << 10;
    unsigned char *p = rt_map("blocks.dat", len);
    assert_non_null(p);
    for (size_t off = 0; off + step <= len; off += step) {
        memset(p + off, 1, step); /* a block appended, never released */
        rt_sleep_ns(100 * RT_MS);
    }
}

/* Runs the leak with the given check settings; returns the first OOM
 * instant and copies the OOM report and the timeline CSV. */
static int64_t mapleak_oom(uint64_t seed, const char *sample, const char *check, char *report, size_t rlen,
                           char **csv) {
    const char *sets[] = {"mem.limit_mb=1", "fault.restart_ms=1000", sample, check, NULL};
    deja_world *w = make(seed, "t-mapleak", sets, 10 * RT_SEC);
    deja_world_run(w);
    int64_t t = g_oom_at;
    if (report) {
        const char *r = deja_world_oom_report(w);
        snprintf(report, rlen, "%s", r ? r : "");
    }
    if (csv) {
        size_t n;
        FILE *f = open_memstream(csv, &n);
        assert_non_null(f);
        deja_world_timeline_csv(w, f);
        fclose(f);
    }
    finish(w);
    return t;
}

static void test_map_oom_deterministic(void **state) {
    (void)state;
    rt_program_register("t-mapleak", prog_mapleak);
    char r1[8192], r2[8192];
    char *c1 = NULL, *c2 = NULL;
    /* checked at timeline samples only (the default mem.map_check_ms=0) */
    int64_t a = mapleak_oom(5, "mem.sample_ms=250", "mem.map_check_ms=0", r1, sizeof r1, &c1);
    int64_t b = mapleak_oom(5, "mem.sample_ms=250", "mem.map_check_ms=0", r2, sizeof r2, &c2);
    assert_true(a > 0);
    assert_true(a == b);
    assert_string_equal(r1, r2);
    assert_string_equal(c1, c2); /* the whole timeline, mapped bytes included */
    assert_true(g_starts >= 2);  /* restarted after the kill */
    /* 16 blocks of 64 KiB (plus the main task's 8 KiB) cross 1 MiB with the
     * block written at 1.5 s; the next sample (every 250 ms) kills */
    assert_true(a % (250 * RT_MS) == 0);
    assert_in_range(a, 1500 * RT_MS, 1750 * RT_MS);
    assert_non_null(strstr(r1, "OOM kill: node 0"));
    assert_non_null(strstr(r1, "blocks.dat"));
    assert_non_null(strstr(r1, "task dump"));
    free(c1);
    free(c2);
    /* a finer check period kills closer to the crossing, still identically */
    a = mapleak_oom(5, "mem.sample_ms=250", "mem.map_check_ms=10", NULL, 0, NULL);
    b = mapleak_oom(5, "mem.sample_ms=250", "mem.map_check_ms=10", NULL, 0, NULL);
    assert_true(a == b);
    assert_in_range(a, 1500 * RT_MS, 1510 * RT_MS);
    /* no sample, no tick, no map call: touched pages are never checked */
    a = mapleak_oom(5, "mem.sample_ms=0", "mem.map_check_ms=0", NULL, 0, NULL);
    assert_int_equal(a, -1);
}

/* ---- the timeline CSV ---------------------------------------------------------- */

/* Checks a timeline CSV: header, five integer fields a row, non-decreasing
 * times. Returns the number of rows; *max_mapped gets the largest mapped. */
static int check_timeline(const char *csv, int64_t *max_mapped) {
    const char *nl = strchr(csv, '\n');
    assert_non_null(nl);
    assert_memory_equal(csv, "t_ms,node,resident_bytes,tasks,mapped_bytes\n", (size_t)(nl - csv + 1));
    long long last_t = -1;
    int rows = 0;
    *max_mapped = 0;
    for (const char *l = nl + 1; *l; l = strchr(l, '\n') + 1) {
        long long t, res, tasks, mapped;
        unsigned node;
        int used = 0;
        assert_int_equal(sscanf(l, "%lld,%u,%lld,%lld,%lld%n", &t, &node, &res, &tasks, &mapped, &used), 5);
        assert_true(l[used] == '\n');
        assert_true(t >= last_t);
        assert_true(res >= mapped && mapped >= 0 && tasks >= 0);
        if (mapped > *max_mapped) *max_mapped = mapped;
        last_t = t;
        rows++;
    }
    return rows;
}

/* Runs the mem-leak scenario; returns deja_run's status and the timeline. */
static int run_leak(const char *kind, deja_summary *s, char **csv) {
    deja_params *over = deja_params_new();
    char kv[64], err[256] = "";
    snprintf(kv, sizeof kv, "leak.kind=%s", kind);
    assert_int_equal(deja_params_parse(over, kv, err, sizeof err), 0);
    assert_int_equal(deja_params_parse(over, "sim.duration_s=120", err, sizeof err), 0);
    size_t n;
    FILE *f = open_memstream(csv, &n);
    assert_non_null(f);
    deja_run_opts opts = {.timeline = f};
    int rc = deja_run(&deja_scenario_mem_leak, 11, over, &opts, s, err, sizeof err);
    fclose(f);
    deja_params_free(over);
    assert_int_not_equal(rc, 2);
    return rc;
}

static void test_timeline_csv(void **state) {
    (void)state;
    deja_summary s1, s2;
    char *c1 = NULL, *c2 = NULL;
    int64_t maxm;
    assert_int_equal(run_leak("map", &s1, &c1), 1);
    assert_int_equal(run_leak("map", &s2, &c2), 1);
    assert_string_equal(deja_summary_get(&s1, "verdict"), "oom");
    assert_string_equal(deja_summary_get(&s1, "trace_hash"), deja_summary_get(&s2, "trace_hash"));
    assert_string_equal(deja_summary_get(&s1, "first_oom_ms"), deja_summary_get(&s2, "first_oom_ms"));
    assert_string_equal(c1, c2);
    /* 4 nodes, a sample every 500 ms for 120 s, plus one per kill */
    int rows = check_timeline(c1, &maxm);
    assert_true(rows >= 4 * 241);
    assert_true(maxm > 15 * 1024 * 1024); /* the block file grew to the limit (16 MiB) */
    free(c1);
    free(c2);
}

/* ---- the mem-leak scenario's variants ------------------------------------------- */

static void test_leak_variants(void **state) {
    (void)state;
    deja_summary s;
    char *csv = NULL;
    int64_t maxm;
    /* the reference node's node.leak=task: a leaked audit task (and its copy
     * of the block's record) per block: the leak detector names the group of
     * audits long before the OOM kill it leads to */
    assert_int_equal(run_leak("task", &s, &csv), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_true(atoi(deja_summary_get(&s, "oom_kills")) >= 1);
    assert_non_null(strstr(deja_summary_get(&s, "detected"), "'audit' chan send at node/maint.c"));
    assert_true(atol(deja_summary_get(&s, "detected_ms")) < atol(deja_summary_get(&s, "first_oom_ms")));
    check_timeline(csv, &maxm);
    assert_int_equal(maxm, 0);
    free(csv);
    /* done right: a bounded report, a released file window */
    assert_int_equal(run_leak("none", &s, &csv), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_string_equal(deja_summary_get(&s, "oom_kills"), "0");
    check_timeline(csv, &maxm);
    assert_true(maxm > 0 && maxm < 4 * 1024 * 1024); /* about store.block_keep (8) records of 256 KiB */
    free(csv);
}

int main(void) {
    node_programs_register(); /* the mem-leak scenario runs the reference node */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_touched_pages),
        cmocka_unit_test(test_crash_unmaps),
        cmocka_unit_test(test_map_oom_deterministic),
        cmocka_unit_test(test_timeline_csv),
        cmocka_unit_test(test_leak_variants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
