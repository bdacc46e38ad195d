/*
 * p2p.c -- gossiped transactions verified off the engine's task (p2p.h):
 * a bounded worker pool that refuses work when its queue is full, or, with
 * the bug switch p2p.pool=0, a task per transaction.
 *
 * Verifying is the node's one signature checker: a mutex held for
 * p2p.verify_us of work per transaction. So the node verifies at most
 * 1 / verify_us transactions a second however many tasks it runs; a peer
 * sending faster fills the pool's queue (and is refused), or piles up
 * tasks waiting on the verifier (the unbounded variant).
 */
#include "p2p.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>

#include "msg.h"
#include "param.h"

#define P2P_DEFAULT_POOL 4
#define P2P_DEFAULT_QUEUE 64
#define P2P_DEFAULT_VERIFY_US 1000
#define P2P_MAX_POOL 1024
#define P2P_MAX_QUEUE ((int64_t)1 << 20)
#define P2P_MAX_VERIFY_US ((int64_t)10 * 1000 * 1000)
#define P2P_STOP_WAIT_NS RT_SEC          /* how long stop waits for its tasks */
#define P2P_HANDLER_STACK (32 * 1024)    /* a worker's or handler's stack */

struct p2p {
    rt_ctx *ctx;        /* ours: cancelled by p2p_stop */
    rt_wg *wg;          /* every worker, or every handler */
    rt_chan *queue;     /* of rt_msg *; NULL with p2p.pool=0 */
    rt_mutex *verifier; /* the one signature checker */
    uint32_t workers;   /* p2p.pool */
    int64_t verify_ns;
    rt_fact_kind refused_kind, verified_kind;
    /* counters: workers and handlers are threads in production, so the ones
     * they touch are atomic; taken, refused and peak are the engine's own */
    uint64_t taken, refused, peak;
    atomic_uint_fast64_t verified, bad;
    atomic_uint_fast64_t live; /* handlers alive (p2p.pool=0) or queued (pool); peak: its most */
};

/* Checks one verified transaction's form, counts it and frees it. */
static void p2p__done(p2p *p, rt_msg *m) {
    msg d;
    if (msg_decode(m->data, m->len, &d) == RT_OK && d.tag == MSG_TX) {
        atomic_fetch_add_explicit(&p->verified, 1, memory_order_relaxed);
        rt_fact f = {.kind = p->verified_kind, .value = m->from};
        rt_fact_report(&f);
    } else {
        atomic_fetch_add_explicit(&p->bad, 1, memory_order_relaxed);
    }
    rt_msg_free(m);
}

/* The verifier's work on one transaction: verify_ns with the verifier
 * held (skipped once the pool stops). */
static void p2p__work(p2p *p) {
    if (rt_ctx_err(p->ctx) == RT_OK) rt_sleep_ns(p->verify_ns);
}

/* A worker of the pool. Workers take turns at the verifier: one holds it
 * while it waits for the next transaction and verifies it, the others wait
 * for it (so the pool's tasks sit where they sat, flood or no flood). The
 * mutex wait is bounded: the holder lets go after one transaction, or when
 * the pool stops. */
static void p2p__worker(void *arg) {
    p2p *p = arg;
    rt_chan *done = rt_ctx_done(p->ctx);
    while (rt_mutex_lock(p->verifier, RT_FOREVER) == RT_OK) {
        rt_msg *m = NULL;
        rt_case cs[2] = {{done, RT_RECV, NULL, 0}, {p->queue, RT_RECV, &m, 0}};
        if (rt_select(cs, 2, RT_FOREVER) != 1 || cs[1].result != RT_OK) {
            rt_mutex_unlock(p->verifier);
            break;
        }
        assert(m != NULL);
        uint_fast64_t was = atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
        assert(was > 0);
        (void)was;
        p2p__work(p);
        rt_mutex_unlock(p->verifier);
        p2p__done(p, m);
    }
    rt_wg_done(p->wg);
}

/* The bug: one task per transaction, alive until the verifier gets to it. */
typedef struct p2p__job {
    p2p *p;
    rt_msg *m;
} p2p__job;

static void p2p__handler(void *arg) {
    p2p__job *j = arg;
    p2p *p = j->p;
    /* bounded: each holder lets go after one transaction */
    if (rt_mutex_lock(p->verifier, RT_FOREVER) == RT_OK) {
        p2p__work(p);
        rt_mutex_unlock(p->verifier);
    }
    p2p__done(p, j->m);
    rt_free(j);
    uint_fast64_t was = atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
    assert(was > 0);
    (void)was;
    rt_wg_done(p->wg);
}

/* Creates the pool (and its workers) from the parameters; NULL when out of
 * memory. */
static p2p *p2p__start(rt_ctx *ctx) {
    p2p *p = rt_calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    atomic_init(&p->verified, 0);
    atomic_init(&p->bad, 0);
    atomic_init(&p->live, 0);
    p->workers = (uint32_t)node_param("p2p", "p2p.pool", P2P_DEFAULT_POOL, 0, P2P_MAX_POOL);
    int64_t qcap = node_param("p2p", "p2p.queue", P2P_DEFAULT_QUEUE, 1, P2P_MAX_QUEUE);
    p->verify_ns = node_param("p2p", "p2p.verify_us", P2P_DEFAULT_VERIFY_US, 0, P2P_MAX_VERIFY_US) * 1000;
    p->refused_kind = rt_fact_kind_named(P2P_FACT_REFUSED);
    p->verified_kind = rt_fact_kind_named(P2P_FACT_VERIFIED);
    p->ctx = rt_ctx_with_cancel(ctx);
    p->wg = rt_wg_new();
    p->verifier = rt_mutex_new("verifier");
    if (p->workers > 0) p->queue = rt_chan_new("p2p.queue", sizeof(rt_msg *), (size_t)qcap);
    rt_spawn_opts o = {.stack_bytes = P2P_HANDLER_STACK};
    for (uint32_t i = 0; i < p->workers; i++) {
        rt_wg_add(p->wg, 1);
        if (rt_spawn_with("p2p-worker", p2p__worker, p, &o) != RT_OK) rt_wg_done(p->wg);
    }
    rt_log(RT_LOG_INFO, "p2p: %u workers, queue %lld, verify %lld us%s", p->workers, (long long)qcap,
           (long long)(p->verify_ns / 1000), p->workers ? "" : " (a task per transaction: unbounded)");
    return p;
}

/* Refuses m: dropped, counted, reported. */
static void p2p__refuse(p2p *p, rt_msg *m) {
    p->refused++;
    rt_fact f = {.kind = p->refused_kind, .value = m->from};
    rt_fact_report(&f);
    rt_msg_free(m);
}

bool p2p_take(p2p **pp, rt_ctx *ctx, rt_msg *m) {
    assert(pp != NULL && ctx != NULL && m != NULL);
    if (m->len < 1 || m->data[0] != MSG_TX) return false;
    if (*pp == NULL && (*pp = p2p__start(ctx)) == NULL) {
        rt_msg_free(m); /* out of memory: nothing to verify it with */
        return true;
    }
    p2p *p = *pp;
    p->taken++;
    if (rt_ctx_err(p->ctx) != RT_OK) {
        rt_msg_free(m);
        return true;
    }
    /* counted before it is handed over: the worker or handler that takes it
     * may count it off at once (a thread, in production) */
    uint64_t now = (uint64_t)atomic_fetch_add_explicit(&p->live, 1, memory_order_relaxed) + 1;
    if (now > p->peak) p->peak = now;
    if (p->workers > 0) {
        if (rt_chan_send(p->queue, &m, 0) != RT_OK) { /* full: refuse, never wait */
            atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
            p2p__refuse(p, m);
            return true;
        }
    } else {
        p2p__job *j = rt_malloc(sizeof *j);
        if (j == NULL) {
            atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
            p2p__refuse(p, m);
            return true;
        }
        j->p = p;
        j->m = m;
        rt_wg_add(p->wg, 1);
        rt_spawn_opts o = {.stack_bytes = P2P_HANDLER_STACK};
        if (rt_spawn_with("p2p-handler", p2p__handler, j, &o) != RT_OK) {
            rt_wg_done(p->wg);
            rt_free(j);
            atomic_fetch_sub_explicit(&p->live, 1, memory_order_relaxed);
            p2p__refuse(p, m);
            return true;
        }
    }
    return true;
}

void p2p_stats_get(p2p *p, p2p_stats *out) {
    assert(out != NULL);
    memset(out, 0, sizeof *out);
    if (p == NULL) return;
    out->taken = p->taken;
    out->verified = (uint64_t)atomic_load(&p->verified);
    out->bad = (uint64_t)atomic_load(&p->bad);
    out->refused = p->refused;
    out->peak = p->peak;
}

void p2p_stop(p2p **pp) {
    assert(pp != NULL);
    p2p *p = *pp;
    if (p == NULL) return;
    rt_ctx_cancel(p->ctx);
    if (rt_wg_wait(p->wg, P2P_STOP_WAIT_NS) != RT_OK) {
        /* handlers still queue on the verifier: they use p, so p stays */
        rt_log(RT_LOG_ERROR, "p2p: %llu handlers did not stop", (unsigned long long)atomic_load(&p->live));
        return;
    }
    *pp = NULL;
    rt_msg *m = NULL;
    while (p->queue != NULL && rt_chan_recv(p->queue, &m, 0) == RT_OK) rt_msg_free(m);
    rt_log(RT_LOG_INFO,
           "p2p: stop: %llu transactions, %llu verified, %llu malformed, %llu refused, peak %s %llu",
           (unsigned long long)p->taken, (unsigned long long)atomic_load(&p->verified),
           (unsigned long long)atomic_load(&p->bad),
           (unsigned long long)p->refused, p->workers ? "queued" : "handlers", (unsigned long long)p->peak);
    if (p->queue != NULL) rt_chan_free(p->queue);
    rt_mutex_free(p->verifier);
    rt_wg_free(p->wg);
    rt_ctx_release(p->ctx);
    rt_free(p);
}
