/*
 * shrink.c -- deja_shrink (deja/debug.h): from a failing run to the
 * smallest run that fails the same way.
 *
 * Every candidate is a full run of the same scenario and seed with a given
 * fault plan (deja/world.h) and some parameters changed; it is accepted
 * when its verdict is the original one. The faults are minimised by delta
 * debugging (Zeller's ddmin: try chunks, then their complements, then
 * finer chunks) over units, a unit being a fault and the heal that ends it.
 * Then the remaining faults moved earlier together and the duration, both
 * by bisection, the node count from the smallest up, the
 * parameters with a simpler direction one at a time, and the faults once
 * more. Nothing depends on the host: the same input gives the same output.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "deja/debug.h"

/* A parameter and its simpler value (docs/debugging.md). Keys missing from
 * the scenario are skipped; so are disk.*_pct, tried generically below. */
static const char *const deja__simpler[][2] = {
    {"swarm", "0"},          {"net.loss_pct", "0"},    {"net.jitter_ms", "0"},
    {"clock.drift_ppm", "0"}, {"clock.offset_ms", "0"},
};

typedef struct deja__shrink {
    const deja_scenario *sc;
    uint64_t seed;
    deja_params *over;     /* current overrides */
    deja_plan *full;       /* the plan of the original run (enabled entries only) */
    const char *verdict;
    int runs, max_runs;
    FILE *progress;
    deja_summary last;     /* summary of the last accepted run */
} deja__shrink;

/* The plan of units kept[0..n) of s->full: each unit is an entry and the
 * entries whose parent it is. */
static deja_plan *deja__plan_of(const deja__shrink *s, const size_t *units, size_t n) {
    deja_plan *p = deja_plan_new();
    for (size_t k = 0; k < n; k++) {
        const deja_plan_entry *u = deja_plan_get(s->full, units[k]);
        deja_plan_add(p, u);
        for (size_t j = 0; j < deja_plan_count(s->full); j++) {
            const deja_plan_entry *c = deja_plan_get(s->full, j);
            if (c->parent >= 0 && (uint32_t)c->parent == u->id) deja_plan_add(p, c);
        }
    }
    return p;
}

/* A copy of p with every entry shift ns earlier (not before 0). */
static deja_plan *deja__shifted(const deja_plan *p, int64_t shift) {
    deja_plan *c = deja_plan_new();
    for (size_t i = 0; i < deja_plan_count(p); i++) {
        deja_plan_entry e = *deja_plan_get(p, i);
        e.at_ns = e.at_ns > shift ? e.at_ns - shift : 0;
        deja_plan_add(c, &e);
    }
    return c;
}

/* Runs a candidate; 1 when it keeps the verdict (its summary is kept), 0
 * when not or when the run budget is spent. */
static int deja__try(deja__shrink *s, const deja_params *over, const deja_plan *plan) {
    if (s->runs >= s->max_runs) return 0;
    deja_run_opts o = {.plan = plan};
    deja_summary sum;
    char err[512];
    s->runs++;
    int rc = deja_run(s->sc, s->seed, over, &o, &sum, err, sizeof err);
    int keep = rc == 1 && !strcmp(deja_summary_get(&sum, "verdict"), s->verdict);
    if (keep) s->last = sum;
    return keep;
}

static int deja__try_units(deja__shrink *s, const size_t *units, size_t n) {
    deja_plan *p = deja__plan_of(s, units, n);
    int ok = deja__try(s, s->over, p);
    deja_plan_free(p);
    return ok;
}

/* ddmin over *units (*n of them), in place. */
static void deja__ddmin(deja__shrink *s, size_t *units, size_t *n) {
    if (*n > 0 && deja__try_units(s, units, 0)) {
        *n = 0;
        return;
    }
    size_t gran = 2;
    size_t *cand = malloc((*n + 1) * sizeof *cand);
    assert(cand);
    while (*n >= 2 && s->runs < s->max_runs) {
        if (gran > *n) gran = *n;
        int reduced = 0;
        /* chunks */
        for (size_t c = 0; c < gran && !reduced; c++) {
            size_t lo = c * *n / gran, hi = (c + 1) * *n / gran, m = 0;
            for (size_t i = lo; i < hi; i++) cand[m++] = units[i];
            if (m < *n && deja__try_units(s, cand, m)) {
                memcpy(units, cand, m * sizeof *units);
                *n = m;
                gran = 2;
                reduced = 1;
            }
        }
        /* complements */
        for (size_t c = 0; c < gran && !reduced && gran > 2; c++) {
            size_t lo = c * *n / gran, hi = (c + 1) * *n / gran, m = 0;
            for (size_t i = 0; i < *n; i++)
                if (i < lo || i >= hi) cand[m++] = units[i];
            if (deja__try_units(s, cand, m)) {
                memcpy(units, cand, m * sizeof *units);
                *n = m;
                gran = gran - 1 > 2 ? gran - 1 : 2;
                reduced = 1;
            }
        }
        if (!reduced) {
            if (gran >= *n) break;
            gran = 2 * gran < *n ? 2 * gran : *n;
        }
        if (s->progress)
            fprintf(s->progress, "shrink: %zu fault units left (run %d)\n", *n, s->runs);
    }
    free(cand);
}

/* The scenario's value of key under over (the default when not set), as an
 * integer; 0 when the scenario has no such parameter or it is no integer. */
static int64_t deja__param(const deja__shrink *s, const char *key) {
    deja_params *all = NULL;
    char err[256];
    int64_t v = 0;
    if (deja_scenario_params(s->sc, s->over, &all, err, sizeof err)) return 0;
    const char *x = deja_params_get(all, key);
    if (!x || deja_parse_i64(x, &v)) v = 0;
    deja_params_free(all);
    return v;
}

static int deja__has_param(const deja_scenario *sc, const char *key) {
    for (const deja_param_def *d = sc->params; d->key; d++)
        if (!strcmp(d->key, key)) return 1;
    for (const deja_param_def *d = deja_disk_params; d->key; d++)
        if (!strcmp(d->key, key)) return 1;
    return 0;
}

/* Tries over with key=val; keeps it (in s->over) when the verdict holds. */
static int deja__try_set(deja__shrink *s, const deja_plan *plan, const char *key, const char *val) {
    deja_params *c = deja_params_clone(s->over);
    deja_params_set(c, key, val);
    int ok = deja__try(s, c, plan);
    if (ok) {
        deja_params_free(s->over);
        s->over = c;
    } else {
        deja_params_free(c);
    }
    return ok;
}

int deja_shrink(const deja_scenario *sc, uint64_t seed, const deja_params *overrides, const deja_plan *plan,
                int max_runs, FILE *progress, deja_shrink_result *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    deja__shrink s = {.sc = sc, .seed = seed, .max_runs = max_runs > 1 ? max_runs : 1, .progress = progress};
    s.over = deja_params_clone(overrides);
    deja_plan *ran = NULL;
    deja_run_opts o = {.plan = plan, .plan_record = &ran};
    deja_summary first;
    int rc = deja_run(sc, seed, s.over, &o, &first, err, errlen);
    s.runs = 1;
    if (rc != 1) {
        deja_plan_free(ran);
        deja_params_free(s.over);
        if (rc == 0) snprintf(err, errlen, "the run does not fail (verdict ok): nothing to shrink");
        return rc == 0 ? 1 : 2;
    }
    snprintf(out->verdict, sizeof out->verdict, "%s", deja_summary_get(&first, "verdict"));
    s.verdict = out->verdict;
    s.last = first;
    /* the working plan: the faults the original run injected */
    s.full = deja_plan_new();
    for (size_t i = 0; i < deja_plan_count(ran); i++)
        if (deja_plan_get(ran, i)->enabled) deja_plan_add(s.full, deja_plan_get(ran, i));
    deja_plan_free(ran);
    size_t total = deja_plan_count(s.full), n = 0;
    size_t *units = malloc((total + 1) * sizeof *units);
    assert(units);
    for (size_t i = 0; i < total; i++) {
        const deja_plan_entry *e = deja_plan_get(s.full, i);
        /* a heal whose partition is in the plan goes with it */
        int bound = 0;
        for (size_t j = 0; e->parent >= 0 && j < total && !bound; j++)
            bound = deja_plan_get(s.full, j)->id == (uint32_t)e->parent;
        if (!bound) units[n++] = i;
    }
    out->faults_before = total;
    out->duration_before_s = deja__has_param(sc, "sim.duration_s") ? deja__param(&s, "sim.duration_s") : 0;
    out->nodes_before = deja__has_param(sc, "sim.nodes") ? deja__param(&s, "sim.nodes") : 0;
    if (progress)
        fprintf(progress, "shrink: %s seed %" PRIu64 ": verdict %s, %zu faults, duration %" PRId64 " s, %" PRId64 " nodes\n",
                sc->name, seed, out->verdict, total, out->duration_before_s, out->nodes_before);

    /* 1. the faults */
    deja__ddmin(&s, units, &n);
    if (progress) fprintf(progress, "shrink: faults %zu -> %zu (run %d)\n", total, n, s.runs);
    deja_plan *cur = deja__plan_of(&s, units, n);

    /* 1b. the same faults earlier: all shifted towards the start by one
     * amount (the first no earlier than 1 s), the largest shift that keeps
     * the verdict found by bisection, so the duration can shrink after */
    int64_t tmin = INT64_MAX;
    for (size_t i = 0; i < deja_plan_count(cur); i++)
        if (deja_plan_get(cur, i)->at_ns < tmin) tmin = deja_plan_get(cur, i)->at_ns;
    if (n > 0 && tmin != INT64_MAX && tmin > 2 * RT_SEC) {
        int64_t lo = 0, hi = tmin - RT_SEC, best = 0; /* lo holds */
        for (int step = 0; step < 8 && s.runs < s.max_runs; step++) {
            int64_t shift = step == 0 ? hi : lo + (hi - lo) / 2;
            deja_plan *shifted = deja__shifted(s.full, shift);
            deja_plan *old = s.full;
            s.full = shifted;
            int ok = deja__try_units(&s, units, n);
            s.full = old;
            deja_plan_free(shifted);
            if (ok) {
                best = lo = shift;
                if (step == 0) break;
            } else {
                hi = shift;
            }
        }
        if (best > 0) {
            deja_plan *shifted = deja__shifted(s.full, best);
            deja_plan_free(s.full);
            s.full = shifted;
            deja_plan_free(cur);
            cur = deja__plan_of(&s, units, n);
        }
        if (progress)
            fprintf(progress, "shrink: faults moved %" PRId64 " ms earlier (run %d)\n", best / RT_MS, s.runs);
    }

    /* 2. the duration: the shortest that keeps the verdict, by bisection */
    if (out->duration_before_s > 1) {
        int64_t lo = 0, hi = out->duration_before_s; /* lo fails (or is 0), hi holds */
        while (hi - lo > 1 && s.runs < s.max_runs) {
            int64_t mid = lo + (hi - lo) / 2;
            char v[32];
            snprintf(v, sizeof v, "%" PRId64, mid);
            if (deja__try_set(&s, cur, "sim.duration_s", v))
                hi = mid;
            else
                lo = mid;
        }
        char v[32];
        snprintf(v, sizeof v, "%" PRId64, hi);
        if (hi != out->duration_before_s) deja_params_set(s.over, "sim.duration_s", v);
        if (progress) fprintf(progress, "shrink: duration %" PRId64 " s -> %" PRId64 " s (run %d)\n", out->duration_before_s, hi, s.runs);
    }

    /* 3. the nodes: the fewest that keep the verdict */
    if (out->nodes_before > 1) {
        for (int64_t k = 1; k < out->nodes_before && s.runs < s.max_runs; k++) {
            char v[32];
            snprintf(v, sizeof v, "%" PRId64, k);
            if (deja__try_set(&s, cur, "sim.nodes", v)) break;
        }
        if (progress) fprintf(progress, "shrink: nodes %" PRId64 " -> %" PRId64 " (run %d)\n", out->nodes_before, deja__param(&s, "sim.nodes"), s.runs);
    }

    /* 4. parameters with a simpler direction */
    for (size_t i = 0; i < sizeof deja__simpler / sizeof deja__simpler[0]; i++) {
        const char *k = deja__simpler[i][0], *v = deja__simpler[i][1];
        if (!deja__has_param(sc, k)) continue;
        deja_params *all = NULL;
        char e2[256];
        if (deja_scenario_params(sc, s.over, &all, e2, sizeof e2)) continue;
        const char *now = deja_params_get(all, k);
        int64_t a = 0, b = 0;
        int same = now && (!strcmp(now, v) || (!deja_parse_fixed9(now, &a) && !deja_parse_fixed9(v, &b) && a == b));
        deja_params_free(all);
        if (same) continue;
        int ok = deja__try_set(&s, cur, k, v);
        if (progress) fprintf(progress, "shrink: %s=%s %s (run %d)\n", k, v, ok ? "kept" : "changes the verdict", s.runs);
    }
    for (const deja_param_def *d = deja_disk_params; d->key; d++) {
        size_t kl = strlen(d->key);
        if (kl < 4 || strcmp(d->key + kl - 4, "_pct")) continue;
        deja_params *all = NULL;
        char e2[256];
        if (deja_scenario_params(sc, s.over, &all, e2, sizeof e2)) continue;
        const char *now = deja_params_get(all, d->key);
        int zero = !now || !strcmp(now, "0");
        deja_params_free(all);
        if (zero) continue;
        int ok = deja__try_set(&s, cur, d->key, "0");
        if (progress) fprintf(progress, "shrink: %s=0 %s (run %d)\n", d->key, ok ? "kept" : "changes the verdict", s.runs);
    }

    /* 5. the faults again, in the smaller world: drop what no longer fires */
    int64_t dur = deja__has_param(sc, "sim.duration_s") ? deja__param(&s, "sim.duration_s") : 0;
    int64_t nodes = deja__has_param(sc, "sim.nodes") ? deja__param(&s, "sim.nodes") : 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const deja_plan_entry *e = deja_plan_get(s.full, units[i]);
        if ((dur > 0 && e->at_ns >= dur * RT_SEC) || (nodes > 0 && e->node >= nodes)) continue;
        units[m++] = units[i];
    }
    if (m < n && deja__try_units(&s, units, m)) n = m;
    deja__ddmin(&s, units, &n);
    deja_plan_free(cur);
    cur = deja__plan_of(&s, units, n);
    /* the minimal run, once more, for its summary (and to be sure) */
    s.max_runs++;
    int final_ok = deja__try(&s, s.over, cur);
    assert(final_ok && "a shrunk run lost its verdict: the simulation is not deterministic");
    (void)final_ok;

    out->faults_after = deja_plan_count(cur);
    out->duration_after_s = dur;
    out->nodes_after = nodes;
    out->runs = s.runs;
    out->overrides = s.over;
    out->plan = cur;
    out->summary = s.last;
    if (progress) fprintf(progress, "shrink: done after %d runs\n", s.runs);
    free(units);
    deja_plan_free(s.full);
    return 0;
}

void deja_shrink_result_free(deja_shrink_result *r) {
    if (!r) return;
    deja_params_free(r->overrides);
    deja_plan_free(r->plan);
    r->overrides = NULL;
    r->plan = NULL;
}
