/*
 * debug.h -- taking a failing run apart (sim/lab): shrinking it to the
 * fewest faults, the shortest duration, the fewest nodes and the simplest
 * parameters that keep its verdict, and comparing two runs event by event.
 * docs/debugging.md walks through both.
 */
#ifndef DEJA_DEBUG_H
#define DEJA_DEBUG_H

#include <stdint.h>
#include <stdio.h>

#include "deja/deja.h"
#include "deja/world.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- shrink (shrink.c) --------------------------------------------------- */

/* What deja_shrink starts from and what it found. */
typedef struct deja_shrink_result {
    char verdict[32];          /* the verdict every accepted run kept */
    size_t faults_before, faults_after;
    int64_t duration_before_s, duration_after_s; /* sim.duration_s (0: the scenario has none) */
    int64_t nodes_before, nodes_after;           /* sim.nodes (0: the scenario has none) */
    int runs;                  /* runs spent, the first included */
    deja_params *overrides;    /* of the minimal run (free with deja_params_free) */
    deja_plan *plan;           /* its given plan (free with deja_plan_free) */
    deja_summary summary;      /* its summary */
} deja_shrink_result;

/* Shrinks the failing run (sc, seed, overrides, plan: NULL for the drawn
 * one) while every accepted run keeps its verdict: delta debugging over the
 * plan's faults (a heal goes with its partition), then sim.duration_s, then
 * sim.nodes, then the parameters with a simpler direction (swarm=0, no
 * loss, no jitter, no clock offset or drift, no disk faults), then the
 * faults again. At most max_runs runs. Deterministic: the same input gives
 * the same result. Progress lines go to progress (may be NULL). Returns 0
 * (out filled), 1 when the run does not fail (nothing to shrink), 2 on bad
 * input (err set). */
int deja_shrink(const deja_scenario *sc, uint64_t seed, const deja_params *overrides, const deja_plan *plan,
                int max_runs, FILE *progress, deja_shrink_result *out, char *err, size_t errlen);
void deja_shrink_result_free(deja_shrink_result *r);

/* ---- diff (diff.c) ------------------------------------------------------- */

/* The first divergence of two text traces. */
typedef struct deja_diff_result {
    int differ;          /* 0: the traces are the same */
    uint64_t line;       /* 1-based line of the first difference */
    uint64_t event;      /* its event number (0 when the line has none) */
    int64_t t;           /* its virtual time (ns), -1 when unknown */
    int node;            /* its node, -1 when none */
    uint64_t task;       /* its task, 0 outside tasks */
    char kind[24];       /* its kind ("send", "fact", ...), "" when unknown */
    uint64_t lines_a, lines_b; /* lines read from each */
} deja_diff_result;

/* Compares two text traces (deja run --trace) line by line, streaming:
 * memory stays bounded whatever their length (a ring of `context` earlier
 * lines and two line buffers). A spawn's source line is ignored, as the
 * trace digest ignores it. When out is set, the first difference is
 * printed: event number, time, node, task, kind, both versions (A and B,
 * or "(ends here)") and the `context` events before it. Returns 0 (same),
 * 1 (they differ) or 2 (a read error). */
int deja_diff_traces(FILE *a, FILE *b, int context, FILE *out, deja_diff_result *res);

/* ---- looking at a run (perfetto.c, timeline.c) -------------------------- */

/* Writes a run in the Chrome trace-event format (JSON, one event a line)
 * that Perfetto and chrome://tracing open: nodes are processes (pid =
 * node + 1; pid 0 is the world), tasks are threads (tid = task id; tid 0
 * is the node's network side, where deliveries land), the intervals a task
 * waits between two runs are "blocked" slices, messages are flow arrows
 * from the send to the delivery, facts, faults (crash, restart, pause,
 * clock steps and slews, partitions) and the first violation are instant
 * events. Attach deja_perfetto_observe as the run's observer with the
 * exporter as its argument; deja_perfetto_finish closes the JSON. */
typedef struct deja_perfetto deja_perfetto;
deja_perfetto *deja_perfetto_new(FILE *out);
void deja_perfetto_observe(void *exporter, const deja_trace_event *e);
/* Ends the JSON and frees the exporter; 0, or -1 when a write failed. */
int deja_perfetto_finish(deja_perfetto *p);

/* Collects what the HTML timeline draws (deja timeline): messages, facts
 * (blocks, coloured by hash, so a fork shows two colours at one height),
 * crashes, restarts, pauses, clock steps, partitions and the first
 * violation. Bounded: past max_items the rest is counted, not kept. */
typedef struct deja_timeline deja_timeline;
deja_timeline *deja_timeline_new(size_t max_items);
void deja_timeline_observe(void *timeline, const deja_trace_event *e);
/* Writes one self-contained HTML page (no network access): a space-time
 * diagram with a lane per node, zoom (wheel), pan (drag) and details on
 * hover. title is shown on top; the page opens on [view_from_ns,
 * view_to_ns] (the whole run when view_to_ns <= view_from_ns). 0, or -1
 * when a write failed. */
int deja_timeline_write_html(const deja_timeline *tl, FILE *out, const char *title, int64_t duration_ns,
                             int64_t view_from_ns, int64_t view_to_ns);
void deja_timeline_free(deja_timeline *tl);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_DEBUG_H */
