/*
 * mem_leak.c -- the scenario `mem-leak`: the two slow leaks of the field
 * report (docs/failures.md, failures 1 and 8) in a node small enough to read
 * at once, run under a memory limit until the OOM killer strikes.
 *
 * Each node receives a "block" every leak.block_ms (of a size drawn around
 * leak.block_kb from its own rt_rand_u64) and handles it in one of three
 * ways (leak.kind):
 *   task  a verifier task per block, holding a heap copy of the block, sends
 *         its verdict on the block's own unbuffered channel; the main loop
 *         gives up waiting after 20 ms, so the verifier blocks forever: one
 *         leaked task (with its copy and channel) per block -- the
 *         goroutine leak;
 *   map   the block is appended to a mapped block file (rt_map) and never
 *         released: every block touches new pages -- the mmap'd block file
 *         that grows until the OOM kill;
 *   none  both done right: the verifier's send is bounded by the context
 *         and a deadline, and the block file keeps only the last
 *         leak.keep_blocks blocks resident (RT_MADV_DONTNEED on the rest).
 * The program is not the reference node (node/): it lives here, with its
 * scenario, and sees only rt.h. The verdict is `oom` when any node was
 * OOM-killed, else the usual ones (`leak` for tasks alive after shutdown).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/world.h"

/* ---- the program ------------------------------------------------------------ */

enum { LEAK__TASK = 0, LEAK__MAP = 1, LEAK__NONE = 2 };

typedef struct leak__job {
    rt_chan *verdict; /* this block's, unbuffered; the main loop stops listening after 20 ms */
    rt_ctx *ctx;
    rt_wg *wg;          /* careful variant only */
    unsigned char *copy;
    size_t len;
    int careful;
} leak__job;

/* Verifies one block (50 ms of work), then reports the verdict: forever in
 * the leaky variant, bounded by the context and a deadline in the careful
 * one. Frees its copy only when the report is done. */
static void leak__verifier(void *arg) {
    leak__job *j = arg;
    rt_sleep_ns(50 * RT_MS);
    int verdict = j->copy[0] == j->copy[j->len - 1];
    if (!j->careful) {
        rt_chan_send(j->verdict, &verdict, RT_FOREVER); /* nobody listens any more: blocks for good */
    } else {
        rt_case cs[2] = {{rt_ctx_done(j->ctx), RT_RECV, NULL, 0}, {j->verdict, RT_SEND, &verdict, 0}};
        rt_select(cs, 2, 100 * RT_MS);
        rt_chan_free(j->verdict); /* the main loop has stopped listening: no one else holds it */
        rt_wg_done(j->wg);
    }
    rt_free(j->copy);
    rt_free(j);
}

/* The node program: one block per tick until ctx is done. */
static void leak__main(rt_ctx *ctx) {
    const char *ks = rt_param_str("leak.kind", "task");
    int kind = !strcmp(ks, "map") ? LEAK__MAP : !strcmp(ks, "none") ? LEAK__NONE : LEAK__TASK;
    int64_t period = rt_param_i64("leak.block_ms", 1000) * RT_MS;
    size_t block = (size_t)rt_param_i64("leak.block_kb", 256) * 1024;
    size_t file_len = (size_t)rt_param_i64("leak.file_mb", 256) * 1024 * 1024;
    uint64_t keep = (uint64_t)rt_param_i64("leak.keep_blocks", 8);
    rt_wg *wg = rt_wg_new();
    unsigned char *file = NULL;
    size_t off = 0;
    uint64_t in_file = 0; /* blocks written to the current file */
    size_t *ends = rt_calloc(keep + 1, sizeof *ends); /* end offset of the last keep+1 blocks */
    if (kind != LEAK__TASK) file = rt_map("blocks.dat", file_len);
    rt_timer *tick = rt_timer_new("block", period, period);
    for (uint64_t h = 1;; h++) {
        int64_t at;
        rt_case cs[2] = {{rt_ctx_done(ctx), RT_RECV, NULL, 0}, {rt_timer_chan(tick), RT_RECV, &at, 0}};
        if (rt_select(cs, 2, RT_FOREVER) == 0) break;
        size_t len = block / 2 + (size_t)(rt_rand_u64() % (block + 1)); /* in [block/2, 3*block/2] */
        unsigned char fill = (unsigned char)h;
        if (kind == LEAK__MAP || kind == LEAK__NONE) {
            if (!file) break;
            if (off + len > file_len) { /* full: start the next block file */
                rt_unmap(file, file_len);
                file = rt_map("blocks.dat", file_len);
                if (!file) break;
                off = 0;
                in_file = 0;
            }
            memset(file + off, fill, len); /* touches the block's pages */
            off += len;
            ends[in_file % (keep + 1)] = off;
            in_file++;
            if (kind == LEAK__NONE && in_file > keep) /* release all but the last keep blocks */
                rt_map_advise(file, 0, ends[(in_file - keep - 1) % (keep + 1)], RT_MADV_DONTNEED);
        }
        if (kind == LEAK__TASK || kind == LEAK__NONE) {
            leak__job *j = rt_malloc(sizeof *j);
            j->copy = rt_malloc(len);
            memset(j->copy, fill, len);
            j->len = len;
            rt_chan *verdict = rt_chan_new("verdict", sizeof(int), 0);
            j->verdict = verdict;
            j->ctx = ctx;
            j->wg = wg;
            j->careful = kind == LEAK__NONE;
            if (j->careful) rt_wg_add(wg, 1);
            rt_spawn("verifier", leak__verifier, j); /* j is the verifier's from here on */
            int v;
            rt_chan_recv(verdict, &v, 20 * RT_MS); /* gives up before the verifier is done */
        }
    }
    rt_timer_stop(tick);
    if (file) rt_unmap(file, file_len);
    rt_free(ends);
    if (kind == LEAK__NONE) {
        rt_wg_wait(wg, RT_SEC);
        rt_wg_free(wg);
    } /* the leaky variant leaves wg to its blocked verifiers */
}

/* ---- the scenario -------------------------------------------------------------- */

static const deja_param_def deja__mem_leak_params[] = {
    {"sim.nodes", "2", "number of nodes"},
    {"sim.duration_s", "300", "simulated duration (s)"},
    {"leak.kind", "task", "task (a leaked task per block), map (a mapped block file never released) or none"},
    {"leak.block_ms", "1000", "one block every this many ms"},
    {"leak.block_kb", "256", "mean block size (KiB; each block is drawn in [1/2, 3/2] of it)"},
    {"leak.file_mb", "256", "length of the mapped block file (MiB; mapped, not resident)"},
    {"leak.keep_blocks", "8", "leak.kind=none: blocks of the file kept resident"},
    {"mem.limit_mb", "16", "OOM-kill a node whose resident size exceeds this (MiB; 0: no limit)"},
    {"mem.sample_ms", "500", "period of the resident-size timeline (ms; 0: off)"},
    {NULL, NULL, NULL},
};

typedef struct deja__mem_leak {
    uint32_t ooms;
    int64_t first_oom; /* -1: none */
} deja__mem_leak;

static void deja__mem_leak_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)node;
    deja__mem_leak *ml = arg;
    if ((int)f->kind != DEJA_FACT_OOM) return;
    if (ml->ooms++ == 0) ml->first_oom = now;
}

/* Builds the nodes from validated parameters; 2 on a bad value. */
static int deja__mem_leak_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t nodes, dur, v;
    if (deja_params_i64(p, "sim.nodes", 1, INT32_MAX, &nodes, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_i64(p, "leak.block_ms", 1, 3600000, &v, err, errlen) ||
        deja_params_i64(p, "leak.block_kb", 1, 1 << 20, &v, err, errlen) ||
        deja_params_i64(p, "leak.file_mb", 1, 1 << 20, &v, err, errlen) ||
        deja_params_i64(p, "leak.keep_blocks", 1, 1 << 20, &v, err, errlen))
        return 2;
    const char *kind = deja_params_get(p, "leak.kind");
    if (!kind || (strcmp(kind, "task") && strcmp(kind, "map") && strcmp(kind, "none"))) {
        snprintf(err, errlen, "parameter leak.kind=%s: expected task, map or none", kind ? kind : "(unset)");
        return 2;
    }
    rt_program_register("mem-leak", leak__main);
    deja_world_set_duration(w, dur * RT_SEC);
    deja__mem_leak *ml = calloc(1, sizeof *ml);
    if (!ml) {
        snprintf(err, errlen, "out of memory");
        return 2;
    }
    ml->first_oom = -1;
    deja_world_set_data(w, ml, free);
    deja_world_on_fact(w, deja__mem_leak_fact, ml);
    for (int64_t i = 0; i < nodes; i++)
        if (deja_node_add(w, "mem-leak", 0, 0) < 0) {
            snprintf(err, errlen, "cannot add node %lld", (long long)i);
            return 2;
        }
    return 0;
}

static void deja__mem_leak_finish(deja_world *w, deja_summary *s) {
    const deja__mem_leak *ml = deja_world_data(w);
    deja_summary_set(s, "first_oom_ms", "%lld", (long long)(ml->first_oom < 0 ? -1 : ml->first_oom / RT_MS));
    if (ml->ooms > 0) deja_summary_fail(s, "oom");
}

const deja_scenario deja_scenario_mem_leak = {
    "mem-leak",
    "a node that leaks a task or mapped pages per block, under a memory limit: OOM kills",
    deja__mem_leak_params,
    deja__mem_leak_setup,
    deja__mem_leak_finish,
};
