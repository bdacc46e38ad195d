/*
 * world.c -- the lifetime of a simulated world: creation, the common
 * parameters (disk.*, mem.*, fault.*) every scenario accepts, the PRNG
 * streams split from the seed, the scenario's attached data, and freeing.
 *
 * Everything a world owns is released here, in one place: the scheduler's
 * events and tasks (sched.c), each node's heap, disk and SQLite
 * connections, the time servers, the timeline and the digest. The other
 * files of the world only add to it.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "internal.h"
#include "net.h"

deja_world *deja_world_new(uint64_t seed, const deja_params *params) {
    assert(deja__w == NULL || !"one world at a time");
    deja_init();
    deja_world *w = calloc(1, sizeof *w);
    assert(w);
    w->seed = seed;
    w->params = deja_params_clone(params);
    w->duration = 60 * RT_SEC;
    deja__digest_warm();
    w->digest = XXH3_createState();
    assert(w->digest);
    XXH3_64bits_reset_withSeed(w->digest, 0);
    w->net_rng = deja_world_stream(w, "net");
    w->net_latency = 50 * RT_MS;
    w->restart_ns = 2 * RT_SEC;
    w->det_tick = INT64_MAX;
    w->run_limit = -1;
    w->trace_look = UINT64_MAX;
    const char *sk = deja_params_get(params, "mem.stack_kb");
    int64_t kb = 0;
    if (sk && deja_parse_i64(sk, &kb) == 0 && kb > 0 && kb <= (1 << 20)) w->stack_default = (size_t)kb * 1024;
    deja__w = w;
    return w;
}

void deja_world_free(deja_world *w) {
    if (!w) return;
    deja__sched_free(w);
    deja__detect_free(w);
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        deja__node *n = w->nodes[i];
        deja__node_free_all(n);
        deja_vfs_forget_node(n->id);
        if (n->disk) deja_disk_free(n->disk);
        free(n);
    }
    free(w->nodes);
    for (int i = 0; i < w->n_oracles; i++)
        if (w->oracles[i].ops->free) w->oracles[i].ops->free(w->oracles[i].state);
    if (w->data_free) w->data_free(w->data);
    deja__timesrv_free(w->timesrv);
    deja__flood_free(w->flood);
    deja__plan_free(w);
    deja__net_free(w->net);
    free(w->timeline);
    free(w->oom_report);
    XXH3_freeState(w->digest);
    deja_params_free(w->params);
    if (deja__w == w) deja__w = NULL;
    free(w);
    deja__cache_release(); /* what its nodes and messages freed last */
}

uint64_t deja_world_seed(const deja_world *w) { return w->seed; }
const deja_params *deja_world_params(const deja_world *w) { return w->params; }
int64_t deja_world_now(const deja_world *w) { return w->now; }
uint32_t deja_world_nodes(const deja_world *w) { return w->n_nodes; }
uint64_t deja_world_events(const deja_world *w) { return w->events; }
void deja_world_set_trace(deja_world *w, FILE *trace) {
    w->trace = trace;
    deja__trace_relook(w);
}

void deja_world_set_duration(deja_world *w, int64_t ns) {
    assert(ns > 0);
    w->duration = ns;
}

deja_prng *deja_world_stream(deja_world *w, const char *name) {
    for (int i = 0; i < w->n_streams; i++)
        if (!strcmp(w->streams[i].name, name)) return &w->streams[i].r;
    assert(w->n_streams < (int)(sizeof w->streams / sizeof w->streams[0]));
    deja__stream *s = &w->streams[w->n_streams++];
    snprintf(s->name, sizeof s->name, "%s", name);
    deja_prng_init(&s->r, w->seed, name);
    return &s->r;
}

void deja_world_set_data(deja_world *w, void *data, void (*free_fn)(void *)) {
    assert(!w->data);
    w->data = data;
    w->data_free = free_fn;
}

void *deja_world_data(const deja_world *w) { return w->data; }

void deja_node_stats(const deja_world *w, uint32_t node, deja_node_stat *out) {
    assert(node < w->n_nodes);
    const deja__node *n = w->nodes[node];
    out->crashes = n->crashes;
    out->ooms = n->ooms;
    out->exits = n->exits;
    out->resident_peak = n->resident_peak;
}

/* ---- the common parameters ----------------------------------------------- */

void deja_params_common_defaults(deja_params *p) {
    const deja_param_def *common[] = {deja_disk_params, deja_mem_params, deja_fault_params, deja_net_fault_params,
                                      deja_detect_params};
    for (size_t c = 0; c < sizeof common / sizeof common[0]; c++)
        for (const deja_param_def *d = common[c]; d->key; d++)
            if (!deja_params_get(p, d->key)) deja_params_set(p, d->key, d->dflt);
}

/* Draws the next gap of a Poisson-like schedule with mean `mean` (ns):
 * uniform in [mean/2, 3*mean/2], integer-only and from the fault stream. */
static int64_t deja__gap(deja_prng *r, int64_t mean) { return deja_prng_range(r, mean / 2, mean + mean / 2); }

int deja_world_apply_common(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t task_bytes, limit_mb, sample_ms, map_check_ms, crash_s, restart_ms, pause_s, pause_ms, quiet_s, on_exit;
    deja_disk_cfg dcfg;
    int64_t stack_kb;
    if (deja_params_i64(p, "mem.task_bytes", 0, 1 << 30, &task_bytes, err, errlen) ||
        deja_params_i64(p, "mem.stack_kb", 2, 1 << 20, &stack_kb, err, errlen) ||
        deja_params_i64(p, "mem.limit_mb", 0, 1 << 20, &limit_mb, err, errlen) ||
        deja_params_i64(p, "mem.sample_ms", 0, 1 << 30, &sample_ms, err, errlen) ||
        deja_params_i64(p, "mem.map_check_ms", 0, 1 << 30, &map_check_ms, err, errlen) ||
        deja_params_i64(p, "fault.crash_every_s", 0, 1 << 30, &crash_s, err, errlen) ||
        deja_params_i64(p, "fault.restart_ms", 0, 1 << 30, &restart_ms, err, errlen) ||
        deja_params_i64(p, "fault.pause_every_s", 0, 1 << 30, &pause_s, err, errlen) ||
        deja_params_i64(p, "fault.pause_ms", 0, 1 << 30, &pause_ms, err, errlen) ||
        deja_params_i64(p, "fault.quiet_s", 0, 1 << 30, &quiet_s, err, errlen) ||
        deja_params_i64(p, "fault.restart_on_exit", 0, 1, &on_exit, err, errlen) ||
        deja_disk_config(p, &dcfg, err, errlen) || deja__detect_config(w, p, err, errlen))
        return 2;
    w->mem_task_bytes = task_bytes;
    w->restart_on_exit = on_exit != 0;
    w->restart_ns = restart_ms * RT_MS;
    w->mem_limit = limit_mb * 1024 * 1024;
    w->mem_sample_ns = sample_ms * RT_MS;
    w->mem_map_check_ns = map_check_ms * RT_MS;
    if (w->mem_sample_ns > 0) deja__mem_start_sampling(w);
    for (uint32_t i = 0; i < w->n_nodes; i++)
        if (!w->nodes[i]->disk) w->nodes[i]->disk = deja_disk_new(w, i, &dcfg);
    int64_t end = w->duration - quiet_s * RT_SEC;
    deja_prng *fr = deja_world_stream(w, "fault");
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        if (crash_s > 0)
            for (int64_t t = deja__gap(fr, crash_s * RT_SEC); t < end; t += deja__gap(fr, crash_s * RT_SEC))
                deja_node_crash(w, i, t, restart_ms * RT_MS);
        if (pause_s > 0)
            for (int64_t t = deja__gap(fr, pause_s * RT_SEC); t < end; t += deja__gap(fr, pause_s * RT_SEC))
                deja_node_pause(w, i, t, pause_ms * RT_MS);
    }
    return deja__net_apply(w, p, end, err, errlen);
}
