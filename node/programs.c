/*
 * programs.c -- the programs the node library offers to a backend, and
 * their entry points. A scenario (or the node daemon) starts a node by
 * program name; rt_programs() makes every name known. Each entry point wires
 * a store and an engine together, runs until its context is done, and
 * frees all it allocated before returning, with no task left behind.
 */
#include "aura.h"
#include "deja/rt.h"
#include "store.h"

void node_aura_main(rt_ctx *ctx) {
    aura_config cfg;
    aura_config_load(&cfg);
    store *st = store_mem_open();
    if (st == NULL) {
        rt_log(RT_LOG_ERROR, "aura: out of memory opening the store");
        return;
    }
    aura *a = aura_open(&cfg, st);
    if (a == NULL) {
        rt_log(RT_LOG_ERROR, "aura: out of memory opening the engine");
        store_close(st);
        return;
    }
    aura_run(a, ctx);
    aura_close(a);
    store_close(st);
}

void rt_programs(void) { rt_program_register("aura", node_aura_main); }
