/*
 * generic.c -- the verdicts any node gets (see deja/check.h): deadlocks,
 * leaks and stuck waits the world's detectors found as the run went
 * (sim/world/detect.c), OOM kills, programs that die, tasks left behind.
 * They read only what the world itself recorded, so they hold for a node
 * that is not ours.
 */
#include <assert.h>
#include <string.h>

#include "deja/check.h"

void deja_check_detectors(deja_world *w, deja_summary *s) {
    deja_detect_stat st;
    deja_world_detect_stats(w, &st);
    if (st.deadlocks) deja_summary_set(s, "deadlocks", "%u", st.deadlocks);
    if (st.deadlock_timeouts) deja_summary_set(s, "deadlock_timeouts", "%u", st.deadlock_timeouts);
    if (st.leak_groups) deja_summary_set(s, "leak_groups", "%u", st.leak_groups);
    if (st.lost_contexts) deja_summary_set(s, "lost_contexts", "%u", st.lost_contexts);
    if (st.lost_timers) deja_summary_set(s, "lost_timers", "%u", st.lost_timers);
    const char *watch = deja_params_get(deja_world_params(w), "watch.block_ms");
    if (st.stuck || (watch && strcmp(watch, "0"))) deja_summary_set(s, "stuck_ops", "%u", st.stuck);
    if (!st.verdict) return;
    deja_summary_set(s, "detected", "%s", st.what);
    deja_summary_set(s, "detected_ms", "%lld", (long long)(st.verdict_ns / RT_MS));
    deja_summary_fail(s, st.verdict);
}

void deja_check_generic(deja_world *w, deja_summary *s) {
    const deja_params *p = deja_world_params(w);
    int64_t on_exit = 0, loop_max = 10;
    const char *v = deja_params_get(p, "fault.restart_on_exit");
    if (v) deja_parse_i64(v, &on_exit);
    v = deja_params_get(p, "fault.crash_loop_max");
    if (v) deja_parse_i64(v, &loop_max);
    uint32_t crashes = 0, ooms = 0, exits = 0, worst_exits = 0;
    int64_t peak = 0;
    for (uint32_t i = 0; i < deja_world_nodes(w); i++) {
        deja_node_stat st;
        deja_node_stats(w, i, &st);
        crashes += st.crashes;
        ooms += st.ooms;
        exits += st.exits;
        if (st.exits > worst_exits) worst_exits = st.exits;
        if (st.resident_peak > peak) peak = st.resident_peak;
    }
    assert(ooms <= crashes);
    deja_summary_set(s, "crashes", "%u", crashes);
    deja_summary_set(s, "oom_kills", "%u", ooms);
    deja_summary_set(s, "peak_resident_kb", "%lld", (long long)(peak / 1024));
    int leaked = deja_world_live_tasks(w, -1);
    deja_summary_set(s, "leaked_tasks", "%d", leaked);
    if (exits) deja_summary_set(s, "exits", "%u", exits);
    if (leaked > 0) deja_summary_fail(s, "leak");
    if (ooms > 0) deja_summary_fail(s, "oom");
    if (exits > 0 && !on_exit) deja_summary_fail(s, "exit");
    if (on_exit && (int64_t)worst_exits > loop_max) deja_summary_fail(s, "crash_loop");
}
