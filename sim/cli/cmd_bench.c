/*
 * cmd_bench.c -- `deja bench`: how fast the simulator is, in three numbers:
 *   switches_per_s  task switches per wall second (two tasks of one node
 *                   rt_yield to each other; each yield goes task ->
 *                   scheduler -> the other task);
 *   events_per_s    simulator events (task resumptions and timed events, as
 *                   deja_world_events counts them) per wall second, while 64
 *                   task pairs pass tokens through unbuffered channels;
 *   speedup         simulated seconds per wall second of the default
 *                   drift-fork run (deja_run with no overrides).
 * Each is the median of 5 repetitions (3 with --quick), with min and max.
 * The bench programs are registered here, before any world is built; they
 * read their sizes from the world's parameters like any node program. Wall
 * time comes from CLOCK_MONOTONIC: the CLI is not node code.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/rt.h"
#include "deja/world.h"

#define BENCH__PAIRS_MAX 1024

/* ---- the bench programs (node code: rt.h only) ---------------------------- */

typedef struct bench__yielder {
    int64_t n;
    rt_wg *wg;
} bench__yielder;

static void bench__yield_task(void *arg) {
    bench__yielder *y = arg;
    for (int64_t i = 0; i < y->n; i++) rt_yield();
    rt_wg_done(y->wg);
}

/* bench-switch: main and a partner task yield to each other bench.yields
 * times each. */
static void bench__switch_main(rt_ctx *ctx) {
    (void)ctx;
    bench__yielder y = {rt_param_i64("bench.yields", 1000000), rt_wg_new()};
    rt_wg_add(y.wg, 1);
    rt_spawn("bench-yield", bench__yield_task, &y);
    for (int64_t i = 0; i < y.n; i++) rt_yield();
    rt_wg_wait(y.wg, RT_FOREVER);
    rt_wg_free(y.wg);
}

typedef struct bench__pair {
    rt_chan *ping, *pong;
    int64_t rounds;
    rt_wg *wg;
} bench__pair;

static void bench__pinger(void *arg) {
    bench__pair *p = arg;
    int64_t tok = 0;
    for (int64_t i = 0; i < p->rounds; i++) {
        tok++;
        if (rt_chan_send(p->ping, &tok, RT_FOREVER) != RT_OK) break;
        if (rt_chan_recv(p->pong, &tok, RT_FOREVER) != RT_OK) break;
    }
    rt_wg_done(p->wg);
}

static void bench__ponger(void *arg) {
    bench__pair *p = arg;
    int64_t tok;
    for (int64_t i = 0; i < p->rounds; i++) {
        if (rt_chan_recv(p->ping, &tok, RT_FOREVER) != RT_OK) break;
        tok++;
        if (rt_chan_send(p->pong, &tok, RT_FOREVER) != RT_OK) break;
    }
    rt_wg_done(p->wg);
}

/* bench-pingpong: bench.pairs pairs of tasks, each passing a token back and
 * forth bench.rounds times through two unbuffered channels. */
static void bench__pingpong_main(rt_ctx *ctx) {
    (void)ctx;
    int64_t npairs = rt_param_i64("bench.pairs", 64);
    if (npairs < 1) npairs = 1;
    if (npairs > BENCH__PAIRS_MAX) npairs = BENCH__PAIRS_MAX;
    int64_t rounds = rt_param_i64("bench.rounds", 5000);
    bench__pair *pairs = rt_calloc((size_t)npairs, sizeof *pairs);
    rt_wg *wg = rt_wg_new();
    rt_wg_add(wg, (int)(2 * npairs));
    for (int64_t i = 0; i < npairs; i++) {
        pairs[i].ping = rt_chan_new("ping", sizeof(int64_t), 0);
        pairs[i].pong = rt_chan_new("pong", sizeof(int64_t), 0);
        pairs[i].rounds = rounds;
        pairs[i].wg = wg;
        rt_spawn("pinger", bench__pinger, &pairs[i]);
        rt_spawn("ponger", bench__ponger, &pairs[i]);
    }
    rt_wg_wait(wg, RT_FOREVER);
    rt_wg_free(wg);
    for (int64_t i = 0; i < npairs; i++) {
        rt_chan_free(pairs[i].ping);
        rt_chan_free(pairs[i].pong);
    }
    rt_free(pairs);
}

/* ---- measuring --------------------------------------------------------- */

static double bench__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench__cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of n samples (sorts them). */
static void bench__stats(double *v, int n, double *med, double *lo, double *hi) {
    assert(n > 0);
    qsort(v, (size_t)n, sizeof *v, bench__cmp);
    *lo = v[0];
    *hi = v[n - 1];
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs one world of program with params p on one node; returns the wall
 * seconds of the run and its event count. */
static double bench__world(const char *program, const deja_params *p, uint64_t *events) {
    deja_world *w = deja_world_new(1, p);
    int id = deja_node_add(w, program, 0, 0);
    assert(id == 0);
    (void)id;
    deja_world_set_duration(w, 3600 * RT_SEC);
    double t0 = bench__now();
    deja_world_run(w);
    double dt = bench__now() - t0;
    *events = deja_world_events(w);
    deja_world_shutdown(w, RT_SEC);
    assert(deja_world_live_tasks(w, -1) == 0);
    deja_world_free(w);
    return dt > 1e-9 ? dt : 1e-9;
}

static void bench__help(FILE *out) {
    fprintf(out,
            "usage: deja bench [--quick]\n\n"
            "Measures the simulator and prints, one key=value a line:\n"
            "  switches_per_s  task switches per wall second (2 tasks of one node\n"
            "                  rt_yield to each other)\n"
            "  events_per_s    simulator events per wall second (64 task pairs pass\n"
            "                  tokens through unbuffered channels)\n"
            "  speedup         simulated seconds per wall second of the default\n"
            "                  drift-fork run\n"
            "each as the median of 5 repetitions (3 with --quick, which also uses\n"
            "smaller workloads), with _min and _max, and a *_context line saying what\n"
            "was measured.\n\n"
            "exit status: 0; 1 when the drift-fork run fails its oracles; 2 bad input.\n");
}

int deja_cmd_bench(int argc, char **argv) {
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (deja_cli_is_help(argv[i])) {
            bench__help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--quick")) {
            quick = 1;
        } else {
            return deja_cli_usage_error("bench", "unexpected argument '%s'", argv[i]);
        }
    }
    const int reps = quick ? 3 : 5;
    const int64_t yields = quick ? 1000000 : 5000000;
    const int64_t pairs = 64, rounds = quick ? 5000 : 20000;
    rt_program_register("bench-switch", bench__switch_main);
    rt_program_register("bench-pingpong", bench__pingpong_main);
    double v[5], med, lo, hi;
    uint64_t events = 0;
    char num[32];

    /* switches */
    deja_params *p = deja_params_new();
    snprintf(num, sizeof num, "%" PRId64, yields);
    deja_params_set(p, "bench.yields", num);
    for (int r = 0; r < reps; r++) v[r] = (double)(2 * yields) / bench__world("bench-switch", p, &events);
    deja_params_free(p);
    bench__stats(v, reps, &med, &lo, &hi);
    printf("switches_per_s=%.0f\nswitches_per_s_min=%.0f\nswitches_per_s_max=%.0f\n", med, lo, hi);
    printf("switches_context=2 tasks on 1 node rt_yield to each other, %" PRId64
           " switches per run, median of %d runs\n",
           2 * yields, reps);
    fflush(stdout);

    /* events */
    p = deja_params_new();
    snprintf(num, sizeof num, "%" PRId64, pairs);
    deja_params_set(p, "bench.pairs", num);
    snprintf(num, sizeof num, "%" PRId64, rounds);
    deja_params_set(p, "bench.rounds", num);
    for (int r = 0; r < reps; r++) {
        double dt = bench__world("bench-pingpong", p, &events);
        v[r] = (double)events / dt;
    }
    deja_params_free(p);
    bench__stats(v, reps, &med, &lo, &hi);
    printf("events_per_s=%.0f\nevents_per_s_min=%.0f\nevents_per_s_max=%.0f\n", med, lo, hi);
    printf("events_context=%" PRId64 " task pairs on 1 node pass a token %" PRId64
           " times through unbuffered channels, %" PRIu64 " events per run, median of %d runs\n",
           pairs, rounds, events, reps);
    fflush(stdout);

    /* speedup */
    const deja_scenario *sc = deja_scenario_find("drift-fork");
    if (!sc) {
        printf("speedup=0\nspeedup_context=no drift-fork scenario is built in\n");
        return 0;
    }
    int64_t sim_ns = 0;
    double wall[5];
    int rc = 0;
    for (int r = 0; r < reps; r++) {
        deja_summary s;
        char err[256];
        double t0 = bench__now();
        int rr = deja_run(sc, 1, NULL, NULL, &s, err, sizeof err);
        double dt = bench__now() - t0;
        if (rr == 2) {
            fprintf(stderr, "deja bench: drift-fork: %s\n", err);
            return 2;
        }
        if (rr) rc = 1;
        const char *sn = deja_summary_get(&s, "sim_ns");
        if (!sn || deja_parse_i64(sn, &sim_ns)) sim_ns = 0;
        wall[r] = dt;
        v[r] = (double)sim_ns / 1e9 / (dt > 1e-9 ? dt : 1e-9);
    }
    bench__stats(v, reps, &med, &lo, &hi);
    double wmed, wlo, whi;
    bench__stats(wall, reps, &wmed, &wlo, &whi);
    printf("speedup=%.1f\nspeedup_min=%.1f\nspeedup_max=%.1f\n", med, lo, hi);
    printf("speedup_context=drift-fork seed 1 with default parameters: %.1f s simulated in %.3f s wall "
           "(median of %d runs)%s\n",
           (double)sim_ns / 1e9, wmed, reps, rc ? "; its verdict was not ok" : "");
    return rc;
}
