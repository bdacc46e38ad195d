/*
 * test_flood.c -- the flood fault (deja/world.h) on a node that is not the
 * reference node: a team's scenario sets its own payload
 * (deja_flood_payload_set, DEJA_FLOOD_PARAMS, deja_flood_setup) and its
 * node, flooded, gets the generic verdicts. The node handles each message
 * from its inbox on a shared verifier (a mutex held 1 ms per message): with
 * its bug switch (tf.bug=1) it spawns a task per message, which pile up
 * behind the verifier under a flood of 2000 a second (verdict leak from
 * the task-growth detector; oom with that detector off); without it a pool
 * of two workers takes messages from a bounded queue and drops what does
 * not fit (verdict ok). Also: the flood is a plan entry (mask, given plan),
 * runs without a flood or without a payload draw nothing from it, and the
 * payload's size and content are the scenario's: it is made for its
 * target by its sender (the node refuses a message not addressed to it as
 * malformed), whichever node floods.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/deja.h"
#include "deja/world.h"

#include "scenario_run.h"

/* ---- the team's node ------------------------------------------------------ */

#define TF_TAG 0xF1    /* the node's one message kind */
#define TF_LEN 12      /* tag, 8 bytes of body, the receiver's and the sender's id (low byte), padding */
#define TF_WORKERS 2
#define TF_QUEUE 16

/* One node's handling state (one per running node program). */
typedef struct tf_node {
    rt_ctx *ctx;    /* the program's: cancelled at the end of the run */
    rt_wg *wg;      /* every worker or handler */
    rt_mutex *verifier;
    rt_chan *queue; /* of rt_msg *, bounded variant only */
    rt_fact_kind handled, refused;
} tf_node;

/* Verifies one message (1 ms on the node's one verifier, skipped once the
 * node stops), reports it and frees it. */
static void tf_handle(tf_node *n, rt_msg *m) {
    assert_int_equal(rt_mutex_lock(n->verifier, RT_FOREVER), RT_OK);
    if (rt_ctx_err(n->ctx) == RT_OK) rt_sleep_ns(RT_MS);
    rt_mutex_unlock(n->verifier);
    /* well-formed: the node's tag, addressed to this node by its sender */
    bool ok = m->len == TF_LEN && m->data[0] == TF_TAG && m->data[9] == (uint8_t)rt_node_id() &&
              m->data[10] == (uint8_t)m->from;
    rt_fact f = {.kind = n->handled, .value = ok};
    rt_fact_report(&f);
    rt_msg_free(m);
}

typedef struct tf_job {
    tf_node *n;
    rt_msg *m;
} tf_job;

/* The bug: one task per message, however many wait already. */
static void tf_handler(void *arg) {
    tf_job *j = arg;
    tf_node *n = j->n;
    tf_handle(n, j->m);
    rt_free(j);
    rt_wg_done(n->wg);
}

/* A worker of the bounded variant, until the queue is closed and empty. */
static void tf_worker(void *arg) {
    tf_node *n = arg;
    rt_msg *m = NULL;
    while (rt_chan_recv(n->queue, &m, RT_FOREVER) == RT_OK) tf_handle(n, m);
    rt_wg_done(n->wg);
}

/* Hands one message on: a new task (the bug), else the queue, refusing it
 * when the queue is full. */
static void tf_dispatch(tf_node *n, rt_msg *m) {
    if (n->queue == NULL) {
        tf_job *j = rt_malloc(sizeof *j);
        j->n = n;
        j->m = m;
        rt_wg_add(n->wg, 1);
        if (rt_spawn("tf-handler", tf_handler, j) != RT_OK) {
            rt_wg_done(n->wg);
            rt_free(j);
            rt_msg_free(m);
        }
    } else if (rt_chan_send(n->queue, &m, 0) != RT_OK) {
        rt_fact f = {.kind = n->refused};
        rt_fact_report(&f);
        rt_msg_free(m);
    }
}

/* The node: takes messages from its inbox and hands them on until the run
 * ends, then lets its tasks finish. */
static void tf_main(rt_ctx *ctx) {
    tf_node n = {.ctx = ctx,
                 .wg = rt_wg_new(),
                 .verifier = rt_mutex_new("verifier"),
                 .handled = rt_fact_kind_named("tf.handled"),
                 .refused = rt_fact_kind_named("tf.refused")};
    if (rt_param_i64("tf.bug", 0) == 0) {
        n.queue = rt_chan_new("tf-queue", sizeof(rt_msg *), TF_QUEUE);
        for (int i = 0; i < TF_WORKERS; i++) {
            rt_wg_add(n.wg, 1);
            assert_int_equal(rt_spawn("tf-worker", tf_worker, &n), RT_OK);
        }
    }
    for (;;) {
        rt_msg *m = NULL;
        rt_case cs[2] = {{rt_ctx_done(ctx), RT_RECV, NULL, 0}, {rt_inbox(), RT_RECV, &m, 0}};
        if (rt_select(cs, 2, RT_FOREVER) != 1 || cs[1].result != RT_OK) break;
        tf_dispatch(&n, m);
    }
    if (n.queue != NULL) rt_chan_close(n.queue);
    assert_int_equal(rt_wg_wait(n.wg, RT_FOREVER), RT_OK);
    if (n.queue != NULL) rt_chan_free(n.queue);
    rt_mutex_free(n.verifier);
    rt_wg_free(n.wg);
}

/* ---- the team's scenario ---------------------------------------------------- */

/* What the scenario counts: messages its nodes handled (well-formed or not)
 * and refused, and payloads it made. */
typedef struct tf_state {
    uint64_t made, handled, malformed, refused;
} tf_state;

/* The payload: the node's wire format, its body drawn from the flood
 * stream, addressed to the target by the flooder. */
static size_t tf_make(void *arg, deja_prng *rng, uint32_t from, uint32_t to, uint8_t *buf, size_t cap) {
    tf_state *st = arg;
    assert_true(cap >= TF_LEN);
    assert_true(from != to);
    uint64_t body = deja_prng_next(rng);
    buf[0] = TF_TAG;
    memcpy(buf + 1, &body, sizeof body);
    buf[9] = (uint8_t)to;
    buf[10] = (uint8_t)from;
    buf[11] = 0;
    st->made++;
    return TF_LEN;
}

static void tf_on_fact(void *state, uint32_t node, int64_t now, const rt_fact *f) {
    (void)node;
    (void)now;
    tf_state *st = state;
    if (f->kind == rt_fact_kind_named("tf.handled")) {
        st->handled++;
        st->malformed += f->value == 0;
    } else if (f->kind == rt_fact_kind_named("tf.refused")) {
        st->refused++;
    }
}

static void tf_finish(void *state, deja_world *w, deja_summary *s) {
    (void)w;
    tf_state *st = state;
    deja_summary_set(s, "tf_made", "%llu", (unsigned long long)st->made);
    deja_summary_set(s, "tf_handled", "%llu", (unsigned long long)st->handled);
    deja_summary_set(s, "tf_refused", "%llu", (unsigned long long)st->refused);
    if (st->malformed) deja_summary_fail(s, "malformed");
}

static const deja_oracle_ops tf_ops = {"tf", tf_on_fact, tf_finish, free};

static const deja_param_def tf_params[] = {
    {"tf.nodes", "3", "nodes"},
    {"tf.bug", "0", "1: a task per message (unbounded); 0: two workers and a bounded queue"},
    {"tf.payload", "1", "1: the scenario sets a flood payload; 0: it sets none"},
    DEJA_FLOOD_PARAMS,
    {NULL, NULL, NULL},
};

static int tf_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t n, payload;
    if (deja_params_i64(p, "tf.nodes", 1, 8, &n, err, errlen) ||
        deja_params_i64(p, "tf.payload", 0, 1, &payload, err, errlen))
        return 2;
    for (int64_t i = 0; i < n; i++) assert_true(deja_node_add(w, "tf", 0, 0) >= 0);
    deja_world_set_duration(w, 20 * RT_SEC);
    tf_state *st = calloc(1, sizeof *st);
    assert_non_null(st);
    deja_world_add_oracle(w, &tf_ops, st); /* the world frees st after the run */
    if (!payload) return 0;
    static const deja_flood_payload pl = {tf_make, 64, NULL};
    deja_flood_payload_set(w, &pl, st);
    return deja_flood_setup(w, p, err, errlen);
}

static const deja_scenario tf_scenario = {"tf", "a team's node under a flood", tf_params, tf_setup, NULL};

/* ---- tests -------------------------------------------------------------------- */

#define FLOOD_SETS "net.flood_rate=2000", "net.flood_at_s=5", "net.flood_s=10", "mem.limit_mb=32"

/* A task per message: the task-growth detector names the handlers (leak)
 * within a few seconds of the flood, on every seed tried; with that
 * detector off the memory limit kills the nodes (oom). */
static void test_unbounded_node_leaks(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        const char *sets[] = {FLOOD_SETS, "tf.bug=1", NULL};
        assert_int_equal(scenario_run("tf", seed, sets, &s, NULL), 1);
        assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
        assert_true(summary_long(&s, "flood_sent") > 1000);
        assert_true(summary_long(&s, "peak_tasks") > 1000);
    }
    deja_summary s;
    const char *sets[] = {FLOOD_SETS, "tf.bug=1", "leak.sample_ms=0", NULL};
    assert_int_equal(scenario_run("tf", 1, sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "oom");
    assert_true(summary_long(&s, "oom_kills") >= 1);
}

/* The bounded pool: the same flood is refused in part, the tasks stay
 * few, the verdict is ok; every message made was well-formed, and every
 * one delivered was handled, refused or still queued at the end. */
static void test_bounded_node_is_ok(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        deja_summary s;
        const char *sets[] = {FLOOD_SETS, NULL};
        assert_int_equal(scenario_run("tf", seed, sets, &s, NULL), 0);
        assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
        long sent = summary_long(&s, "flood_sent");
        assert_true(sent > 15000 && sent < 25000); /* 2000 a second for 10 s */
        assert_int_equal(summary_long(&s, "tf_made"), 2 * sent); /* one per other node per tick */
        assert_true(summary_long(&s, "tf_refused") > 0);
        long taken = summary_long(&s, "tf_handled") + summary_long(&s, "tf_refused");
        assert_true(taken <= 2 * sent && taken >= 2 * sent - 3 * (TF_QUEUE + TF_WORKERS));
        assert_true(summary_long(&s, "peak_tasks") <= 3 * (1 + TF_WORKERS));
    }
    /* node 2 floods 0 and 1: each message made for its target, from 2 */
    deja_summary s;
    const char *sets[] = {FLOOD_SETS, "net.flood_from=2", NULL};
    assert_int_equal(scenario_run("tf", 1, sets, &s, NULL), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_int_equal(summary_long(&s, "tf_made"), 2 * summary_long(&s, "flood_sent"));
    assert_true(summary_long(&s, "tf_handled") > 1000);
}

/* No flood (rate 0, or no payload set) draws nothing and reports nothing:
 * the same trace hash either way. The flood is plan entry 0: masked out,
 * the quiet run's hash; given to a run that asks for none, the flooded
 * run's; given to a world without a payload, ignored. */
static void test_flood_is_a_plan_entry(void **state) {
    (void)state;
    deja_summary s;
    const char *quiet_sets[] = {"tf.bug=1", "mem.limit_mb=32", NULL};
    assert_int_equal(scenario_run("tf", 1, quiet_sets, &s, NULL), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    char *quiet = strdup(deja_summary_get(&s, "trace_hash"));
    const char *nopayload[] = {FLOOD_SETS, "tf.bug=1", "tf.payload=0", NULL};
    assert_int_equal(scenario_run("tf", 1, nopayload, &s, NULL), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    const deja_scenario *sc = deja_scenario_find("tf");
    assert_non_null(sc);
    char err[256];
    deja_params *ov = deja_params_new();
    const char *sets[] = {FLOOD_SETS, "tf.bug=1"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(deja_params_parse(ov, sets[i], err, sizeof err), 0);
    deja_plan *plan = NULL;
    deja_run_opts rec = {.plan_record = &plan};
    assert_int_equal(deja_run(sc, 1, ov, &rec, &s, err, sizeof err), 1);
    char *flooded = strdup(deja_summary_get(&s, "trace_hash"));
    long sent = summary_long(&s, "flood_sent");
    assert_non_null(plan);
    assert_int_equal(deja_plan_count(plan), 1);
    const deja_plan_entry *e = deja_plan_get(plan, 0);
    assert_string_equal(e->kind, "flood");
    assert_true(e->node == 0 && e->at_ns == 5 * RT_SEC && e->a == 10 * RT_SEC && e->b == 2000);

    /* masked out: the quiet run */
    deja_run_opts masked = {.plan_mask = "0"};
    assert_int_equal(deja_run(sc, 1, ov, &masked, &s, err, sizeof err), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    /* given to a run that asks for no flood: the flooded run */
    deja_params *bug = deja_params_new();
    assert_int_equal(deja_params_parse(bug, "tf.bug=1", err, sizeof err), 0);
    assert_int_equal(deja_params_parse(bug, "mem.limit_mb=32", err, sizeof err), 0);
    deja_run_opts given = {.plan = plan};
    assert_int_equal(deja_run(sc, 1, bug, &given, &s, err, sizeof err), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "leak");
    assert_int_equal(summary_long(&s, "flood_sent"), sent);
    assert_string_equal(deja_summary_get(&s, "trace_hash"), flooded);

    /* no payload: the given plan's flood is ignored */
    assert_int_equal(deja_params_parse(bug, "tf.payload=0", err, sizeof err), 0);
    assert_int_equal(deja_run(sc, 1, bug, &given, &s, err, sizeof err), 0);
    assert_null(deja_summary_get(&s, "flood_sent"));
    assert_string_equal(deja_summary_get(&s, "trace_hash"), quiet);

    free(quiet);
    free(flooded);
    deja_plan_free(plan);
    deja_params_free(bug);
    deja_params_free(ov);
}

/* Bad flood parameters are refused with a message naming the parameter. */
static void test_bad_parameters(void **state) {
    (void)state;
    deja_summary s;
    const deja_scenario *sc = deja_scenario_find("tf");
    char err[256] = "";
    deja_params *ov = deja_params_new();
    assert_int_equal(deja_params_parse(ov, "net.flood_from=3", err, sizeof err), 0); /* nodes 0..2 */
    assert_int_equal(deja_run(sc, 1, ov, NULL, &s, err, sizeof err), 2);
    assert_non_null(strstr(err, "net.flood_from"));
    deja_params_free(ov);
}

int main(void) {
    rt_program_register("tf", tf_main);
    deja_scenario_register(&tf_scenario);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbounded_node_leaks),
        cmocka_unit_test(test_bounded_node_is_ok),
        cmocka_unit_test(test_flood_is_a_plan_entry),
        cmocka_unit_test(test_bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
