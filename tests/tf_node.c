/*
 * tf_node.c -- a node that is not the reference node, and its scenario
 * "tf", for the tests of the flood (test_flood) and the seeds of what a
 * flood finds in it (seeds/tf-*.seed, replayed by test_seeds). The node
 * handles each message from its inbox on a shared verifier (a mutex held
 * 1 ms per message): with its bug switch (tf.bug=1) it spawns a task per
 * message, which pile up behind the verifier under a flood; without it a
 * pool of two workers takes messages from a bounded queue and drops what
 * does not fit. Its scenario sets its own flood payload
 * (deja_flood_payload_set, DEJA_FLOOD_PARAMS, deja_flood_setup): a message
 * in the node's wire format, addressed to its target by the flooder.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/deja.h"
#include "deja/world.h"
#include "tf_node.h"

/* ---- the team's node ------------------------------------------------------ */

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
    int locked = rt_mutex_lock(n->verifier, RT_FOREVER);
    assert(locked == RT_OK);
    (void)locked;
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
            int spawned = rt_spawn("tf-worker", tf_worker, &n);
            assert(spawned == RT_OK);
            (void)spawned;
        }
    }
    for (;;) {
        rt_msg *m = NULL;
        rt_case cs[2] = {{rt_ctx_done(ctx), RT_RECV, NULL, 0}, {rt_inbox(), RT_RECV, &m, 0}};
        if (rt_select(cs, 2, RT_FOREVER) != 1 || cs[1].result != RT_OK) break;
        tf_dispatch(&n, m);
    }
    if (n.queue != NULL) rt_chan_close(n.queue);
    int waited = rt_wg_wait(n.wg, RT_FOREVER);
    assert(waited == RT_OK);
    (void)waited;
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
    assert(cap >= TF_LEN);
    assert(from != to);
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
    for (int64_t i = 0; i < n; i++)
        if (deja_node_add(w, "tf", 0, 0) < 0) {
            snprintf(err, errlen, "program 'tf' is not registered (call tf_register first)");
            return 2;
        }
    deja_world_set_duration(w, 20 * RT_SEC);
    tf_state *st = calloc(1, sizeof *st);
    if (st == NULL) abort();
    deja_world_add_oracle(w, &tf_ops, st); /* the world frees st after the run */
    if (!payload) return 0;
    static const deja_flood_payload pl = {tf_make, 64, NULL};
    deja_flood_payload_set(w, &pl, st);
    return deja_flood_setup(w, p, err, errlen);
}

static const deja_scenario tf_scenario = {"tf", "a team's node under a flood", tf_params, tf_setup, NULL};

void tf_register(void) {
    rt_program_register("tf", tf_main);
    deja_scenario_register(&tf_scenario);
}
