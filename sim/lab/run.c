/*
 * run.c -- one run of a scenario: merge its parameters, build the world,
 * run it, shut its nodes down, judge it, and fill the summary. Also the
 * replay command line that failing runs print.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deja/check.h"
#include "deja/world.h"

#define DEJA__GRACE (5 * RT_SEC)

/* The binary replay commands name: configuration set once at start-up. */
static char deja__tool[256] = "deja";

void deja_set_tool_name(const char *name) {
    assert(name && *name);
    snprintf(deja__tool, sizeof deja__tool, "%s", name);
}

const char *deja_tool_name(void) { return deja__tool; }

int deja_scenario_params(const deja_scenario *sc, const deja_params *overrides, deja_params **out,
                         char *err, size_t errlen) {
    deja_params *p = deja_params_new();
    for (const deja_param_def *d = sc->params; d->key; d++) deja_params_set(p, d->key, d->dflt);
    deja_params_common_defaults(p);
    for (int i = 0; i < deja_params_count(overrides); i++) {
        const char *k = deja_params_key(overrides, i);
        if (!deja_params_get(p, k)) {
            snprintf(err, errlen, "scenario %s has no parameter '%s' (see 'deja scenarios')", sc->name, k);
            deja_params_free(p);
            return 2;
        }
        deja_params_set(p, k, deja_params_val(overrides, i));
    }
    *out = p;
    return 0;
}

void deja_replay_command(const char *scenario, uint64_t seed, const deja_params *overrides, char *buf,
                         size_t len) {
    size_t off = (size_t)snprintf(buf, len, "%s run %s --seed %" PRIu64, deja_tool_name(), scenario, seed);
    for (int i = 0; i < deja_params_count(overrides) && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, " --set %s=%s", deja_params_key(overrides, i),
                                deja_params_val(overrides, i));
}

static int64_t deja__wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int deja_run(const deja_scenario *sc, uint64_t seed, const deja_params *overrides,
             const deja_run_opts *opts, deja_summary *out, char *err, size_t errlen) {
    deja_run_opts none = {0};
    if (!opts) opts = &none;
    deja_params *p = NULL;
    int rc = deja_scenario_params(sc, overrides, &p, err, errlen);
    if (rc) return rc;
    int64_t t0 = deja__wall_ms();
    deja_world *w = deja_world_new(seed, p);
    deja_world_set_trace(w, opts->trace);
    rc = opts->plan_mask ? deja_world_plan_mask(w, opts->plan_mask, err, errlen) : 0;
    if (opts->plan) deja_world_plan_use(w, opts->plan);
    deja_world_break_at(w, opts->break_at_event);
    deja_world_break_on_violation(w, opts->break_on_verdict);
    if (opts->observer) deja_world_on_event(w, opts->observer, opts->observer_arg);
    if (!rc) rc = sc->setup(w, p, err, errlen);
    if (!rc) rc = deja_world_apply_common(w, p, err, errlen);
    if (!rc) deja_plan_inject_rest(w);
    if (rc) {
        deja_world_free(w);
        deja_params_free(p);
        return rc;
    }
    if (opts->n_dump_at > 0)
        deja_world_dump_at(w, opts->dump_at, opts->n_dump_at, opts->dump_diff, opts->dump_out ? opts->dump_out : stderr);
    deja_world_run(w);
    int64_t sim_ns = deja_world_now(w);
    /* the dump shows the tasks as the run ended, before they are shut down */
    char *dump = NULL;
    size_t dump_len = 0;
    if (opts->dump_tasks || opts->dump_on_failure) {
        FILE *m = open_memstream(&dump, &dump_len);
        if (m) {
            deja_world_dump_tasks(w, m);
            fclose(m);
        }
    }
    deja_world_shutdown(w, DEJA__GRACE);

    deja_summary_clear(out);
    deja_summary_set(out, "scenario", "%s", sc->name);
    deja_summary_set(out, "seed", "%" PRIu64, seed);
    deja_summary_set(out, "verdict", "ok");
    deja_summary_set(out, "trace_hash", "%016" PRIx64, (uint64_t)0);
    deja_check_detectors(w, out);
    deja_world_finish_oracles(w, out);
    if (sc->finish) sc->finish(w, out);
    deja_check_generic(w, out);
    deja_net_counts nc;
    deja_net_fault_counts(w, &nc);
    if (nc.dups + nc.reorders + nc.corrupts + nc.cut_drops + nc.clogged > 0) { /* only runs with network faults */
        deja_summary_set(out, "net_dups", "%" PRIu64, nc.dups);
        deja_summary_set(out, "net_reorders", "%" PRIu64, nc.reorders);
        deja_summary_set(out, "net_corrupts", "%" PRIu64, nc.corrupts);
        deja_summary_set(out, "net_cut_drops", "%" PRIu64, nc.cut_drops);
        deja_summary_set(out, "net_clogged", "%" PRIu64, nc.clogged);
    }
    int leaked = deja_world_live_tasks(w, -1);
    deja_summary_set(out, "trace_hash", "%016" PRIx64, deja_world_digest(w));
    deja_summary_set(out, "events", "%" PRIu64, deja_world_events(w));
    uint64_t vev;
    if (deja_world_first_violation(w, &vev, NULL, NULL)) deja_summary_set(out, "violation_event", "%" PRIu64, vev);
    deja_summary_set(out, "sim_ns", "%" PRId64, sim_ns);
    deja_summary_set(out, "wall_ms", "%" PRId64, deja__wall_ms() - t0);
    int ok = !strcmp(deja_summary_get(out, "verdict"), "ok");
    if (!ok && opts->break_on_verdict && !deja_world_first_violation(w, NULL, NULL, NULL)) deja_break();
    FILE *dout = opts->dump_out ? opts->dump_out : stderr;
    if (deja_world_detect_report(w) && (opts->dump_tasks || opts->dump_on_failure)) {
        fprintf(dout, "--- detector report\n");
        fputs(deja_world_detect_report(w), dout);
    }
    if (dump && (opts->dump_tasks || !ok)) fputs(dump, dout);
    if (!ok && opts->dump_on_failure && deja_world_oom_report(w)) fputs(deja_world_oom_report(w), dout);
    free(dump);
    if (leaked > 0 && (opts->dump_tasks || opts->dump_on_failure)) {
        fprintf(dout, "leaked tasks (alive after shutdown):\n");
        deja_world_dump_tasks(w, dout);
    }
    if (opts->timeline) deja_world_timeline_csv(w, opts->timeline);
    if (opts->plan_out) deja_plan_write(deja_world_plan(w), opts->plan_out);
    if (opts->plan_record) *opts->plan_record = deja_plan_clone(deja_world_plan(w));
    deja_world_free(w);
    deja_params_free(p);
    return ok ? 0 : 1;
}
