/*
 * test_net.c -- the simulated network's faults happen as specified: a
 * duplicated message is delivered twice, a held-back message is overtaken,
 * a one-way partition drops exactly one direction, a bridge node hears both
 * halves that do not hear each other, a clog holds messages until it heals,
 * corruption flips bits, bandwidth spaces large messages out, the Pareto
 * tail is long but capped, and the fixed-point helpers behind it are exact
 * enough. Each world here is built from the common parameters plus
 * overrides, as a scenario's would be.
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
#include "net.h"
#include "scenario_run.h"
#include "world_build.h"
#include "deja/models.h"
#include "node.h"

/* What node 1 (or any node) received: sender, first payload byte or u32
 * sequence number, and the true arrival time. */
#define MAXGOT 4096
typedef struct got {
    uint32_t to, from, seq, len;
    uint8_t first;
    int64_t at;
} got;
static got g_got[MAXGOT];
static int g_ngot;

/* The sending plan of every node: every `every` ns from `start` to
 * `stop`, send a message of `len` bytes (a u32 sequence number first) to
 * each node listed in `to` (a bitmask). */
static struct {
    int64_t start, stop, every;
    uint32_t len;
    uint64_t to[8];
} g_plan;

static void receiver(void *arg) {
    rt_ctx *ctx = arg;
    rt_msg *m;
    rt_case cs[2] = {{rt_inbox(), RT_RECV, &m, 0}, {rt_ctx_done(ctx), RT_RECV, NULL, 0}};
    while (rt_select(cs, 2, RT_FOREVER) == 0) {
        assert_true(g_ngot < MAXGOT);
        got *g = &g_got[g_ngot++];
        g->to = rt_node_id();
        g->from = m->from;
        g->len = m->len;
        g->seq = 0;
        if (m->len >= 4) memcpy(&g->seq, m->data, 4);
        g->first = m->len ? m->data[0] : 0;
        g->at = rt_mono_ns() - 1000 * RT_SEC; /* drift 0: true time */
        rt_msg_free(m);
    }
}

static void prog_plan(rt_ctx *ctx) {
    rt_spawn("recv", receiver, ctx);
    uint8_t buf[20000];
    memset(buf, 0xa5, sizeof buf);
    rt_sleep_ns(g_plan.start);
    for (uint32_t seq = 0; rt_mono_ns() - 1000 * RT_SEC < g_plan.stop; seq++) {
        memcpy(buf, &seq, 4);
        for (uint32_t to = 0; to < rt_node_count(); to++)
            if (g_plan.to[rt_node_id()] >> to & 1) rt_send(to, buf, g_plan.len);
        if (rt_sleep_ns(g_plan.every) != RT_OK || rt_ctx_err(ctx) != RT_OK) break;
    }
    rt_case c = {rt_ctx_done(ctx), RT_RECV, NULL, 0};
    (void)rt_select(&c, 1, RT_FOREVER);
}

/* Runs n nodes of prog_plan for dur with the common parameters plus sets
 * (latency 10 ms, no jitter unless set); before(w) may schedule faults. */
static void run_plan(int n, int64_t dur, const char *const *sets, void (*before)(deja_world *w)) {
    g_ngot = 0;
    deja_params *p = common_params(sets);
    deja_world *w = deja_world_new(11, p);
    for (int i = 0; i < n; i++) assert_int_equal(deja_node_add(w, "t-plan", 0, 0), i);
    deja_world_set_duration(w, dur);
    deja_net_config(w, 10 * RT_MS, 0, 0);
    char err[256];
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    if (before) before(w);
    deja_world_run(w);
    deja_world_shutdown(w, RT_SEC);
    assert_int_equal(deja_world_live_tasks(w, -1), 0);
    deja_world_free(w);
    deja_params_free(p);
}

static int count_from(uint32_t from, uint32_t to, int64_t t0, int64_t t1) {
    int c = 0;
    for (int i = 0; i < g_ngot; i++)
        if (g_got[i].from == from && g_got[i].to == to && g_got[i].at >= t0 && g_got[i].at < t1) c++;
    return c;
}

static void plan(int64_t start, int64_t stop, int64_t every, uint32_t len) {
    memset(&g_plan, 0, sizeof g_plan);
    g_plan.start = start;
    g_plan.stop = stop;
    g_plan.every = every;
    g_plan.len = len;
}

/* ---- duplication: every message twice, the copy no earlier --------------- */

static void test_dup(void **state) {
    (void)state;
    plan(0, 1, RT_SEC, 8); /* one message at t=0 */
    g_plan.to[0] = 1u << 1;
    const char *sets[] = {"net.dup_pct=100", NULL};
    run_plan(2, 2 * RT_SEC, sets, NULL);
    assert_int_equal(g_ngot, 2);
    assert_int_equal(g_got[0].seq, 0);
    assert_int_equal(g_got[1].seq, 0);
    assert_int_equal(g_got[0].at, 10 * RT_MS);
    assert_true(g_got[1].at >= g_got[0].at);
    /* off: once */
    run_plan(2, 2 * RT_SEC, NULL, NULL);
    assert_int_equal(g_ngot, 1);
}

/* ---- reordering: a held-back message is overtaken ------------------------- */

static int inversions(void) {
    int inv = 0;
    for (int i = 1; i < g_ngot; i++)
        if (g_got[i].seq < g_got[i - 1].seq) inv++;
    return inv;
}

static void test_reorder(void **state) {
    (void)state;
    plan(0, RT_SEC, 10 * RT_MS, 8); /* 100 messages 10 ms apart */
    g_plan.to[0] = 1u << 1;
    run_plan(2, 3 * RT_SEC, NULL, NULL);
    assert_int_equal(g_ngot, 100);
    assert_int_equal(inversions(), 0); /* no jitter, no reordering: in order */
    const char *sets[] = {"net.reorder_pct=20", "net.reorder_ms=100", NULL};
    run_plan(2, 3 * RT_SEC, sets, NULL);
    assert_int_equal(g_ngot, 100);
    assert_true(inversions() > 0);
    /* a swapped pair: message k + 1 arrived before message k */
    int pos[100], swapped = 0;
    for (int i = 0; i < g_ngot; i++) pos[g_got[i].seq] = i;
    for (int k = 0; k + 1 < 100; k++)
        if (pos[k + 1] < pos[k]) swapped++;
    assert_true(swapped > 0);
}

/* ---- one-way partition: exactly one direction is lost --------------------- */

static void oneway_1_to_0(deja_world *w) {
    uint8_t side[2] = {0, 1};
    deja_net_oneway(w, RT_SEC, 2 * RT_SEC, side); /* 1 -> 0 lost from 1 s to 3 s */
}

static void test_oneway(void **state) {
    (void)state;
    plan(0, 4 * RT_SEC, 100 * RT_MS, 8);
    g_plan.to[0] = 1u << 1;
    g_plan.to[1] = 1u << 0;
    run_plan(2, 5 * RT_SEC, NULL, oneway_1_to_0);
    /* during the cut (sent after 1 s, delivered before 3 s) */
    assert_int_equal(count_from(1, 0, RT_SEC, 3 * RT_SEC), 0);
    assert_int_equal(count_from(0, 1, RT_SEC, 3 * RT_SEC), 20);
    /* before and after: both ways */
    assert_int_equal(count_from(1, 0, 0, RT_SEC), 10);
    assert_int_equal(count_from(1, 0, 3 * RT_SEC + 20 * RT_MS, 5 * RT_SEC), 9);
    assert_int_equal(count_from(0, 1, 3 * RT_SEC + 20 * RT_MS, 5 * RT_SEC), 9);
}

/* Two cuts scheduled out of time order: each heals when it ends. */
static void two_cuts(deja_world *w) {
    uint8_t side[2] = {0, 1};
    deja_net_oneway(w, 2 * RT_SEC, RT_SEC, side);      /* scheduled first, 2 s to 3 s */
    deja_net_oneway(w, RT_SEC / 2, RT_SEC / 2, side); /* scheduled second, 0.5 s to 1 s */
}

static void test_cuts_heal(void **state) {
    (void)state;
    plan(0, 4 * RT_SEC, 100 * RT_MS, 8);
    g_plan.to[1] = 1u << 0;
    run_plan(2, 5 * RT_SEC, NULL, two_cuts);
    assert_int_equal(count_from(1, 0, 0, RT_SEC / 2), 5);
    assert_int_equal(count_from(1, 0, RT_SEC / 2 + 20 * RT_MS, RT_SEC), 0);
    assert_int_equal(count_from(1, 0, RT_SEC + 20 * RT_MS, 2 * RT_SEC), 9);
    assert_int_equal(count_from(1, 0, 2 * RT_SEC + 20 * RT_MS, 3 * RT_SEC), 0);
    assert_int_equal(count_from(1, 0, 3 * RT_SEC + 20 * RT_MS, 5 * RT_SEC), 9);
}

/* ---- bridge: two halves that do not hear each other, one node in both ---- */

static void bridge_2(deja_world *w) {
    uint8_t side[3] = {0, 1, 0};
    deja_net_bridge(w, 0, 10 * RT_SEC, side, 2);
}

static void test_bridge(void **state) {
    (void)state;
    plan(0, RT_SEC, 100 * RT_MS, 8);
    for (int i = 0; i < 3; i++) g_plan.to[i] = 7u & ~(1u << i);
    run_plan(3, 2 * RT_SEC, NULL, bridge_2);
    assert_int_equal(count_from(0, 1, 0, 2 * RT_SEC), 0);
    assert_int_equal(count_from(1, 0, 0, 2 * RT_SEC), 0);
    for (uint32_t a = 0; a < 2; a++) {
        assert_int_equal(count_from(a, 2, 0, 2 * RT_SEC), 10);
        assert_int_equal(count_from(2, a, 0, 2 * RT_SEC), 10);
    }
}

/* ---- clogs: held until the heal, then in order ---------------------------- */

static void clog_link(deja_world *w) { deja_net_clog(w, 0, RT_SEC, 0, 1); }
static void clog_node(deja_world *w) { deja_net_clog(w, 0, RT_SEC, 1, -1); }

static void test_clog(void **state) {
    (void)state;
    plan(0, 2 * RT_SEC, 100 * RT_MS, 8);
    g_plan.to[0] = 1u << 1;
    g_plan.to[1] = 1u << 0;
    run_plan(2, 3 * RT_SEC, NULL, clog_link);
    /* 0 -> 1: the ten sent during the clog arrive together at 1 s + latency,
     * with the one sent at the heal */
    assert_int_equal(count_from(0, 1, 0, RT_SEC + 10 * RT_MS), 0);
    assert_int_equal(count_from(0, 1, RT_SEC + 10 * RT_MS, RT_SEC + 11 * RT_MS), 11);
    /* 1 -> 0 was not clogged */
    assert_int_equal(count_from(1, 0, 0, RT_SEC), 10);
    run_plan(2, 3 * RT_SEC, NULL, clog_node);
    assert_int_equal(count_from(1, 0, 0, RT_SEC + 10 * RT_MS), 0);
    assert_int_equal(count_from(0, 1, 0, RT_SEC + 10 * RT_MS), 0);
    assert_int_equal(count_from(1, 0, RT_SEC + 10 * RT_MS, RT_SEC + 11 * RT_MS), 11);
}

/* ---- corruption: bits flipped, the message still delivered ---------------- */

static void test_corrupt(void **state) {
    (void)state;
    plan(0, RT_SEC, 10 * RT_MS, 64);
    g_plan.to[0] = 1u << 1;
    const char *sets[] = {"net.corrupt_pct=50", NULL};
    run_plan(2, 2 * RT_SEC, sets, NULL);
    assert_int_equal(g_ngot, 100);
    /* a damaged message shows as a sequence number out of 0..99 or a body
     * byte other than 0xa5; not every one can be seen this way, but with 50
     * out of 100 damaged some are */
    int seen = 0;
    for (int i = 0; i < g_ngot; i++)
        if (g_got[i].seq >= 100) seen++;
    assert_true(seen > 0);
}

/* ---- bandwidth: a large message takes len * 8 / bandwidth on the wire ----- */

static void test_bandwidth(void **state) {
    (void)state;
    plan(0, 1, RT_SEC, 10000); /* one 10 kB message to each of two peers... */
    g_plan.to[0] = (1u << 1) | (1u << 2);
    const char *sets[] = {"net.bandwidth_kbps=800", NULL}; /* 100 ms per 10 kB */
    run_plan(3, 2 * RT_SEC, sets, NULL);
    assert_int_equal(g_ngot, 2);
    assert_int_equal(g_got[0].at, 110 * RT_MS); /* ...each on its own link */
    assert_int_equal(g_got[1].at, 110 * RT_MS);
    /* back to back on one link: the second waits for the first */
    plan(0, 15 * RT_MS, 10 * RT_MS, 10000);
    g_plan.to[0] = 1u << 1;
    run_plan(2, 2 * RT_SEC, sets, NULL);
    assert_int_equal(g_ngot, 2);
    assert_int_equal(g_got[0].at, 110 * RT_MS);
    assert_int_equal(g_got[1].at, 210 * RT_MS);
}

/* ---- latency: Pareto tail and region matrix ------------------------------- */

static void test_latency(void **state) {
    (void)state;
    plan(0, 10 * RT_SEC, 10 * RT_MS, 8); /* 1000 messages */
    g_plan.to[0] = 1u << 1;
    const char *sets[] = {"net.latency_dist=pareto", "net.tail_alpha=1", "net.tail_max_ms=500", NULL};
    run_plan(2, 12 * RT_SEC, sets, NULL);
    int64_t worst = 0;
    int slow = 0, fast = 0;
    for (int i = 0; i < g_ngot; i++) {
        int64_t d = g_got[i].at - (int64_t)g_got[i].seq * 10 * RT_MS;
        assert_true(d >= 10 * RT_MS && d <= 510 * RT_MS);
        if (d > worst) worst = d;
        if (d > 100 * RT_MS) slow++;
        if (d < 20 * RT_MS) fast++;
    }
    /* alpha 1: P(X > 10) = 10%, P(X < 2) = 50% */
    print_message("pareto: %d slow, %d fast, worst %lld ms of %d\n", slow, fast, (long long)(worst / RT_MS), g_ngot);
    assert_true(slow > 50 && slow < 150);
    assert_true(fast > 400 && fast < 600);
    assert_true(worst > 300 * RT_MS);

    plan(0, 1, RT_SEC, 8);
    for (int i = 0; i < 4; i++) g_plan.to[i] = 15u & ~(1u << i);
    const char *rsets[] = {"net.region_ms=5,80,80,5", NULL}; /* nodes 0, 2 in region 0; 1, 3 in region 1 */
    run_plan(4, 2 * RT_SEC, rsets, NULL);
    assert_int_equal(g_ngot, 12);
    for (int i = 0; i < g_ngot; i++)
        assert_int_equal(g_got[i].at, (g_got[i].from % 2 == g_got[i].to % 2 ? 5 : 80) * RT_MS);
}

static void test_fixed_point(void **state) {
    (void)state;
    assert_int_equal(deja__log2_q32(1), 0);
    assert_int_equal(deja__log2_q32(1024), 10ull << 32);
    /* log2(3) = 1.5849625 */
    uint64_t l3 = deja__log2_q32(3);
    assert_true(l3 > (uint64_t)(1.5849624 * 4294967296.0) && l3 < (uint64_t)(1.5849626 * 4294967296.0));
    assert_int_equal(deja__exp2_q32(5ull << 32), 32ull << 32);
    /* 2^0.5 = 1.4142136 */
    uint64_t s = deja__exp2_q32(1ull << 31);
    assert_true(s > (uint64_t)(1.414205 * 4294967296.0) && s < (uint64_t)(1.414222 * 4294967296.0));
}

/* ---- every fault off: not a draw more than before ------------------------- */

static void test_off_same_digest(void **state) {
    (void)state;
    /* the defaults of every new parameter leave the network state untouched */
    deja_params *p = common_params(NULL);
    deja_world *w = deja_world_new(3, p);
    deja_node_add(w, "t-plan", 0, 0);
    char err[128];
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    deja_net_counts c;
    deja_net_fault_counts(w, &c);
    assert_int_equal(c.dups + c.reorders + c.corrupts + c.cut_drops + c.clogged, 0);
    deja_world_free(w);
    deja_params_free(p);
}

/* ---- a scenario's summary counts what the faults did; corruption is refused by the node ---- */

static uint64_t g_corrupt_facts;
static void count_corrupt(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)arg, (void)node, (void)now;
    if (f->kind == rt_fact_kind_named("msg.corrupt")) g_corrupt_facts++;
}

static void test_summary_counts(void **state) {
    (void)state;
    deja_summary s;
    const char *sets[] = {"sim.duration_s=10", "fault.quiet_s=0", "swarm=0", "net.dup_pct=10", "net.corrupt_pct=5", NULL};
    assert_int_equal(scenario_run("raft", 3, sets, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_true(summary_long(&s, "net_dups") > 0);
    assert_true(summary_long(&s, "net_corrupts") > 0);
    /* without faults: no such lines */
    const char *off[] = {"sim.duration_s=10", "fault.quiet_s=0", "swarm=0", NULL};
    assert_int_equal(scenario_run("raft", 3, off, &s, NULL), 0);
    assert_null(deja_summary_get(&s, "net_dups"));

    /* the node refuses and counts every damaged message it gets: two raft
     * nodes, every message damaged, each one a msg.corrupt fact */
    deja_params *p = common_params((const char *const[]){"net.corrupt_pct=100", NULL});
    deja_world *w = deja_world_new(5, p);
    assert_int_equal(deja_node_add(w, "raft", 0, 0), 0);
    assert_int_equal(deja_node_add(w, "raft", 0, 0), 1);
    deja_world_set_duration(w, 3 * RT_SEC);
    deja_net_config(w, 10 * RT_MS, 0, 0);
    g_corrupt_facts = 0;
    deja_world_on_fact(w, count_corrupt, NULL);
    char err[256];
    assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 0);
    deja_world_run(w);
    deja_net_counts c;
    deja_net_fault_counts(w, &c);
    assert_true(c.corrupts > 0);
    assert_int_equal(g_corrupt_facts, c.corrupts); /* every damaged message refused and counted */
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
    deja_params_free(p);
}

/* ---- bad values: refused, naming the parameter ---------------------------- */

static void test_bad_params(void **state) {
    (void)state;
    const char *bad[] = {"net.dup_pct=101",        "net.reorder_pct=x",      "net.corrupt_pct=-1",
                         "net.latency_dist=normal", "net.tail_alpha=0.05",    "net.region_ms=1,2,3",
                         "net.region_ms=1,a,3,4",  "net.bandwidth_kbps=-5",  "net.oneway_every_s=1.5",
                         "net.clog_link_pct=101",  "net.swarm=2",            "net.bridge_ms=-1",
                         NULL};
    for (const char *const *b = bad; *b; b++) {
        const char *sets[] = {*b, NULL};
        deja_params *p = common_params(sets);
        deja_world *w = deja_world_new(3, p);
        deja_node_add(w, "t-plan", 0, 0);
        char err[256] = "";
        assert_int_equal(deja_world_apply_common(w, p, err, sizeof err), 2);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)(strchr(*b, '=') - *b), *b);
        assert_non_null(strstr(err, key));
        deja_world_free(w);
        deja_params_free(p);
    }
}

int main(void) {
    rt_program_register("t-plan", prog_plan);
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dup),       cmocka_unit_test(test_reorder),     cmocka_unit_test(test_oneway),
        cmocka_unit_test(test_cuts_heal), cmocka_unit_test(test_bridge),    cmocka_unit_test(test_clog),        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_bandwidth), cmocka_unit_test(test_latency),     cmocka_unit_test(test_fixed_point),
        cmocka_unit_test(test_off_same_digest), cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_summary_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
