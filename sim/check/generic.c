/*
 * generic.c -- the detectors any node gets (see deja/check.h): OOM kills,
 * programs that die, tasks left behind. They read only what the world's
 * process model counted, so they hold for a node that is not ours.
 */
#include <assert.h>
#include <string.h>

#include "deja/check.h"

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
