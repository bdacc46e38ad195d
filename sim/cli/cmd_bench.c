/*
 * cmd_bench.c -- `deja bench`: how fast the simulator is:
 *   switches_per_s  task switches per second (two tasks of one node
 *                   rt_yield to each other; each yield goes task ->
 *                   scheduler -> the other task);
 *   events_per_s    simulator events (task resumptions and timed events, as
 *                   deja_world_events counts them) per second, while 64
 *                   task pairs pass tokens through unbuffered channels;
 *   ring_ns_per_msg_N, yield_ns_N  the cost of a message in a ring of N
 *                   tasks that all share each deadline, and of a yield
 *                   among N tasks, for N from 100 to 1,000,000;
 *   bytes_per_task, spawn_s  memory and spawn time of 1,000,000 tasks;
 *   speedup*        simulated seconds per second of the default drift-fork,
 *                   raft and storage-faults runs (deja_run, no overrides).
 * Each is the median of 5 repetitions (3 with --quick), with min and max.
 * The bench programs are registered here, before any world is built; they
 * read their sizes from the world's parameters like any node program. Time
 * is the CPU time of the simulating thread (CLOCK_THREAD_CPUTIME_ID: equal
 * to wall time on an idle machine, not inflated by other load); the CLI is
 * not node code.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
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

/* bench-ring: bench.tasks tasks in a ring, each with a capacity-1 inbox that
 * starts with one token. Every round each task receives from its inbox,
 * sends to its neighbour's and sleeps 1 ms of virtual time, so all the tasks
 * share each deadline. bench.rounds rounds. Task i sends to task i-1, the
 * one that ran just before it in the round: the inbox it sends to has
 * just been emptied, and one send a round waits (the first task's, on the
 * last task's inbox). Every ring size runs that same schedule from its
 * first round. (Sending to task i+1 instead, every send would wait for its
 * receiver in the first round, one fewer in each round after: a ring of N
 * would settle only after N rounds, so a short run of a large ring would
 * pay two task switches a message where a long run of a small one pays
 * one.) */
typedef struct bench__ring {
    rt_chan **ch;
    int64_t n, rounds;
    rt_wg *wg;
} bench__ring;

typedef struct bench__member {
    bench__ring *ring;
    int64_t i;
} bench__member;

static void bench__ring_task(void *arg) {
    bench__member *m = arg;
    bench__ring *r = m->ring;
    rt_chan *in = r->ch[m->i], *out = r->ch[(m->i + r->n - 1) % r->n];
    int64_t tok;
    for (int64_t k = 0; k < r->rounds; k++) {
        if (rt_chan_recv(in, &tok, RT_FOREVER) != RT_OK) break;
        if (rt_chan_send(out, &tok, RT_FOREVER) != RT_OK) break;
        rt_sleep_ns(RT_MS);
    }
    rt_wg_done(r->wg);
}

/* bench-yield: bench.tasks tasks each sleep 1 ms (so that all are spawned
 * before any yields), then rt_yield bench.rounds times. */
static void bench__yield_many(void *arg) {
    bench__ring *r = arg;
    rt_sleep_ns(RT_MS);
    for (int64_t k = 0; k < r->rounds; k++) rt_yield();
    rt_wg_done(r->wg);
}

/* Both many-task programs: bench.kind = ring or yield. */
static void bench__many_main(rt_ctx *ctx) {
    (void)ctx;
    bench__ring r = {NULL, rt_param_i64("bench.tasks", 100), rt_param_i64("bench.rounds", 10), rt_wg_new()};
    int ring = !strcmp(rt_param_str("bench.kind", "ring"), "ring");
    if (r.n < 2) r.n = 2;
    bench__member *m = NULL;
    /* small stacks: a million of them fit in a few GB */
    rt_spawn_opts so = {(size_t)rt_param_i64("bench.stack_bytes", 1984)};
    if (ring) {
        r.ch = rt_calloc((size_t)r.n, sizeof *r.ch);
        m = rt_calloc((size_t)r.n, sizeof *m);
        assert(r.ch && m);
        for (int64_t i = 0; i < r.n; i++) {
            int64_t tok = i;
            r.ch[i] = rt_chan_new("ring", sizeof tok, 1);
            assert(r.ch[i]);
            rt_chan_send(r.ch[i], &tok, 0);
        }
    }
    rt_wg_add(r.wg, (int)r.n);
    for (int64_t i = 0; i < r.n; i++) {
        int rc;
        if (ring) {
            m[i] = (bench__member){&r, i};
            rc = rt_spawn_with("ring", bench__ring_task, &m[i], &so);
        } else {
            rc = rt_spawn_with("yielder", bench__yield_many, &r, &so);
        }
        if (rc != RT_OK) {
            rt_log(RT_LOG_ERROR, "bench: spawn %lld of %lld failed", (long long)i, (long long)r.n);
            rt_wg_add(r.wg, (int)(i - r.n));
            break;
        }
    }
    rt_wg_wait(r.wg, RT_FOREVER);
    rt_wg_free(r.wg);
    if (ring) {
        for (int64_t i = 0; i < r.n; i++) rt_chan_free(r.ch[i]);
        rt_free(r.ch);
        rt_free(m);
    }
}

/* ---- measuring --------------------------------------------------------- */

/* Seconds of CPU time of this thread (the whole simulation runs on it): on
 * an idle machine the same as wall time, and unlike wall time not inflated
 * when other work shares the cores. */
static double bench__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* Resident bytes of this process, page tables included (Linux /proc; 0
 * where it cannot be read). */
static double bench__resident(void) {
    double bytes = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long long kb;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1 || sscanf(line, "VmPTE: %lld kB", &kb) == 1)
            bytes += (double)kb * 1024;
    fclose(f);
    return bytes;
}

/* What one many-task run measured. */
typedef struct bench__many_res {
    double ns_per_op;      /* wall ns per message (ring) or per yield (yield), after spawning */
    double spawn_s;        /* wall seconds from the start until every task is parked */
    double bytes_per_task; /* resident growth by then, per task */
    int ok;                /* every task was spawned */
} bench__many_res;

typedef struct bench__stamp {
    double wall, resident;
    int live;
} bench__stamp;

static void bench__stamp_now(deja_world *w, void *arg) {
    bench__stamp *st = arg;
    st->wall = bench__now();
    st->resident = bench__resident();
    st->live = deja_world_live_tasks(w, -1);
}

/* Runs bench-many with n tasks of kind ("ring" or "yield") for rounds
 * rounds. At 0.5 ms of virtual time every task has been spawned and is
 * asleep (ring: after its first round): the time and resident size there
 * give the spawn cost, the rest of the run the cost per operation. */
static bench__many_res bench__many(const char *kind, int64_t n, int64_t rounds) {
    char num[32];
    deja_params *p = deja_params_new();
    deja_params_set(p, "bench.kind", kind);
    snprintf(num, sizeof num, "%" PRId64, n);
    deja_params_set(p, "bench.tasks", num);
    snprintf(num, sizeof num, "%" PRId64, rounds);
    deja_params_set(p, "bench.rounds", num);
    double rss0 = bench__resident();
    deja_world *w = deja_world_new(1, p);
    bench__stamp st = {0, 0, 0};
    deja_world_at(w, RT_MS / 2, bench__stamp_now, &st);
    int id = deja_node_add(w, "bench-many", 0, 0);
    assert(id == 0);
    (void)id;
    deja_world_set_duration(w, 3600 * RT_SEC);
    double t0 = bench__now();
    deja_world_run(w);
    double t1 = bench__now();
    bench__many_res res = {0, st.wall - t0, (st.resident - rss0) / (double)n, 1};
    int ring = !strcmp(kind, "ring");
    double ops = (double)n * (double)(ring ? rounds - 1 : rounds);
    res.ns_per_op = (t1 - st.wall) * 1e9 / (ops > 0 ? ops : 1);
    res.ok = st.live > n; /* the n tasks and main */
    deja_world_shutdown(w, RT_SEC);
    deja_world_free(w);
    deja_params_free(p);
    return res;
}

/* Rounds so that a run does about `ops` operations, at least 3. */
static int64_t bench__rounds(int64_t ops, int64_t n) {
    int64_t r = ops / n;
    return r < 3 ? 3 : r;
}

static void bench__help(FILE *out) {
    fprintf(out,
            "usage: deja bench [--quick] [--tasks N | --ring N | --scenario NAME] [--json]\n\n"
            "Measures the simulator and prints, one key=value a line:\n"
            "  switches_per_s     task switches per wall second (2 tasks of one node\n"
            "                     rt_yield to each other)\n"
            "  events_per_s       simulator events per wall second (64 task pairs pass\n"
            "                     tokens through unbuffered channels)\n"
            "  ring_ns_per_msg_N  wall ns per message in a ring of N tasks (each\n"
            "                     receives from a capacity-1 channel, sends on, sleeps\n"
            "                     1 ms), N = 100, 1000, 10000, 100000, 1000000\n"
            "  yield_ns_N         wall ns per rt_yield with N tasks yielding\n"
            "  ring_growth_100000 ring_ns_per_msg at 100000 tasks over that at 100,\n"
            "                     the two sizes alternated (the median of the pairs'\n"
            "                     ratios; not with --quick)\n"
            "  bytes_per_task     resident growth (page tables included) per parked\n"
            "                     task, with 1,000,000 tasks; spawn_s the time to\n"
            "                     spawn them\n"
            "  speedup_SCENARIO   simulated seconds per second of the default\n"
            "                     drift-fork, raft and storage-faults runs (speedup is\n"
            "                     drift-fork's)\n"
            "  nodes_10k_s        seconds of a 60 s drift-fork run with 10,000 nodes\n"
            "                     (median of 3; not with --quick), and its peak\n"
            "                     resident bytes (nodes_10k_peak_bytes)\n"
            "Times are CPU seconds of the simulating thread (wall time on an idle\n"
            "machine). Each is the median of 5 repetitions (3 with --quick, which uses\n"
            "smaller workloads and stops the task counts at 10000), with _min and\n"
            "_max, and a *_context line saying what was measured. --json prints the\n"
            "same keys as one JSON object.\n\n"
            "  --tasks N  task-scale mode only: spawn N parked tasks once and print\n"
            "             tasks, spawn_s, resident_bytes and bytes_per_task\n"
            "  --ring N   only ring_ns_per_msg_N\n"
            "  --scenario NAME  only the speedup of NAME's default run\n\n"
            "exit status: 0; 1 when a scenario run fails its oracles or tasks cannot\n"
            "be spawned; 2 bad input.\n");
}

/* Prints key=0 and ctx_context=why (a printf format) for a key that was
 * not measured. */
__attribute__((format(printf, 3, 4))) static void bench__unmeasured(const char *key, const char *ctx,
                                                                    const char *why, ...) {
    printf("%s=0\n%s_context=", key, ctx);
    va_list ap;
    va_start(ap, why);
    vprintf(why, ap);
    va_end(ap);
    putchar('\n');
}

/* Prints key=median, key_min, key_max of reps samples. */
static void bench__print(const char *key, double *v, int reps, const char *fmt) {
    double med, lo, hi;
    bench__stats(v, reps, &med, &lo, &hi);
    char line[160];
    snprintf(line, sizeof line, "%%s=%s\n%%s_min=%s\n%%s_max=%s\n", fmt, fmt, fmt);
    printf(line, key, med, key, lo, key, hi);
}

/* ring_growth_100000: what a message costs in a ring of 100,000 tasks over
 * what it costs in a ring of 100. The two sizes alternate and the ratio is
 * taken in each pair: a neighbour's load that slows the machine for a
 * stretch of minutes moves both sides of a pair alike, where the medians
 * of ring_ns_per_msg_100 and _100000, measured minutes apart, can each
 * catch a different stretch. */
static void bench__ring_growth(int reps, int *rc) {
    const int64_t small = 100, large = 100000, ops = 3000000;
    double v[5];
    int ok = 1;
    assert(reps <= 5);
    for (int r = 0; r < reps; r++) {
        bench__many_res a = bench__many("ring", small, bench__rounds(ops, small));
        bench__many_res b = bench__many("ring", large, bench__rounds(ops, large));
        ok &= a.ok && b.ok;
        v[r] = a.ns_per_op > 0 ? b.ns_per_op / a.ns_per_op : 0;
    }
    if (!ok) {
        bench__unmeasured("ring_growth_100000", "ring_growth_100000", "could not spawn %" PRId64 " tasks", large);
        *rc = *rc ? *rc : 1;
    } else {
        bench__print("ring_growth_100000", v, reps, "%.2f");
        printf("ring_growth_100000_context=ring_ns_per_msg at %" PRId64 " tasks over that at %" PRId64
               ", the two alternated, median of %d pairs' ratios\n",
               large, small, reps);
    }
    fflush(stdout);
}

/* Task-scale mode: one spawn of n parked tasks. */
static int bench__task_scale(int64_t n) {
    bench__many_res r = bench__many("yield", n, 1);
    printf("tasks=%" PRId64 "\nspawn_s=%.3f\nresident_bytes=%.0f\nbytes_per_task=%.0f\n", n, r.spawn_s,
           r.bytes_per_task * (double)n, r.bytes_per_task);
    if (!r.ok) deja_cli_eprintf("deja bench: could not spawn %" PRId64 " tasks\n", n);
    return r.ok ? 0 : 1;
}

/* Ring mode: ring_ns_per_msg at one task count. */
static int bench__ring_only(int64_t n, int quick) {
    const int reps = quick ? 3 : 5;
    int64_t rnds = bench__rounds(quick ? 500000 : 3000000, n);
    double v[5];
    int ok = 1;
    for (int r = 0; r < reps; r++) {
        bench__many_res m = bench__many("ring", n, rnds);
        ok &= m.ok;
        v[r] = m.ns_per_op;
    }
    char key[64];
    snprintf(key, sizeof key, "ring_ns_per_msg_%" PRId64, n);
    bench__print(key, v, reps, "%.1f");
    if (!ok) deja_cli_eprintf("deja bench: could not spawn %" PRId64 " tasks\n", n);
    return ok ? 0 : 1;
}

/* The speedup of one scenario's default run (seed 1); 0 when it is not
 * built in. rc becomes 1 when a run fails its oracles, 2 on bad input. */
static void bench__speedup(const char *name, const char *key, int reps, int *rc) {
    const deja_scenario *sc = deja_scenario_find(name);
    if (!sc) {
        bench__unmeasured(key, key, "no %s scenario is built in", name);
        return;
    }
    int64_t sim_ns = 0;
    double v[5], wall[5];
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        deja_summary s;
        char err[256];
        double t0 = bench__now();
        int rr = deja_run(sc, 1, NULL, NULL, &s, err, sizeof err);
        double dt = bench__now() - t0;
        if (rr == 2) {
            deja_cli_eprintf("deja bench: %s: %s\n", name, err);
            *rc = 2;
            return;
        }
        if (rr) bad = 1;
        const char *sn = deja_summary_get(&s, "sim_ns");
        if (!sn || deja_parse_i64(sn, &sim_ns)) sim_ns = 0;
        wall[r] = dt;
        v[r] = (double)sim_ns / 1e9 / (dt > 1e-9 ? dt : 1e-9);
    }
    if (bad && *rc == 0) *rc = 1;
    bench__print(key, v, reps, "%.1f");
    double wmed, wlo, whi;
    bench__stats(wall, reps, &wmed, &wlo, &whi);
    printf("%s_context=%s seed 1 with default parameters: %.1f s simulated in %.3f CPU s "
           "(median of %d runs)%s\n",
           key, name, (double)sim_ns / 1e9, wmed, reps, bad ? "; its verdict was not ok" : "");
    fflush(stdout);
}

/* Peak resident bytes since the last reset (Linux: VmHWM, reset by writing
 * 5 to /proc/self/clear_refs); 0 where unknown. */
static double bench__peak_reset(int reset) {
    if (reset) {
        FILE *f = fopen("/proc/self/clear_refs", "w");
        if (f) {
            fputs("5", f);
            fclose(f);
        }
        return 0;
    }
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return (double)kb * 1024;
}

/* nodes_10k_s: seconds for a 60 s drift-fork run with 10,000 nodes (reps
 * runs), with the peak resident size. Says so when the scenario does not
 * take that many nodes. */
static void bench__nodes_10k(int reps, int *rc) {
    const deja_scenario *sc = deja_scenario_find("drift-fork");
    if (!sc) {
        bench__unmeasured("nodes_10k_s", "nodes_10k", "no drift-fork scenario is built in");
        return;
    }
    deja_params *o = deja_params_new();
    deja_params_set(o, "sim.nodes", "10000");
    deja_params_set(o, "sim.duration_s", "60");
    double v[5], peak[5];
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        deja_summary s;
        char err[256];
        bench__peak_reset(1);
        double t0 = bench__now();
        int rr = deja_run(sc, 1, o, NULL, &s, err, sizeof err);
        v[r] = bench__now() - t0;
        peak[r] = bench__peak_reset(0);
        if (rr == 2) {
            bench__unmeasured("nodes_10k_s", "nodes_10k", "drift-fork does not run 10,000 nodes: %s", err);
            deja_params_free(o);
            return;
        }
        if (rr) bad = 1;
    }
    deja_params_free(o);
    if (bad && *rc == 0) *rc = 1;
    bench__print("nodes_10k_s", v, reps, "%.2f");
    bench__print("nodes_10k_peak_bytes", peak, reps, "%.0f");
    printf("nodes_10k_context=drift-fork seed 1, sim.nodes=10000, 60 s simulated: seconds per run and peak "
           "resident bytes of the process, median of %d runs%s\n",
           reps, bad ? "; its verdict was not ok" : "");
    fflush(stdout);
}

/* Everything `deja bench` is given, filled by its flag table. */
typedef struct bench__args {
    bool quick;
    uint64_t tasks, ring;
    const char *scenario;
} bench__args;

/* --scenario: a registered scenario's name into the const char * at dest. */
static int bench__scenario(const char *cmd, const char *flag, const char *val, void *dest) {
    (void)flag;
    if (!deja_scenario_find(val)) return deja_cli_usage_error(cmd, "unknown scenario '%s'", val);
    *(const char **)dest = val;
    return 0;
}

static const deja_cli_opt bench__rows[] = {
    {.name = "--quick", .kind = DEJA_CLI_BOOL, .off = offsetof(bench__args, quick)},
    {.name = "--tasks", .kind = DEJA_CLI_U64, .off = offsetof(bench__args, tasks), .lo = 1, .hi = 100000000},
    {.name = "--scenario", .kind = DEJA_CLI_FN, .off = offsetof(bench__args, scenario), .parse = bench__scenario},
    {.name = "--ring", .kind = DEJA_CLI_U64, .off = offsetof(bench__args, ring), .lo = 2, .hi = 100000000},
    {0},
};

static const deja_cli_table bench__tables[] = {{bench__rows, 0}, {0}};

const deja_cli_spec deja_bench_spec = {.cmd = "bench", .help = bench__help, .tables = bench__tables};

int deja_cmd_bench(int argc, char **argv) {
    bench__args a = {0};
    int npos = 0;
    int prc = deja_cli_parse(&deja_bench_spec, argc, argv, &a, NULL, &npos);
    if (prc) return prc == DEJA_CLI_HELP ? 0 : prc;
    const int quick = a.quick;
    const uint64_t scale_tasks = a.tasks, ring_tasks = a.ring;
    const char *only_scenario = a.scenario;
    rt_program_register("bench-switch", bench__switch_main);
    rt_program_register("bench-pingpong", bench__pingpong_main);
    rt_program_register("bench-many", bench__many_main);
    if (scale_tasks) return bench__task_scale((int64_t)scale_tasks);
    if (ring_tasks) return bench__ring_only((int64_t)ring_tasks, quick);
    if (only_scenario) {
        int rc = 0;
        bench__speedup(only_scenario, "speedup", quick ? 3 : 5, &rc);
        return rc;
    }

    const int reps = quick ? 3 : 5;
    const int64_t yields = quick ? 1000000 : 5000000;
    const int64_t pairs = 64, rounds = quick ? 5000 : 20000;
    double v[5];
    uint64_t events = 0;
    char num[32];
    int rc = 0;

    /* switches */
    deja_params *p = deja_params_new();
    snprintf(num, sizeof num, "%" PRId64, yields);
    deja_params_set(p, "bench.yields", num);
    for (int r = 0; r < reps; r++) v[r] = (double)(2 * yields) / bench__world("bench-switch", p, &events);
    deja_params_free(p);
    bench__print("switches_per_s", v, reps, "%.0f");
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
    bench__print("events_per_s", v, reps, "%.0f");
    printf("events_context=%" PRId64 " task pairs on 1 node pass a token %" PRId64
           " times through unbuffered channels, %" PRIu64 " events per run, median of %d runs\n",
           pairs, rounds, events, reps);
    fflush(stdout);

    /* many tasks: ring messages and yields per task count */
    static const int64_t counts[] = {100, 1000, 10000, 100000, 1000000};
    const int n_counts = quick ? 3 : 5;
    const int64_t ops = quick ? 500000 : 3000000;
    double spawn[5], bpt[5];
    for (int c = 0; c < n_counts; c++) {
        int64_t n = counts[c];
        const char *kinds[2] = {"ring", "yield"};
        for (int k = 0; k < 2; k++) {
            int ok = 1;
            int64_t rnds = bench__rounds(ops, n);
            for (int r = 0; r < reps; r++) {
                bench__many_res m = bench__many(kinds[k], n, rnds);
                ok &= m.ok;
                v[r] = m.ns_per_op;
                spawn[r] = m.spawn_s;
                bpt[r] = m.bytes_per_task;
            }
            char key[64];
            snprintf(key, sizeof key, "%s_%" PRId64, k == 0 ? "ring_ns_per_msg" : "yield_ns", n);
            if (!ok) {
                bench__unmeasured(key, key, "could not spawn %" PRId64 " tasks", n);
                rc = rc ? rc : 1;
                fflush(stdout);
                break;
            }
            bench__print(key, v, reps, "%.1f");
            printf("%s_context=%" PRId64 " tasks on 1 node, %" PRId64 " rounds, median of %d runs\n", key, n,
                   rnds, reps);
            if (k == 1 && c == n_counts - 1) {
                bench__print("bytes_per_task", bpt, reps, "%.0f");
                bench__print("spawn_s", spawn, reps, "%.3f");
                printf("bytes_per_task_context=resident growth (page tables included) per parked task "
                       "and the time to spawn them, with %" PRId64 " tasks, median of %d runs\n",
                       n, reps);
            }
            fflush(stdout);
        }
    }

    if (quick)
        bench__unmeasured("ring_growth_100000", "ring_growth_100000", "not measured with --quick");
    else
        bench__ring_growth(reps, &rc);

    /* speedups */
    bench__speedup("drift-fork", "speedup", reps, &rc);
    if (rc == 2) return 2;
    bench__speedup("raft", "speedup_raft", reps, &rc);
    if (rc == 2) return 2;
    bench__speedup("storage-faults", "speedup_storage_faults", reps, &rc);
    if (rc == 2) return 2;
    if (quick)
        bench__unmeasured("nodes_10k_s", "nodes_10k", "not measured with --quick");
    else
        bench__nodes_10k(3, &rc);
    return rc;
}
