/*
 * mem_leak.c -- the scenario `mem-leak`: the two slow leaks of the field
 * report (docs/failures.md, failures 1 and 8) in the reference node, run
 * under a memory limit until the OOM killer strikes.
 *
 * The world is AuRa's (aura_world.h: validators, clocks, network, the chain
 * oracle) with a memory limit and the node's block-handling switches
 * (node/maint.h, node/blockfile.h) chosen by leak.kind, the scenario's name
 * for them:
 *   task  node.leak=task: each received block's audit task copies the
 *         block's record (store.block_kb), then blocks for good on a report
 *         nobody reads: one leaked task, with its copy, per block -- the
 *         goroutine leak;
 *   map   node.leak=map: each received block is appended to a mapped block
 *         file that is never released: every block touches new pages --
 *         the mmap'd block file that grows until the OOM kill;
 *   none  both done right: the audit's report is bounded by its context,
 *         the block file keeps its last store.block_keep records resident.
 * node.leak, when set to something other than none, wins over leak.kind.
 * The verdict is `leak` when the task-growth detector names the audits'
 * group, else `oom` when any node was OOM-killed; the scenario adds
 * first_oom_ms.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aura_world.h"

static const deja_param_def deja__mem_leak_params[] = {
    DEJA_AURA_PARAMS("300", "100", "50", "sqlite"),
    {"leak.kind", "task",
     "task (node.leak=task: a leaked audit task holding a block's record per block), map (node.leak=map: a mapped "
     "block file never released) or none (both done right)"},
    {"mem.limit_mb", "16", "OOM-kill a node whose resident size exceeds this (MiB; 0: no limit)"},
    {"mem.sample_ms", "500", "period of the resident-size timeline (ms; 0: off)"},
    {NULL, NULL, NULL},
};

/* The first OOM kill, for first_oom_ms (the generic checks judge it). */
typedef struct deja__mem_leak {
    int64_t first_oom; /* -1: none */
} deja__mem_leak;

static void deja__mem_leak_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    (void)node;
    deja__mem_leak *ml = arg;
    if ((int)f->kind == DEJA_FACT_OOM && ml->first_oom < 0) ml->first_oom = now;
}

static void deja__mem_leak_report(void *arg, deja_world *w, deja_summary *s) {
    (void)w;
    const deja__mem_leak *ml = arg;
    deja_summary_set(s, "first_oom_ms", "%lld", (long long)(ml->first_oom < 0 ? -1 : ml->first_oom / RT_MS));
}

static const deja_oracle_ops deja__mem_leak_ops = {"first-oom", deja__mem_leak_fact, deja__mem_leak_report, free};

/* The AuRa world and the first-OOM record; 2 on a bad value. */
static int deja__mem_leak_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    const char *kind = deja_params_get(p, "leak.kind");
    if (!kind || (strcmp(kind, "task") && strcmp(kind, "map") && strcmp(kind, "none"))) {
        snprintf(err, errlen, "parameter leak.kind=%s: expected task, map or none", kind ? kind : "(unset)");
        return 2;
    }
    int rc = deja_aura_setup(w, p, err, errlen);
    if (rc) return rc;
    deja__mem_leak *ml = calloc(1, sizeof *ml);
    if (!ml) {
        snprintf(err, errlen, "out of memory");
        return 2;
    }
    ml->first_oom = -1;
    deja_world_add_oracle(w, &deja__mem_leak_ops, ml);
    return 0;
}

const deja_scenario deja_scenario_mem_leak = {
    "mem-leak",
    "AuRa validators that leak a task or mapped pages per received block, under a memory limit: OOM kills",
    deja__mem_leak_params,
    deja__mem_leak_setup,
    deja_aura_finish,
};
