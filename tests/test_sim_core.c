/*
 * test_sim_core.c -- the simulator's scheduler and primitives: tasks,
 * channels (buffered, unbuffered, close, the operations that complete at
 * once), select with timeout, contexts,
 * wait groups, mutexes, timers, clocks with drift and steps, the network,
 * the task dump, and trace determinism.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/rt.h"
#include "deja/world.h"

/* Each test registers a program whose body records results here; tests run
 * one world at a time, so a static log is enough. */
static char g_log[4096];
static void logf_(const char *fmt, ...) {
    size_t off = strlen(g_log);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_log + off, sizeof g_log - off, fmt, ap);
    va_end(ap);
}

static deja_world *world_with(const char *prog, int nodes, int64_t dur) {
    g_log[0] = 0;
    deja_world *w = deja_world_new(42, NULL);
    for (int i = 0; i < nodes; i++) assert_int_equal(deja_node_add(w, prog, 0, 0), i);
    deja_world_set_duration(w, dur);
    return w;
}

static void run_and_free(deja_world *w) {
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
}

/* ---- unbuffered channel: send completes only when taken ------------------- */

typedef struct {
    rt_chan *ch;
    rt_wg *wg;
} pair_t;

static void sender(void *arg) {
    pair_t *p = arg;
    int v = 7;
    int64_t t0 = rt_mono_ns();
    int r = rt_chan_send(p->ch, &v, RT_FOREVER);
    logf_("sent r=%d after=%lld;", r, (long long)((rt_mono_ns() - t0) / RT_MS));
    rt_wg_done(p->wg);
}

static void prog_unbuffered(rt_ctx *ctx) {
    (void)ctx;
    pair_t p = {rt_chan_new("c", sizeof(int), 0), rt_wg_new()};
    rt_wg_add(p.wg, 1);
    rt_spawn("sender", sender, &p);
    rt_sleep_ns(100 * RT_MS);
    int v = 0;
    int r = rt_chan_recv(p.ch, &v, RT_FOREVER);
    logf_("recv r=%d v=%d;", r, v);
    assert_int_equal(rt_wg_wait(p.wg, RT_SEC), RT_OK);
    rt_chan_free(p.ch);
    rt_wg_free(p.wg);
}

static void test_unbuffered(void **state) {
    (void)state;
    rt_program_register("t-unbuf", prog_unbuffered);
    run_and_free(world_with("t-unbuf", 1, RT_SEC));
    assert_string_equal(g_log, "recv r=0 v=7;sent r=0 after=100;");
}

/* ---- buffered channel, close drains then reports closed ------------------- */

static void prog_buffered(rt_ctx *ctx) {
    (void)ctx;
    rt_chan *ch = rt_chan_new("b", sizeof(int), 2);
    int a = 1, b = 2, c = 3, v;
    assert_int_equal(rt_chan_send(ch, &a, 0), RT_OK);
    assert_int_equal(rt_chan_send(ch, &b, 0), RT_OK);
    assert_int_equal(rt_chan_send(ch, &c, 0), RT_ETIMEDOUT); /* full */
    assert_int_equal(rt_chan_send(ch, &c, 10 * RT_MS), RT_ETIMEDOUT);
    rt_chan_close(ch);
    assert_int_equal(rt_chan_send(ch, &c, 0), RT_ECLOSED);
    assert_int_equal(rt_chan_recv(ch, &v, 0), RT_OK);
    assert_int_equal(v, 1);
    assert_int_equal(rt_chan_recv(ch, &v, 0), RT_OK);
    assert_int_equal(v, 2);
    assert_int_equal(rt_chan_recv(ch, &v, RT_FOREVER), RT_ECLOSED);
    logf_("ok");
    rt_chan_free(ch);
}

static void test_buffered_close(void **state) {
    (void)state;
    rt_program_register("t-buf", prog_buffered);
    run_and_free(world_with("t-buf", 1, RT_SEC));
    assert_string_equal(g_log, "ok");
}

/* ---- the message path: sends and receives that complete at once ---------- */

typedef struct {
    uint64_t a, b;
} pair16;

static int g_block_line; /* the line a task blocks at after quick operations */

static void slow_sender(void *arg) {
    int64_t v = 99;
    logf_("sender=%d;", rt_chan_send(arg, &v, RT_FOREVER));
}

static void slow_receiver(void *arg) {
    int64_t v = 0;
    int r = rt_chan_recv(arg, &v, RT_FOREVER);
    logf_("receiver=%d,%lld;", r, (long long)v);
}

static void quick_then_block(void *arg) {
    rt_chan *never = arg, *own = rt_chan_new("own", sizeof(int64_t), 1);
    int64_t v = 5;
    rt_chan_send(own, &v, 0);
    rt_chan_recv(own, &v, 0);
    g_block_line = __LINE__ + 1;
    rt_chan_recv(never, &v, RT_FOREVER);
}

static void prog_quick(rt_ctx *ctx) {
    (void)ctx;
    /* 8-, 4- and 16-byte elements through buffers that wrap many times */
    rt_chan *c8 = rt_chan_new("c8", sizeof(int64_t), 3), *c4 = rt_chan_new("c4", sizeof(uint32_t), 2);
    rt_chan *c16 = rt_chan_new("c16", sizeof(pair16), 2);
    int64_t next8 = 0, want8 = 0;
    uint32_t next4 = 0, want4 = 0;
    for (int round = 0; round < 20; round++) {
        for (int k = 0; k < 1 + round % 3; k++, next8++) assert_int_equal(rt_chan_send(c8, &next8, 0), RT_OK);
        int64_t v8 = -1;
        if (round % 3 == 2) assert_int_equal(rt_chan_send(c8, &next8, 0), RT_ETIMEDOUT); /* full */
        while (rt_chan_recv(c8, &v8, 0) == RT_OK) assert_int_equal(v8, want8++);
        assert_int_equal(rt_chan_len(c8), 0);
        assert_int_equal(rt_chan_send(c4, &next4, 0), RT_OK);
        next4++;
        assert_int_equal(rt_chan_send(c4, &next4, 0), RT_OK);
        next4++;
        uint32_t v4 = 0;
        assert_int_equal(rt_chan_recv(c4, NULL, 0), RT_OK); /* dropped */
        want4++;
        assert_int_equal(rt_chan_recv(c4, &v4, 0), RT_OK);
        assert_int_equal(v4, want4++);
        pair16 p = {(uint64_t)round, ~(uint64_t)round}, q = {0, 0};
        assert_int_equal(rt_chan_send(c16, &p, 0), RT_OK);
        assert_int_equal(rt_chan_recv(c16, &q, 0), RT_OK);
        assert_true(q.a == p.a && q.b == p.b);
    }
    assert_int_equal(want8, next8);
    /* a sender waits on a full buffer: a receive takes the buffered element
     * and moves the sender's into the buffer */
    int64_t one = 1, v = 0;
    rt_chan_send(c8, &one, 0);
    rt_chan_send(c8, &one, 0);
    rt_chan_send(c8, &one, 0);
    rt_spawn("slow-sender", slow_sender, c8);
    rt_sleep_ns(RT_MS);
    assert_int_equal(rt_chan_len(c8), 3);
    assert_int_equal(rt_chan_recv(c8, &v, 0), RT_OK);
    assert_int_equal(v, 1);
    assert_int_equal(rt_chan_len(c8), 3);
    rt_sleep_ns(RT_MS);
    for (int k = 0; k < 3; k++) assert_int_equal(rt_chan_recv(c8, &v, 0), RT_OK);
    assert_int_equal(v, 99);
    /* a receiver waits on an empty buffer: a send hands the element over */
    rt_spawn("slow-receiver", slow_receiver, c8);
    rt_sleep_ns(RT_MS);
    int64_t seven = 7;
    assert_int_equal(rt_chan_send(c8, &seven, 0), RT_OK);
    assert_int_equal(rt_chan_len(c8), 0);
    /* a closed channel takes no send, though its buffer has room */
    assert_int_equal(rt_sleep_ns(RT_MS), RT_OK);
    rt_chan_send(c8, &seven, 0);
    rt_chan_close(c8);
    assert_int_equal(rt_chan_send(c8, &seven, 0), RT_ECLOSED);
    assert_int_equal(rt_chan_recv(c8, &v, 0), RT_OK);
    assert_int_equal(rt_chan_recv(c8, &v, 0), RT_ECLOSED);
    rt_chan_free(c8);
    rt_chan_free(c4);
    rt_chan_free(c16);
    /* a task that blocks after quick operations shows where it blocked */
    rt_spawn("quick-then-block", quick_then_block, rt_chan_new("never", sizeof(int64_t), 0));
    logf_("ok;");
}

static void test_quick_ops(void **state) {
    (void)state;
    rt_program_register("t-quick", prog_quick);
    deja_world *w = world_with("t-quick", 1, RT_SEC);
    deja_world_run(w);
    assert_string_equal(g_log, "sender=0;receiver=0,7;ok;");
    char dump[4096] = {0}, site[64];
    FILE *f = fmemopen(dump, sizeof dump, "w");
    deja_world_dump_tasks(w, f);
    fclose(f);
    snprintf(site, sizeof site, "on chan recv never at %s:%d", __FILE__, g_block_line);
    assert_non_null(strstr(dump, site));
    deja_world_free(w);
}

/* ---- select: timeout, lowest ready index, ctx cancellation ---------------- */

static void canceller(void *arg) {
    rt_sleep_ns(30 * RT_MS);
    rt_ctx_cancel(arg);
}

static void prog_select(rt_ctx *root) {
    rt_chan *a = rt_chan_new("a", sizeof(int), 1), *b = rt_chan_new("b", sizeof(int), 1);
    int x = 0, y = 0;
    rt_case cs[2] = {{a, RT_RECV, &x, 0}, {b, RT_RECV, &y, 0}};
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_select(cs, 2, 50 * RT_MS), RT_ETIMEDOUT);
    assert_int_equal(rt_mono_ns() - t0, 50 * RT_MS);
    int one = 1, two = 2;
    rt_chan_send(b, &two, 0);
    rt_chan_send(a, &one, 0);
    assert_int_equal(rt_select(cs, 2, 0), 0); /* both ready: lowest index */
    assert_int_equal(x, 1);
    assert_int_equal(rt_select(cs, 2, 0), 1);
    assert_int_equal(y, 2);
    rt_ctx *c = rt_ctx_with_cancel(root);
    rt_spawn("canceller", canceller, c);
    rt_case cc[2] = {{a, RT_RECV, &x, 0}, {rt_ctx_done(c), RT_RECV, NULL, 0}};
    assert_int_equal(rt_select(cc, 2, RT_FOREVER), 1);
    assert_int_equal(cc[1].result, RT_ECLOSED);
    assert_int_equal(rt_ctx_err(c), RT_ECANCELED);
    rt_ctx *d = rt_ctx_with_timeout(root, 20 * RT_MS);
    rt_ctx *dchild = rt_ctx_with_cancel(d);
    t0 = rt_mono_ns();
    assert_int_equal(rt_chan_recv(rt_ctx_done(dchild), NULL, RT_FOREVER), RT_ECLOSED);
    assert_int_equal(rt_ctx_err(dchild), RT_ETIMEDOUT);
    assert_int_equal(rt_mono_ns() - t0, 20 * RT_MS);
    rt_ctx_release(dchild);
    rt_ctx_release(d);
    rt_ctx_release(c);
    rt_chan_free(a);
    rt_chan_free(b);
    logf_("ok");
}

static void test_select(void **state) {
    (void)state;
    rt_program_register("t-select", prog_select);
    run_and_free(world_with("t-select", 1, RT_SEC));
    assert_string_equal(g_log, "ok");
}

/* ---- mutex hand-off in FIFO order, lock timeout --------------------------- */

typedef struct {
    rt_mutex *m;
    rt_wg *wg;
    int id;
} locker_t;

static void locker(void *arg) {
    locker_t *l = arg;
    assert_int_equal(rt_mutex_lock(l->m, RT_FOREVER), RT_OK);
    logf_("%d", l->id);
    rt_sleep_ns(RT_MS);
    rt_mutex_unlock(l->m);
    rt_wg_done(l->wg);
}

static void prog_mutex(rt_ctx *ctx) {
    (void)ctx;
    rt_mutex *m = rt_mutex_new("m");
    rt_wg *wg = rt_wg_new();
    locker_t ls[3];
    assert_int_equal(rt_mutex_lock(m, 0), RT_OK);
    for (int i = 0; i < 3; i++) {
        ls[i] = (locker_t){m, wg, i};
        rt_wg_add(wg, 1);
        rt_spawn("locker", locker, &ls[i]);
    }
    rt_sleep_ns(RT_MS);
    rt_mutex_unlock(m);
    assert_int_equal(rt_wg_wait(wg, RT_SEC), RT_OK);
    assert_int_equal(rt_mutex_lock(m, 0), RT_OK);
    rt_mutex_unlock(m);
    rt_wg_free(wg);
    rt_mutex_free(m);
}

static void test_mutex(void **state) {
    (void)state;
    rt_program_register("t-mutex", prog_mutex);
    run_and_free(world_with("t-mutex", 1, RT_SEC));
    assert_string_equal(g_log, "012");
}

/* ---- clocks: drift stretches true time, steps move wall only -------------- */

static void prog_clock(rt_ctx *ctx) {
    (void)ctx;
    int64_t m0 = rt_mono_ns(), w0 = rt_wall_ns();
    rt_sleep_ns(10 * RT_SEC);
    logf_("mono=%lld wall=%lld;", (long long)(rt_mono_ns() - m0), (long long)(rt_wall_ns() - w0));
    rt_sleep_ns(10 * RT_SEC); /* a -2 s step happens at t=15 s */
    logf_("mono=%lld wall=%lld;", (long long)(rt_mono_ns() - m0), (long long)(rt_wall_ns() - w0));
}

static void test_clock(void **state) {
    (void)state;
    rt_program_register("t-clock", prog_clock);
    g_log[0] = 0;
    deja_world *w = deja_world_new(1, NULL);
    assert_int_equal(deja_node_add(w, "t-clock", 0, 100000 /* 100 ppm fast */), 0);
    deja_clock_step(w, 0, 15 * RT_SEC, -2 * RT_SEC);
    deja_world_set_duration(w, 30 * RT_SEC);
    deja_world_run(w);
    /* monotonic time never jumps: exactly the requested sleeps (rounded up by
     * at most one ns of true time); wall time jumps back by the step */
    assert_string_equal(g_log, "mono=10000000000 wall=10000000000;mono=20000000000 wall=18000000000;");
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
}

/* ---- timers and tickers ------------------------------------------------------ */

static void prog_ticker(rt_ctx *ctx) {
    (void)ctx;
    rt_timer *t = rt_timer_new("tick", 100 * RT_MS, 100 * RT_MS);
    int64_t m0 = rt_mono_ns(), v;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(rt_chan_recv(rt_timer_chan(t), &v, RT_FOREVER), RT_OK);
        logf_("%lld,", (long long)((v - m0) / RT_MS));
    }
    rt_sleep_ns(350 * RT_MS); /* missed ticks are dropped, one stays buffered */
    assert_int_equal(rt_chan_recv(rt_timer_chan(t), &v, 0), RT_OK);
    assert_int_equal(rt_chan_recv(rt_timer_chan(t), &v, 0), RT_ETIMEDOUT);
    rt_timer_stop(t);
}

static void test_ticker(void **state) {
    (void)state;
    rt_program_register("t-ticker", prog_ticker);
    run_and_free(world_with("t-ticker", 1, 10 * RT_SEC));
    assert_string_equal(g_log, "100,200,300,");
}

/* ---- network: latency, and a partition drops messages --------------------- */

static void prog_net(rt_ctx *ctx) {
    if (rt_node_id() == 0) {
        uint8_t b = 1;
        rt_send(1, &b, 1);
        rt_sleep_ns(RT_SEC);
        b = 2;
        rt_send(1, &b, 1); /* partitioned at 0.5 s: lost */
        return;
    }
    rt_msg *m;
    rt_case cs[2] = {{rt_inbox(), RT_RECV, &m, 0}, {rt_ctx_done(ctx), RT_RECV, NULL, 0}};
    while (rt_select(cs, 2, RT_FOREVER) == 0) {
        logf_("got %u at %lld;", m->data[0], (long long)((rt_mono_ns() / RT_MS) % 1000000));
        rt_msg_free(m);
    }
}

static void test_net(void **state) {
    (void)state;
    rt_program_register("t-net", prog_net);
    deja_world *w = world_with("t-net", 2, 5 * RT_SEC);
    deja_net_config(w, 30 * RT_MS, 0, 0);
    uint8_t groups[2] = {0, 1};
    deja_net_partition(w, RT_SEC / 2, groups);
    run_and_free(w);
    assert_string_equal(g_log, "got 1 at 30;");
}

/* ---- leaked task shows in the dump, with its note; digests are deterministic */

static void stuck(void *arg) {
    rt_chan *ch = arg;
    int v;
    rt_task_note("a sender that never comes");
    rt_chan_recv(ch, &v, RT_FOREVER); /* nobody ever sends: a leak */
}

static void prog_leak(rt_ctx *ctx) {
    (void)ctx;
    rt_chan *ch = rt_chan_new("never", sizeof(int), 0);
    rt_spawn("stuck-worker", stuck, ch);
    rt_spawn("stuck-worker", stuck, ch);
    for (int i = 0; i < 5; i++) {
        rt_sleep_ns((int64_t)(rt_rand_u64() % 1000) * RT_MS);
        uint8_t b = (uint8_t)i;
        rt_send((rt_node_id() + 1) % rt_node_count(), &b, 1);
    }
}

static uint64_t leak_run(uint64_t seed, char *dump, size_t len) {
    deja_world *w = deja_world_new(seed, NULL);
    deja_node_add(w, "t-leak", 0, 0);
    deja_node_add(w, "t-leak", 0, 0);
    deja_net_config(w, 10 * RT_MS, 5 * RT_MS, 0);
    deja_world_set_duration(w, 10 * RT_SEC);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 4);
    FILE *f = fmemopen(dump, len, "w");
    deja_world_dump_tasks(w, f);
    fclose(f);
    uint64_t h = deja_world_digest(w);
    deja_world_free(w);
    return h;
}

static void test_leak_dump_and_digest(void **state) {
    (void)state;
    rt_program_register("t-leak", prog_leak);
    char d1[4096] = {0}, d2[4096] = {0}, d3[4096] = {0};
    uint64_t a = leak_run(7, d1, sizeof d1), b = leak_run(7, d2, sizeof d2), c = leak_run(8, d3, sizeof d3);
    assert_true(a == b);
    assert_true(a != c);
    assert_string_equal(d1, d2);
    assert_non_null(strstr(d1, "stuck-worker"));
    assert_non_null(strstr(d1, "test_sim_core.c"));
    assert_non_null(strstr(d1, "on chan recv never"));
    /* the note outlives the park, which names the channel */
    assert_non_null(strstr(d1, "never at "));
    assert_non_null(strstr(d1, "[a sender that never comes]"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbuffered),  cmocka_unit_test(test_buffered_close),
        cmocka_unit_test(test_select),      cmocka_unit_test(test_mutex),
        cmocka_unit_test(test_clock),       cmocka_unit_test(test_ticker),
        cmocka_unit_test(test_net),         cmocka_unit_test(test_leak_dump_and_digest),
        cmocka_unit_test(test_quick_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
