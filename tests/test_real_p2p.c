/*
 * test_real_p2p.c -- the reference node's transaction pool (node/p2p.h) on
 * the production backend, its workers and handlers real threads: a burst
 * far faster than the verifier fills the pool's queue and the rest is
 * refused, what was queued is verified, and stopping leaves no thread; with
 * p2p.pool=0 every transaction gets a thread of its own, none is refused,
 * and stopping still ends them all (they skip the work once cancelled).
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
#include "msg.h"
#include "p2p.h"
#include "real/real.h"

#define BURST 100

static void start(const char *pool) {
    char err[256], kv[64];
    snprintf(kv, sizeof kv, "p2p.pool=%s", pool);
    assert_int_equal(real_param_set(kv, err, sizeof err), 0);
    assert_int_equal(real_param_set("p2p.queue=8", err, sizeof err), 0);
    assert_int_equal(real_param_set("p2p.verify_us=10000", err, sizeof err), 0);
    real_opts o = {0};
    assert_int_equal(real_init(&o, err, sizeof err), 0);
}

/* A received MSG_TX from node 1, as the network would hand it over. */
static rt_msg *tx_msg(uint64_t tx) {
    rt_msg *m = rt_malloc(sizeof *m + MSG_TX_LEN);
    assert_non_null(m);
    m->from = 1;
    m->len = (uint32_t)msg_encode_tx(tx, m->data, MSG_TX_LEN);
    assert_int_equal(m->len, MSG_TX_LEN);
    return m;
}

/* Sends BURST transactions at once, waits until what was taken is
 * verified (bounded), stops, and returns the counts. */
static p2p_stats burst(void) {
    rt_ctx *ctx = rt_ctx_with_cancel(NULL);
    p2p *p = NULL;
    for (uint64_t i = 0; i < BURST; i++) assert_true(p2p_take(&p, ctx, tx_msg(i + 1)));
    rt_msg *m = rt_malloc(sizeof *m + 1); /* not a transaction: left to the caller */
    m->from = 1;
    m->len = 1;
    m->data[0] = MSG_BLOCK;
    assert_false(p2p_take(&p, ctx, m));
    rt_msg_free(m);
    p2p_stats st;
    for (int i = 0; i < 500; i++) { /* 100 x 10 ms at most, give it 5 s */
        p2p_stats_get(p, &st);
        if (st.verified + st.refused == BURST) break;
        rt_sleep_ns(10 * RT_MS);
    }
    p2p_stats_get(p, &st);
    p2p_stop(&p);
    assert_null(p); /* every worker and handler ended */
    rt_ctx_cancel(ctx);
    rt_ctx_release(ctx);
    return st;
}

static void test_pool_refuses_on_real_threads(void **state) {
    (void)state;
    start("4");
    p2p_stats st = burst();
    assert_int_equal(st.taken, BURST);
    assert_true(st.refused > 0);
    assert_true(st.refused <= BURST - 8); /* at least the queue's worth was kept */
    assert_int_equal(st.verified + st.refused, BURST);
    assert_int_equal(st.bad, 0);
    assert_true(st.peak <= 8 + 4 + 1); /* the queue, and one in each worker's hands */
}

static void test_unbounded_on_real_threads(void **state) {
    (void)state;
    start("0");
    p2p_stats st = burst();
    assert_int_equal(st.taken, BURST);
    assert_int_equal(st.refused, 0);
    assert_int_equal(st.verified, BURST);
    assert_true(st.peak > 8 + 4 + 1); /* threads piled up behind the verifier */
}

/* Every test ends with a shutdown that finds no task left. */
static int teardown(void **state) {
    (void)state;
    return real_shutdown(5 * RT_SEC) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_pool_refuses_on_real_threads, teardown),
        cmocka_unit_test_teardown(test_unbounded_on_real_threads, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
