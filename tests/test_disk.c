/*
 * test_disk.c -- the virtual disk (sim/disk.c): the rt_file_* calls, the
 * crash model (synced data survives; unsynced writes are kept, dropped or
 * torn at sector granularity, the same way for the same seed), and every
 * fault kind -- latent sector errors, corrupted reads, misdirected writes, a
 * full disk, failed fsync, latency -- each shown to act when on and to do
 * nothing when off. Ends with a rough measure of disk operations per second.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "deja/rt.h"
#include "deja/world.h"
#include "disk.h"

#define SEC 512 /* the sector size of every test disk */

/* Every test runs its body as the program of node 0; g_starts counts the
 * program's starts (1, then 2 after a restart). */
static void (*g_body)(int start);
static int g_starts;
static deja_disk_cfg g_cfg; /* the config the test disk starts with */
static deja_world *g_w;     /* the world running */

static void prog(rt_ctx *ctx) {
    (void)ctx;
    g_body(++g_starts);
}

static deja_disk_cfg cfg_off(void) {
    deja_disk_cfg c;
    char err[160];
    assert_int_equal(deja_disk_config(NULL, &c, err, sizeof err), 0);
    c.crash_keep_ppm = 0; /* deterministic: unsynced writes are lost */
    return c;
}

/* A one-node world running g_body over a disk configured with cfg. */
static deja_world *world(uint64_t seed, void (*body)(int), const deja_disk_cfg *cfg, int64_t dur) {
    rt_program_register("t-disk", prog);
    g_body = body;
    g_starts = 0;
    g_cfg = *cfg;
    deja_world *w = deja_world_new(seed, NULL);
    assert_int_equal(deja_node_add(w, "t-disk", 0, 0), 0);
    deja_node_set_disk(w, 0, deja_disk_new(w, 0, cfg));
    g_w = w;
    deja_world_set_duration(w, dur);
    return w;
}

static void run(deja_world *w) {
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
}

static deja_disk *my_disk(void) { return deja_node_disk(g_w, rt_node_id()); }

/* Changes the running node's disk settings (one fault on, or off again). */
static void set_cfg(deja_disk_cfg c) { deja_disk_set_config(my_disk(), &c); }

static void fill(uint8_t *p, size_t n, uint8_t v) { memset(p, v, n); }

static rt_file *open_new(const char *name) {
    rt_file *f = NULL;
    assert_int_equal(rt_file_open(name, RT_O_CREATE, &f), RT_OK);
    return f;
}

/* ---- the calls themselves ----------------------------------------------------- */

static void body_basic(int start) {
    (void)start;
    rt_file *f = NULL;
    assert_int_equal(rt_file_open("a", 0, &f), RT_ENOENT);
    assert_int_equal(rt_file_open("dir/a", RT_O_CREATE, &f), RT_EINVAL);
    assert_int_equal(rt_file_open("", RT_O_CREATE, &f), RT_EINVAL);
    assert_false(rt_file_exists("a"));
    f = open_new("a");
    assert_true(rt_file_exists("a"));
    rt_file *g = NULL;
    assert_int_equal(rt_file_open("a", RT_O_CREATE | RT_O_EXCL, &g), RT_EEXIST);
    assert_int_equal(rt_file_size(f), 0);
    assert_int_equal(rt_file_write(f, 1000, "hello", 5), RT_OK);
    assert_int_equal(rt_file_size(f), 1005);
    char buf[16];
    size_t got = 0;
    assert_int_equal(rt_file_read(f, 998, buf, 16, &got), RT_OK);
    assert_int_equal(got, 7); /* short only at the end of the file */
    assert_memory_equal(buf, "\0\0hello", 7);
    assert_int_equal(rt_file_read(f, 5000, buf, 16, &got), RT_OK);
    assert_int_equal(got, 0);
    assert_int_equal(rt_file_truncate(f, 1002), RT_OK);
    assert_int_equal(rt_file_size(f), 1002);
    assert_int_equal(rt_file_sync(f), RT_OK);
    /* read-only handles */
    assert_int_equal(rt_file_open("a", RT_O_READONLY, &g), RT_OK);
    assert_int_equal(rt_file_write(g, 0, "x", 1), RT_EINVAL);
    assert_int_equal(rt_file_read(g, 1000, buf, 2, &got), RT_OK);
    assert_memory_equal(buf, "he", 2);
    rt_file_close(g);
    /* rename replaces, delete while open keeps the handle working */
    rt_file *b = open_new("b");
    assert_int_equal(rt_file_write(b, 0, "bee", 3), RT_OK);
    assert_int_equal(rt_file_rename("a", "b"), RT_OK);
    assert_false(rt_file_exists("a"));
    assert_int_equal(rt_file_rename("a", "c"), RT_ENOENT);
    assert_int_equal(rt_file_read(b, 0, buf, 3, &got), RT_OK); /* the old "b", now nameless */
    assert_memory_equal(buf, "bee", 3);
    rt_file_close(b);
    assert_int_equal(rt_file_open("b", 0, &g), RT_OK);
    assert_int_equal(rt_file_size(g), 1002);
    assert_int_equal(rt_file_delete("b"), RT_OK);
    assert_int_equal(rt_file_delete("b"), RT_ENOENT);
    assert_false(rt_file_exists("b"));
    assert_int_equal(rt_file_write(g, 0, "x", 1), RT_OK);
    assert_int_equal(rt_file_size(g), 1002);
    rt_file_close(g);
    rt_file_close(f);
    assert_true(deja_disk_ops(my_disk()) > 10);
    assert_int_equal(deja_disk_faults(my_disk()), 0);
}

static void test_basic(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    deja_world *w = world(1, body_basic, &c, RT_SEC);
    run(w);
    assert_int_equal(g_starts, 1);
    deja_world_free(w);
}

/* ---- the crash model ------------------------------------------------------------ */

static uint8_t g_seen[8]; /* what the restarted node read back, one byte per sector */
static rt_file *g_stale;  /* a handle from before the crash */

/* Sectors 0-3 written and synced (0x11), then sectors 4-7 (0x22) and an
 * overwrite of sector 0 (0x33) unsynced; crash; read back. */
static void body_crash(int start) {
    if (start == 1) {
        rt_file *f = open_new("f");
        uint8_t buf[4 * SEC];
        fill(buf, sizeof buf, 0x11);
        assert_int_equal(rt_file_write(f, 0, buf, sizeof buf), RT_OK);
        assert_int_equal(rt_file_sync(f), RT_OK);
        fill(buf, sizeof buf, 0x22);
        assert_int_equal(rt_file_write(f, 4 * SEC, buf, sizeof buf), RT_OK);
        fill(buf, SEC, 0x33);
        assert_int_equal(rt_file_write(f, 0, buf, SEC), RT_OK);
        g_stale = f;
        rt_sleep_ns(10 * RT_SEC); /* the crash comes first */
        fail();
    }
    /* after the restart: the old handle is dead, the file is what survived */
    size_t got;
    uint8_t b;
    assert_int_equal(rt_file_read(g_stale, 0, &b, 1, &got), RT_EIO);
    assert_int_equal(rt_file_size(g_stale), RT_EIO);
    rt_file_close(g_stale);
    g_stale = NULL;
    rt_file *f = NULL;
    assert_int_equal(rt_file_open("f", 0, &f), RT_OK);
    int64_t size = rt_file_size(f);
    memset(g_seen, 0, sizeof g_seen);
    for (int s = 0; s < 8; s++) {
        uint8_t sec[SEC];
        if (s * SEC >= size) break;
        assert_int_equal(rt_file_read(f, s * SEC, sec, SEC, &got), RT_OK);
        assert_int_equal(got, SEC);
        for (int i = 1; i < SEC; i++) assert_int_equal(sec[i], sec[0]); /* sectors stay whole */
        g_seen[s] = sec[0];
    }
    rt_file_close(f);
}

static deja_world *crash_world(uint64_t seed, const deja_disk_cfg *c) {
    deja_world *w = world(seed, body_crash, c, 5 * RT_SEC);
    deja_node_crash(w, 0, RT_SEC, RT_SEC);
    return w;
}

static void test_crash_drop_unsynced(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off(); /* keep 0%: every unsynced write is lost */
    deja_world *w = crash_world(1, &c);
    run(w);
    assert_int_equal(g_starts, 2);
    const uint8_t want[8] = {0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0};
    assert_memory_equal(g_seen, want, 8); /* synced intact, file back to 4 sectors */
    deja_world_free(w);
}

static void test_crash_keep_unsynced(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.crash_keep_ppm = 1000000;
    deja_world *w = crash_world(1, &c);
    run(w);
    const uint8_t want[8] = {0x33, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22};
    assert_memory_equal(g_seen, want, 8);
    deja_world_free(w);
}

static void test_crash_torn(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.crash_torn_ppm = 1000000;
    deja_world *w = crash_world(3, &c);
    run(w);
    /* synced sectors 1-3 intact; sector 0 is 0x11 or 0x33 (a one-sector
     * write is kept or lost whole); 4-7 a proper, non-empty subset */
    for (int s = 1; s < 4; s++) assert_int_equal(g_seen[s], 0x11);
    assert_true(g_seen[0] == 0x11 || g_seen[0] == 0x33);
    int kept = 0;
    for (int s = 4; s < 8; s++) {
        assert_true(g_seen[s] == 0x22 || g_seen[s] == 0);
        kept += g_seen[s] == 0x22;
    }
    assert_true(kept > 0 && kept < 4);
    assert_true(deja_disk_faults(deja_node_disk(w, 0)) >= 1);
    deja_world_free(w);
}

/* Many unsynced multi-sector writes, all torn at a crash: the digest right
 * after the crash depends on the seed alone. */
static void body_many(int start) {
    if (start > 1) return;
    rt_file *f = open_new("m");
    uint8_t buf[8 * SEC];
    for (int i = 0; i < 16; i++) {
        fill(buf, sizeof buf, (uint8_t)(i + 1));
        assert_int_equal(rt_file_write(f, (int64_t)i * 4 * SEC, buf, sizeof buf), RT_OK);
    }
    rt_sleep_ns(10 * RT_SEC);
}

static uint64_t g_digest;
static void take_digest(deja_world *w, void *arg) {
    (void)arg;
    g_digest = deja_disk_digest(deja_node_disk(w, 0));
}

static uint64_t torn_run(uint64_t seed, uint64_t *trace) {
    deja_disk_cfg c = cfg_off();
    c.crash_keep_ppm = 300000;
    c.crash_torn_ppm = 400000;
    deja_world *w = world(seed, body_many, &c, 3 * RT_SEC);
    deja_node_crash(w, 0, RT_SEC, -1);
    deja_world_at(w, RT_SEC + RT_MS, take_digest, NULL);
    run(w);
    *trace = deja_world_digest(w);
    deja_world_free(w);
    return g_digest;
}

static void test_crash_deterministic(void **state) {
    (void)state;
    uint64_t t1, t2, t3;
    uint64_t a = torn_run(7, &t1), b = torn_run(7, &t2), c = torn_run(8, &t3);
    assert_true(a == b);
    assert_true(t1 == t2);
    assert_true(a != c); /* 16 writes of 8 sectors each: a collision is ~impossible */
    assert_true(t1 != t3);
}

/* ---- failed fsync ------------------------------------------------------------- */

static int g_sync_rc, g_retry_rc;
static uint8_t g_before;

static void body_fsync(int start) {
    if (start == 1) {
        rt_file *f = open_new("s");
        uint8_t buf[SEC];
        fill(buf, SEC, 0x44);
        assert_int_equal(rt_file_write(f, 0, buf, SEC), RT_OK);
        g_sync_rc = rt_file_sync(f);
        size_t got;
        uint8_t b = 0;
        assert_int_equal(rt_file_read(f, 0, &b, 1, &got), RT_OK);
        g_before = b; /* the page cache still has it */
        deja_disk_cfg c = g_cfg;
        c.fsync_fail_ppm = 0;
        set_cfg(c);
        g_retry_rc = rt_file_sync(f); /* succeeds, and saves nothing */
        rt_sleep_ns(10 * RT_SEC);
    }
    rt_file *f = NULL;
    assert_int_equal(rt_file_open("s", 0, &f), RT_OK);
    g_seen[0] = rt_file_size(f) > 0 ? 0x44 : 0;
    rt_file_close(f);
}

static void fsync_run(uint32_t fail_ppm) {
    deja_disk_cfg c = cfg_off();
    c.crash_keep_ppm = 1000000; /* every unsynced write that is still pending survives */
    c.fsync_fail_ppm = fail_ppm;
    deja_world *w = world(1, body_fsync, &c, 5 * RT_SEC);
    deja_node_crash(w, 0, RT_SEC, RT_SEC);
    run(w);
    assert_int_equal(g_starts, 2);
    deja_world_free(w);
}

static void test_fsync_fail(void **state) {
    (void)state;
    fsync_run(1000000);
    assert_int_equal(g_sync_rc, RT_EIO);
    assert_int_equal(g_before, 0x44);
    assert_int_equal(g_retry_rc, RT_OK);
    assert_int_equal(g_seen[0], 0); /* dropped: not even keep-100% brings it back */
    fsync_run(0);
    assert_int_equal(g_sync_rc, RT_OK);
    assert_int_equal(g_seen[0], 0x44);
}

/* ---- a full disk ----------------------------------------------------------------- */

static void body_enospc(int start) {
    (void)start;
    rt_file *f = open_new("full");
    uint8_t buf[4 * SEC];
    fill(buf, sizeof buf, 1);
    int limited = g_cfg.capacity > 0;
    assert_int_equal(rt_file_write(f, 0, buf, sizeof buf), RT_OK);
    assert_int_equal(rt_file_write(f, 4 * SEC, buf, sizeof buf), RT_OK); /* 4 KiB: full */
    assert_int_equal(rt_file_write(f, 8 * SEC, buf, 1), limited ? RT_ENOSPC : RT_OK);
    assert_int_equal(rt_file_size(f), limited ? 8 * SEC : 8 * SEC + 1);
    assert_int_equal(rt_file_write(f, 0, buf, sizeof buf), RT_OK); /* overwrites still fit */
    rt_file *g = open_new("other");
    assert_int_equal(rt_file_write(g, 0, buf, 1), limited ? RT_ENOSPC : RT_OK);
    assert_int_equal(rt_file_truncate(g, 10), limited ? RT_ENOSPC : RT_OK);
    assert_int_equal(rt_file_truncate(f, 6 * SEC), RT_OK); /* frees space */
    assert_int_equal(rt_file_write(g, 0, buf, 2 * SEC), RT_OK);
    rt_file_close(g);
    assert_int_equal(rt_file_delete("other"), RT_OK);
    assert_int_equal(rt_file_write(f, 6 * SEC, buf, 2 * SEC), RT_OK);
    rt_file_close(f);
    assert_int_equal(deja_disk_faults(my_disk()), limited ? 3 : 0);
}

static void test_enospc(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.capacity = 8 * SEC;
    deja_world *w = world(1, body_enospc, &c, RT_SEC);
    run(w);
    deja_world_free(w);
    c.capacity = 0;
    w = world(1, body_enospc, &c, RT_SEC);
    run(w);
    deja_world_free(w);
}

/* ---- latent sector errors ------------------------------------------------------- */

static int g_bad_count, g_bad_sector;

static void body_latent(int start) {
    (void)start;
    rt_file *f = open_new("l");
    uint8_t buf[4 * SEC];
    fill(buf, sizeof buf, 7);
    assert_int_equal(rt_file_write(f, 0, buf, sizeof buf), RT_OK); /* may leave one bad sector */
    deja_disk_cfg c = g_cfg;
    c.latent_ppm = 0;
    set_cfg(c);
    size_t got;
    int whole = rt_file_read(f, 0, buf, sizeof buf, &got);
    g_bad_count = 0;
    g_bad_sector = -1;
    for (int s = 0; s < 4; s++)
        if (rt_file_read(f, s * SEC, buf, SEC, &got) == RT_EIO) {
            g_bad_count++;
            g_bad_sector = s;
            assert_int_equal(rt_file_read(f, s * SEC + 100, buf, 1, &got), RT_EIO); /* any byte of it */
        }
    assert_int_equal(whole, g_bad_count ? RT_EIO : RT_OK);
    if (g_bad_sector >= 0) {
        /* a sync does not heal it; rewriting (even a part of) it does */
        assert_int_equal(rt_file_sync(f), RT_OK);
        assert_int_equal(rt_file_read(f, 0, buf, sizeof buf, &got), RT_EIO);
        assert_int_equal(rt_file_write(f, g_bad_sector * SEC + 10, buf, 1), RT_OK);
        assert_int_equal(rt_file_read(f, 0, buf, sizeof buf, &got), RT_OK);
        assert_int_equal(got, sizeof buf);
    }
    rt_file_close(f);
}

static void test_latent(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.latent_ppm = 1000000;
    deja_world *w = world(1, body_latent, &c, RT_SEC);
    run(w);
    assert_int_equal(g_bad_count, 1);
    assert_int_equal(deja_disk_faults(deja_node_disk(w, 0)), 1);
    deja_world_free(w);
    c.latent_ppm = 0;
    w = world(1, body_latent, &c, RT_SEC);
    run(w);
    assert_int_equal(g_bad_count, 0);
    assert_int_equal(deja_disk_faults(deja_node_disk(w, 0)), 0);
    deja_world_free(w);
}

/* ---- corrupted reads --------------------------------------------------------------- */

static int g_flipped_bits, g_clean_after;

static int popcount8(uint8_t x) {
    int n = 0;
    for (; x; x &= (uint8_t)(x - 1)) n++;
    return n;
}

static void body_corrupt(int start) {
    (void)start;
    rt_file *f = open_new("c");
    uint8_t want[2 * SEC], got_buf[2 * SEC];
    for (size_t i = 0; i < sizeof want; i++) want[i] = (uint8_t)(i * 7);
    assert_int_equal(rt_file_write(f, 0, want, sizeof want), RT_OK);
    size_t got;
    assert_int_equal(rt_file_read(f, 0, got_buf, sizeof got_buf, &got), RT_OK);
    assert_int_equal(got, sizeof got_buf);
    g_flipped_bits = 0;
    for (size_t i = 0; i < sizeof want; i++) g_flipped_bits += popcount8((uint8_t)(want[i] ^ got_buf[i]));
    deja_disk_cfg c = g_cfg;
    c.corrupt_ppm = 0;
    set_cfg(c);
    assert_int_equal(rt_file_read(f, 0, got_buf, sizeof got_buf, &got), RT_OK);
    g_clean_after = memcmp(want, got_buf, sizeof want) == 0; /* the disk itself unchanged */
    rt_file_close(f);
}

static void test_corrupt_read(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.corrupt_ppm = 1000000;
    deja_world *w = world(1, body_corrupt, &c, RT_SEC);
    run(w);
    assert_int_equal(g_flipped_bits, 1);
    assert_true(g_clean_after);
    deja_world_free(w);
    c.corrupt_ppm = 0;
    w = world(1, body_corrupt, &c, RT_SEC);
    run(w);
    assert_int_equal(g_flipped_bits, 0);
    assert_true(g_clean_after);
    deja_world_free(w);
}

/* ---- misdirected writes ----------------------------------------------------------- */

static uint8_t g_layout[8];

static void body_misdirect(int start) {
    (void)start;
    rt_file *f = open_new("md");
    deja_disk_cfg c = g_cfg;
    uint32_t on = c.misdirect_ppm;
    c.misdirect_ppm = 0;
    set_cfg(c);
    uint8_t buf[8 * SEC];
    fill(buf, sizeof buf, 0);
    assert_int_equal(rt_file_write(f, 0, buf, sizeof buf), RT_OK);
    assert_int_equal(rt_file_sync(f), RT_OK);
    c.misdirect_ppm = on;
    set_cfg(c);
    fill(buf, SEC, 0xaa);
    assert_int_equal(rt_file_write(f, 2 * SEC, buf, SEC), RT_OK);
    assert_int_equal(rt_file_size(f), 8 * SEC);
    size_t got;
    for (int s = 0; s < 8; s++) {
        assert_int_equal(rt_file_read(f, s * SEC, buf, SEC, &got), RT_OK);
        g_layout[s] = buf[0];
    }
    rt_file_close(f);
}

static void test_misdirect(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.misdirect_ppm = 1000000;
    deja_world *w = world(1, body_misdirect, &c, RT_SEC);
    run(w);
    int landed = -1, n = 0;
    for (int s = 0; s < 8; s++)
        if (g_layout[s] == 0xaa) landed = s, n++;
    assert_int_equal(n, 1);
    assert_true(landed >= 0 && landed != 2); /* elsewhere, a whole sector away */
    assert_int_equal(deja_disk_faults(deja_node_disk(w, 0)), 1);
    deja_world_free(w);
    c.misdirect_ppm = 0;
    w = world(1, body_misdirect, &c, RT_SEC);
    run(w);
    for (int s = 0; s < 8; s++) assert_int_equal(g_layout[s], s == 2 ? 0xaa : 0);
    deja_world_free(w);
}

/* ---- latency ----------------------------------------------------------------------- */

static int64_t g_lat_write, g_lat_sync, g_lat_nowait;

static void body_latency(int start) {
    (void)start;
    rt_file *f = open_new("lat");
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_file_write(f, 0, "x", 1), RT_OK);
    int64_t t1 = rt_mono_ns();
    assert_int_equal(rt_file_sync(f), RT_OK);
    int64_t t2 = rt_mono_ns();
    rt_file_close(f);
    assert_int_equal(rt_file_open("lat", RT_O_NOWAIT, &f), RT_OK);
    int64_t t3 = rt_mono_ns();
    assert_int_equal(rt_file_write(f, 0, "y", 1), RT_OK);
    assert_int_equal(rt_file_sync(f), RT_OK);
    g_lat_nowait = rt_mono_ns() - t3;
    rt_file_close(f);
    g_lat_write = t1 - t0;
    g_lat_sync = t2 - t1;
}

static void test_latency(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    c.latency_ns = 250 * 1000;
    deja_world *w = world(1, body_latency, &c, RT_SEC);
    run(w);
    assert_int_equal(g_lat_write, 250 * 1000);
    assert_int_equal(g_lat_sync, 250 * 1000);
    assert_int_equal(g_lat_nowait, 0);
    deja_world_free(w);
    c.sync_ns = 3 * RT_MS; /* a slow fsync: only syncs take longer */
    w = world(1, body_latency, &c, RT_SEC);
    run(w);
    assert_int_equal(g_lat_write, 250 * 1000);
    assert_int_equal(g_lat_sync, 250 * 1000 + 3 * RT_MS);
    deja_world_free(w);
    c.sync_jitter_ns = RT_MS; /* plus uniform [0, 2 ms] per sync, from its own stream */
    w = world(1, body_latency, &c, RT_SEC);
    run(w);
    assert_int_equal(g_lat_write, 250 * 1000);
    assert_in_range(g_lat_sync, 250 * 1000 + 3 * RT_MS, 250 * 1000 + 5 * RT_MS);
    deja_world_free(w);
    c.latency_ns = 0;
    c.sync_ns = 0;
    c.sync_jitter_ns = 0;
    w = world(1, body_latency, &c, RT_SEC);
    run(w);
    assert_int_equal(g_lat_write, 0);
    assert_int_equal(g_lat_sync, 0);
    deja_world_free(w);
}

/* ---- faults replay: same seed, same trace ------------------------------------------ */

static void body_mixed(int start) {
    (void)start;
    rt_file *f = open_new("mix");
    uint8_t buf[3 * SEC];
    size_t got;
    for (int i = 0; i < 200; i++) {
        fill(buf, sizeof buf, (uint8_t)i);
        int64_t off = (int64_t)(rt_rand_u64() % 32) * SEC;
        rt_file_write(f, off, buf, sizeof buf);
        rt_file_read(f, off, buf, sizeof buf, &got);
        if (i % 10 == 0) rt_file_sync(f);
    }
    rt_file_close(f);
}

static uint64_t mixed_run(uint64_t seed, uint64_t *disk_digest, uint64_t *faults) {
    deja_disk_cfg c = cfg_off();
    c.latent_ppm = c.corrupt_ppm = c.misdirect_ppm = c.fsync_fail_ppm = 50000;
    c.latency_ns = 100 * 1000;
    deja_world *w = world(seed, body_mixed, &c, 10 * RT_SEC);
    run(w);
    *disk_digest = deja_disk_digest(deja_node_disk(w, 0));
    *faults = deja_disk_faults(deja_node_disk(w, 0));
    uint64_t d = deja_world_digest(w);
    deja_world_free(w);
    return d;
}

static void test_faults_replay(void **state) {
    (void)state;
    uint64_t d1, d2, d3, f1, f2, f3;
    uint64_t a = mixed_run(5, &d1, &f1), b = mixed_run(5, &d2, &f2), c = mixed_run(6, &d3, &f3);
    assert_true(a == b && d1 == d2 && f1 == f2);
    assert_true(f1 > 10);
    assert_true(a != c && d1 != d3);
}

/* ---- parameters ------------------------------------------------------------------ */

static void test_config(void **state) {
    (void)state;
    deja_disk_cfg c;
    char err[200];
    assert_int_equal(deja_disk_config(NULL, &c, err, sizeof err), 0);
    assert_int_equal(c.sector_size, 512);
    assert_int_equal(c.capacity, 0);
    assert_int_equal(c.crash_keep_ppm, 500000);
    assert_int_equal(c.crash_torn_ppm + c.latent_ppm + c.corrupt_ppm + c.misdirect_ppm + c.fsync_fail_ppm, 0);
    assert_int_equal(c.latency_ns, 0);
    deja_params *p = deja_params_new();
    deja_params_set(p, "disk.capacity_mb", "0.5");
    deja_params_set(p, "disk.crash_torn_pct", "12.5");
    deja_params_set(p, "disk.latency_us", "40");
    deja_params_set(p, "disk.sync_us", "3000");
    deja_params_set(p, "disk.sector_bytes", "4096");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 0);
    assert_int_equal(c.sync_ns, 3000000);
    assert_int_equal(c.capacity, 512 * 1024);
    assert_int_equal(c.crash_torn_ppm, 125000);
    assert_int_equal(c.latency_ns, 40000);
    assert_int_equal(c.sector_size, 4096);
    deja_params_set(p, "disk.sync_us", "-1");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 2);
    assert_non_null(strstr(err, "disk.sync_us"));
    deja_params_set(p, "disk.sync_us", "0");
    deja_params_set(p, "disk.sync_jitter_us", "700");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 0);
    assert_int_equal(c.sync_jitter_ns, 700000);
    deja_params_set(p, "disk.sync_jitter_us", "x");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 2);
    assert_non_null(strstr(err, "disk.sync_jitter_us"));
    deja_params_set(p, "disk.sync_jitter_us", "0");
    deja_params_set(p, "disk.sector_bytes", "1000");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 2);
    assert_non_null(strstr(err, "disk.sector_bytes"));
    deja_params_set(p, "disk.sector_bytes", "512");
    deja_params_set(p, "disk.crash_keep_pct", "90");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 2);
    assert_non_null(strstr(err, "disk.crash_torn_pct"));
    deja_params_set(p, "disk.crash_keep_pct", "101");
    assert_int_equal(deja_disk_config(p, &c, err, sizeof err), 2);
    assert_non_null(strstr(err, "disk.crash_keep_pct"));
    deja_params_free(p);
    int n = 0;
    for (const deja_param_def *d = deja_disk_params; d->key; d++, n++) assert_non_null(d->help);
    assert_int_equal(n, 11);
}

/* ---- how fast ------------------------------------------------------------------------ */

#define BENCH_OPS 20000
static void body_bench(int start) {
    (void)start;
    rt_file *f = open_new("bench");
    static uint8_t buf[4096];
    for (int i = 0; i < BENCH_OPS; i++) {
        buf[0] = (uint8_t)i;
        assert_int_equal(rt_file_write(f, (int64_t)(i % 1024) * 4096, buf, sizeof buf), RT_OK);
        assert_int_equal(rt_file_sync(f), RT_OK);
    }
    rt_file_close(f);
}

static void test_bench(void **state) {
    (void)state;
    deja_disk_cfg c = cfg_off();
    deja_world *w = world(1, body_bench, &c, RT_SEC);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(w);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t ops = deja_disk_ops(deja_node_disk(w, 0));
    printf("bench: %llu disk ops (4 KiB write + sync pairs) in %.3f s: %.0f ops/s\n", (unsigned long long)ops, s,
           (double)ops / s);
    deja_world_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),           cmocka_unit_test(test_crash_drop_unsynced),
        cmocka_unit_test(test_crash_keep_unsynced), cmocka_unit_test(test_crash_torn),
        cmocka_unit_test(test_crash_deterministic), cmocka_unit_test(test_fsync_fail),
        cmocka_unit_test(test_enospc),          cmocka_unit_test(test_latent),
        cmocka_unit_test(test_corrupt_read),    cmocka_unit_test(test_misdirect),
        cmocka_unit_test(test_latency),         cmocka_unit_test(test_faults_replay),
        cmocka_unit_test(test_config),          cmocka_unit_test(test_bench),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
