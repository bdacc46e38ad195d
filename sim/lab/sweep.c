/*
 * sweep.c -- the sweep runner: grid points x seeds, run in forked worker
 * processes, one row per run written by the parent.
 *
 * Jobs are numbered j = point * seeds + (seed - seed_start); a shard I/K
 * runs the jobs with j % K == I. Grid points are never all held in memory:
 * a point's parameters are computed from its index when a job needs them,
 * and the jobs still to run are found by walking the shard's job numbers
 * and asking the database, so memory stays flat whatever the grid size.
 * Before forking, the parent checks the grid points (unknown parameters,
 * values the scenario's setup rejects): every point of a grid up to
 * SWEEP__CHECK_ALL points, else every value of every axis once. Each worker
 * reads job numbers from its own pipe, calls deja_run in-process and writes
 * the summary back on its own result pipe; the parent polls the result
 * pipes, stores each summary in its own transaction (sweep_db.c) and hands
 * out the next job.
 *
 * A worker that dies in a run is replaced and the run is retried in a fresh
 * worker. A death by a signal the run itself raises (an assertion's SIGABRT,
 * a segfault...) or by an exit status is stored as verdict `crash`, with the
 * command that replays it, only when a second attempt dies the same way. A
 * death by a signal from outside (SIGKILL from the OOM killer, SIGTERM) is
 * retried up to SWEEP__ATTEMPTS times and never stored as a crash: a run
 * that keeps being killed is left out, counted, and rerun when the sweep is
 * resumed. SIGINT/SIGTERM to the sweep itself stop it: workers are killed,
 * nothing half-done is written.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deja/sweep.h"
#include "deja/world.h"

#define SWEEP__MAX_JOBS 256
#define SWEEP__MAX_RUNS 100000000ull
#define SWEEP__REPLAYS 5
#define SWEEP__KEY_MAX 16384
#define SWEEP__ATTEMPTS 3      /* runs of one job before it is given up */
#define SWEEP__CHECK_ALL 10000 /* grids up to this many points are checked point by point */

/* What one run sends back: the job number, deja_run's status and summary. */
typedef struct sweep__msg {
    uint64_t job;
    int32_t rc;
    char err[256];
    deja_summary s;
} sweep__msg;

/* A grid point: its overrides (--set plus the grid values), the full set
 * of parameters (defaults merged in) and its canonical key. */
typedef struct sweep__point {
    size_t idx; /* SIZE_MAX when empty */
    deja_params *over;
    deja_params *all;
    char *key;
} sweep__point;

/* A job to run again after its worker died: how often it ran, how the last
 * attempt ended (a wait status). */
typedef struct sweep__retry {
    uint64_t job;
    int attempts;
    int status;
} sweep__retry;

typedef struct sweep__worker {
    pid_t pid;    /* 0 when there is no process */
    int job_fd;   /* parent -> worker: job numbers */
    int res_fd;   /* worker -> parent: sweep__msg */
    int64_t job;  /* job in flight, -1 when idle */
    int attempts; /* earlier attempts of that job (0 on its first run) */
    int status;   /* how the previous attempt ended, when attempts > 0 */
} sweep__worker;

typedef struct sweep__state {
    const deja_sweep_opts *o;
    const deja_scenario *sc;
    size_t npts;
    sweep__point cache; /* the point last asked for */
    uint64_t total;     /* jobs of the whole sweep (points x seeds) */
    uint64_t cursor;    /* next job number of this shard to consider */
    uint64_t ntodo, done;
    sweep__retry *retry; /* jobs to run again, handed out first */
    size_t nretry, capretry;
    sweep__worker w[SWEEP__MAX_JOBS];
    int nw;
    deja_sweepdb *db;
    deja_sweep_stats *st;
    char replays[SWEEP__REPLAYS][1024];
    /* progress */
    double t0, last_print;
    int last_decile;
    int tty;
} sweep__state;

static volatile sig_atomic_t sweep__stop;

static void sweep__on_signal(int sig) { sweep__stop = sig; }

static double sweep__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads exactly n bytes unless EOF or an error comes first; returns the
 * number of bytes read. */
static size_t sweep__read_full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

/* Writes all n bytes; 0, or -1 (the reader is gone). */
static int sweep__write_full(int fd, const void *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        put += (size_t)r;
    }
    return 0;
}

static uint64_t sweep__seed_of(const sweep__state *S, uint64_t job) {
    return S->o->seed_start + job % S->o->seeds;
}

static void sweep__point_clear(sweep__point *p) {
    deja_params_free(p->over);
    deja_params_free(p->all);
    free(p->key);
    memset(p, 0, sizeof *p);
    p->idx = SIZE_MAX;
}

/* Computes grid point idx into p (cleared first). 0, or 2 with err when the
 * scenario refuses its parameters or the key does not fit. */
static int sweep__point_make(const sweep__state *S, size_t idx, sweep__point *p, char *err, size_t errlen) {
    assert(idx < S->npts);
    sweep__point_clear(p);
    p->over = S->o->base ? deja_params_clone(S->o->base) : deja_params_new();
    deja_grid_point(S->o->grid, idx, p->over);
    if (deja_scenario_params(S->sc, p->over, &p->all, err, errlen)) return 2;
    char *key = malloc(SWEEP__KEY_MAX);
    assert(key);
    deja_sweep_params_key(p->all, key, SWEEP__KEY_MAX);
    if (strlen(key) >= SWEEP__KEY_MAX - 1) {
        free(key);
        snprintf(err, errlen, "parameter values too long for a params_key");
        return 2;
    }
    p->key = key;
    p->idx = idx;
    return 0;
}

/* The point of job, computed on demand (every point was checked before the
 * sweep started, so this cannot fail). */
static const sweep__point *sweep__point_of(sweep__state *S, uint64_t job) {
    size_t idx = (size_t)(job / S->o->seeds);
    assert(idx < S->npts);
    if (S->cache.idx != idx) {
        char err[512];
        int rc = sweep__point_make(S, idx, &S->cache, err, sizeof err);
        assert(rc == 0);
        (void)rc;
    }
    return &S->cache;
}

/* The worker process: runs jobs until its job pipe closes. Never returns. */
static void sweep__worker_main(sweep__state *S, int job_fd, int res_fd) {
    signal(SIGINT, SIG_IGN); /* the parent decides when the sweep stops */
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
        dup2(devnull, STDOUT_FILENO);
        close(devnull);
    }
    sweep__msg *m = malloc(sizeof *m);
    assert(m);
    for (;;) {
        uint64_t job;
        if (sweep__read_full(job_fd, &job, sizeof job) != sizeof job) _exit(0);
        memset(m, 0, sizeof *m);
        m->job = job;
        m->rc = deja_run(S->sc, sweep__seed_of(S, job), sweep__point_of(S, job)->over, NULL, &m->s, m->err,
                         sizeof m->err);
        if (sweep__write_full(res_fd, m, sizeof *m)) _exit(0);
    }
}

/* Starts worker slot i. 0, or -1 when pipe or fork fails. */
static int sweep__spawn(sweep__state *S, int i) {
    sweep__worker *w = &S->w[i];
    assert(w->pid == 0);
    int jp[2], rp[2];
    if (pipe(jp)) return -1;
    if (pipe(rp)) {
        close(jp[0]);
        close(jp[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    if (S->o->out) fflush(S->o->out);
    pid_t pid = fork();
    if (pid < 0) {
        close(jp[0]);
        close(jp[1]);
        close(rp[0]);
        close(rp[1]);
        return -1;
    }
    if (pid == 0) {
        /* Drop the other workers' pipe ends, or their EOFs never come. */
        for (int k = 0; k < S->nw; k++)
            if (k != i && S->w[k].pid) {
                close(S->w[k].job_fd);
                close(S->w[k].res_fd);
            }
        close(jp[1]);
        close(rp[0]);
        sweep__worker_main(S, jp[0], rp[1]);
        _exit(0);
    }
    close(jp[0]);
    close(rp[1]);
    w->pid = pid;
    w->job_fd = jp[1];
    w->res_fd = rp[0];
    w->job = -1;
    return 0;
}

/* Closes worker slot i; kill != 0 kills it first. Returns its wait status. */
static int sweep__reap(sweep__state *S, int i, int kill_it) {
    sweep__worker *w = &S->w[i];
    assert(w->pid > 0);
    close(w->job_fd);
    close(w->res_fd);
    if (kill_it) kill(w->pid, SIGKILL);
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
    }
    w->pid = 0;
    w->job = -1;
    return status;
}

static void sweep__fmt_eta(double s, char *buf, size_t len) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}

/* Shows progress on stderr: one \r-updated line on a tty (at most 10 times
 * a second), else a line each time another tenth of the runs is done. */
static void sweep__progress(sweep__state *S, int final) {
    if (!S->o->progress || S->ntodo == 0) return;
    double now = sweep__now(), el = now - S->t0;
    int decile = (int)(S->done * 10 / S->ntodo);
    if (S->tty) {
        if (!final && now - S->last_print < 0.1) return;
    } else if (final ? S->last_decile == 10 : decile <= S->last_decile) {
        return; /* a line per tenth; the final one only if not said already */
    }
    S->last_print = now;
    S->last_decile = decile;
    double rate = el > 0 ? (double)S->done / el : 0;
    char eta[32];
    sweep__fmt_eta(rate > 0 ? (double)(S->ntodo - S->done) / rate : -1, eta, sizeof eta);
    fprintf(stderr, "%ssweep: %llu/%llu runs, %llu failing, %.1f runs/s, ETA %s%s", S->tty ? "\r" : "",
            (unsigned long long)S->done, (unsigned long long)S->ntodo, (unsigned long long)S->st->failing, rate,
            eta, S->tty ? "\033[K" : "\n");
    if (S->tty && final) fputc('\n', stderr);
    fflush(stderr);
}

/* Stores the result of job (summary s) and accounts for it. 0, or 2 with
 * err when the database fails. */
static int sweep__store(sweep__state *S, uint64_t job, const deja_summary *s, char *err, size_t errlen) {
    const sweep__point *p = sweep__point_of(S, job);
    uint64_t seed = sweep__seed_of(S, job);
    int r = deja_sweepdb_insert(S->db, S->sc->name, seed, p->all, p->key, s, err, errlen);
    if (r < 0) return 2;
    S->done++;
    S->st->ran++;
    if (r == 0) {
        S->st->skipped++; /* another process (a shard) stored it meanwhile */
        return 0;
    }
    S->st->added++;
    const char *v = deja_summary_get(s, "verdict");
    if (!v || strcmp(v, "ok")) {
        if (S->st->failing < SWEEP__REPLAYS)
            deja_replay_command(S->sc->name, seed, p->over, S->replays[S->st->failing], sizeof S->replays[0]);
        S->st->failing++;
    }
    return 0;
}

/* True when a worker ending with wait status `status` was stopped from
 * outside (SIGKILL, SIGTERM, SIGHUP...), not by a fault of the run itself
 * (an assertion's SIGABRT, a segfault, an exit). */
static int sweep__external(int status) {
    if (!WIFSIGNALED(status)) return 0;
    switch (WTERMSIG(status)) {
    case SIGABRT: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL: case SIGTRAP: case SIGSYS:
        return 0;
    default:
        return 1;
    }
}

/* Stores a run whose worker died in it twice the same way: verdict crash,
 * with the signal (or exit status), the attempts and the replay command. */
static int sweep__crash(sweep__state *S, uint64_t job, int status, int attempts, char *err, size_t errlen) {
    deja_summary s;
    deja_summary_clear(&s);
    uint64_t seed = sweep__seed_of(S, job);
    deja_summary_set(&s, "scenario", "%s", S->sc->name);
    deja_summary_set(&s, "seed", "%llu", (unsigned long long)seed);
    deja_summary_set(&s, "verdict", "crash");
    if (WIFSIGNALED(status)) deja_summary_set(&s, "crash_signal", "%d", WTERMSIG(status));
    else if (WIFEXITED(status)) deja_summary_set(&s, "crash_exit_status", "%d", WEXITSTATUS(status));
    deja_summary_set(&s, "crash_attempts", "%d", attempts);
    char cmd[1024];
    deja_replay_command(S->sc->name, seed, sweep__point_of(S, job)->over, cmd, sizeof cmd);
    deja_summary_set(&s, "crash_command", "%s", cmd);
    S->st->crashed++;
    return sweep__store(S, job, &s, err, errlen);
}

/* Queues job to run again. */
static void sweep__retry_push(sweep__state *S, uint64_t job, int attempts, int status) {
    if (S->nretry == S->capretry) {
        S->capretry = S->capretry ? 2 * S->capretry : 16;
        S->retry = realloc(S->retry, S->capretry * sizeof *S->retry);
        assert(S->retry);
    }
    S->retry[S->nretry++] = (sweep__retry){job, attempts, status};
}

/* Decides about a worker that died running its job (w->job) with wait
 * status `status`: retry it, store it as a reproduced crash, or give it up
 * (killed from outside every time). 0, or 2 with err. */
static int sweep__died(sweep__state *S, const sweep__worker *w, int status, char *err, size_t errlen) {
    uint64_t job = (uint64_t)w->job;
    int attempts = w->attempts + 1;
    int ext = sweep__external(status);
    S->st->retried++;
    if (!ext && w->attempts > 0 && !sweep__external(w->status) && w->status == status)
        return sweep__crash(S, job, status, attempts, err, errlen); /* it reproduces */
    if (attempts >= SWEEP__ATTEMPTS) {
        if (!ext) return sweep__crash(S, job, status, attempts, err, errlen);
        S->st->lost++; /* left out: a resumed sweep runs it */
        S->done++;
        return 0;
    }
    sweep__retry_push(S, job, attempts, status);
    return 0;
}

/* Checks grid point idx: known parameters, values the scenario's setup
 * accepts (a world is built and dropped, not run). 0, or 2 with err. */
static int sweep__check_point(sweep__state *S, size_t idx, char *err, size_t errlen) {
    sweep__point p = {.idx = SIZE_MAX};
    int rc = sweep__point_make(S, idx, &p, err, errlen);
    if (rc == 0) {
        deja_world *w = deja_world_new(S->o->seed_start, p.all);
        rc = S->sc->setup(w, p.all, err, errlen) || deja_world_apply_common(w, p.all, err, errlen) ? 2 : 0;
        deja_world_free(w);
    }
    sweep__point_clear(&p);
    return rc;
}

/* Checks the grid before any run: every point of a grid of up to
 * SWEEP__CHECK_ALL points, else each value of each axis once (the other
 * axes at their first value), so a large grid costs no time or memory up
 * front; a combination the setup refuses then stops the sweep when it runs. */
static int sweep__points(sweep__state *S, char *err, size_t errlen) {
    const deja_sweep_opts *o = S->o;
    const deja_grid *g = o->grid;
    for (int a = 0; g && a < g->n; a++)
        if (o->base && deja_params_get(o->base, g->axis[a].key)) {
            snprintf(err, errlen, "'%s' is given both by --set and by --grid", g->axis[a].key);
            return 2;
        }
    S->npts = deja_grid_points(g);
    uint64_t total = (uint64_t)S->npts * o->seeds;
    if (o->seeds > SWEEP__MAX_RUNS || total / o->seeds != S->npts || total > SWEEP__MAX_RUNS) {
        snprintf(err, errlen, "%zu points x %llu seeds is more than %llu runs", S->npts,
                 (unsigned long long)o->seeds, SWEEP__MAX_RUNS);
        return 2;
    }
    if (S->npts <= SWEEP__CHECK_ALL) {
        for (size_t i = 0; i < S->npts; i++)
            if (sweep__check_point(S, i, err, errlen)) return 2;
        return 0;
    }
    size_t stride = 1;
    for (int a = g->n - 1; a >= 0; a--) {
        for (size_t v = 0; v < g->axis[a].n; v++)
            if (sweep__check_point(S, v * stride, err, errlen)) return 2;
        stride *= g->axis[a].n;
    }
    return 0;
}

/* Counts the jobs of this shard and those already in the database; the
 * jobs themselves are found again when handed out (sweep__next_job). */
static int sweep__plan(sweep__state *S, char *err, size_t errlen) {
    const deja_sweep_opts *o = S->o;
    uint32_t k = o->shard_k ? o->shard_k : 1;
    uint64_t total = (uint64_t)S->npts * o->seeds; /* checked by sweep__points */
    S->total = total;
    S->cursor = o->shard_i;
    S->st->jobs = total / k + (o->shard_i < total % k);
    int any = deja_sweepdb_count(S->db, S->sc->name);
    if (any < 0) {
        snprintf(err, errlen, "%s: cannot query runs: %s", o->db, deja_sweepdb_errmsg(S->db));
        return 2;
    }
    uint64_t have = 0;
    for (uint64_t j = o->shard_i; any && j < total; j += k) {
        int has = deja_sweepdb_has(S->db, S->sc->name, sweep__seed_of(S, j), sweep__point_of(S, j)->key);
        if (has < 0) {
            snprintf(err, errlen, "%s: cannot query runs: %s", o->db, deja_sweepdb_errmsg(S->db));
            return 2;
        }
        have += (uint64_t)has;
    }
    S->ntodo = S->st->jobs - have;
    return 0;
}

/* The next job to hand out: a retry first, else the next job of the shard
 * not in the database. 1 with *job (and the attempts so far), 0 when none
 * is left, -1 on a database error (err). */
static int sweep__next_job(sweep__state *S, uint64_t *job, int *attempts, int *status, char *err,
                           size_t errlen) {
    if (S->nretry) {
        sweep__retry r = S->retry[0];
        memmove(S->retry, S->retry + 1, (S->nretry - 1) * sizeof *S->retry);
        S->nretry--;
        *job = r.job;
        *attempts = r.attempts;
        *status = r.status;
        return 1;
    }
    uint32_t k = S->o->shard_k ? S->o->shard_k : 1;
    while (S->cursor < S->total) {
        uint64_t j = S->cursor;
        S->cursor += k;
        int has = deja_sweepdb_has(S->db, S->sc->name, sweep__seed_of(S, j), sweep__point_of(S, j)->key);
        if (has < 0) {
            snprintf(err, errlen, "%s: cannot query runs: %s", S->o->db, deja_sweepdb_errmsg(S->db));
            return -1;
        }
        if (has) {
            S->st->skipped++;
            continue;
        }
        *job = j;
        *attempts = 0;
        *status = 0;
        return 1;
    }
    return 0;
}

/* The parent's loop: hands out jobs, stores results, replaces workers that
 * died, until every job is done or a signal stops it. 0 or 2. */
static int sweep__loop(sweep__state *S, char *err, size_t errlen) {
    sweep__msg *m = malloc(sizeof *m);
    assert(m);
    int rc = 0, exhausted = 0;
    struct pollfd pfd[SWEEP__MAX_JOBS];
    int who[SWEEP__MAX_JOBS];
    while (!sweep__stop && rc == 0) {
        int busy = 0;
        for (int i = 0; i < S->nw; i++) {
            sweep__worker *w = &S->w[i];
            if (!w->pid && !exhausted && (S->nretry || S->cursor < S->total)) {
                if (sweep__spawn(S, i)) { /* a slot emptied by a death */
                    snprintf(err, errlen, "cannot start a worker: %s", strerror(errno));
                    rc = 2;
                    break;
                }
            }
            if (w->pid && w->job < 0 && !exhausted) {
                uint64_t job;
                int att, prev;
                int got = sweep__next_job(S, &job, &att, &prev, err, errlen);
                if (got < 0) {
                    rc = 2;
                    break;
                }
                if (got == 0) {
                    exhausted = S->nretry == 0;
                } else if (sweep__write_full(w->job_fd, &job, sizeof job)) {
                    /* Died while idle (killed from outside): replace it, keep the job. */
                    sweep__retry_push(S, job, att, prev); /* then moved to the front */
                    memmove(S->retry + 1, S->retry, (S->nretry - 1) * sizeof *S->retry);
                    S->retry[0] = (sweep__retry){job, att, prev};
                    exhausted = 0;
                    sweep__reap(S, i, 1);
                    i--;
                    continue;
                } else {
                    w->job = (int64_t)job;
                    w->attempts = att;
                    w->status = prev;
                }
            }
            if (w->pid && w->job < 0 && exhausted) sweep__reap(S, i, 0); /* EOF ends it */
            if (w->pid && w->job >= 0) {
                pfd[busy].fd = w->res_fd;
                pfd[busy].events = POLLIN;
                pfd[busy].revents = 0;
                who[busy++] = i;
            }
        }
        if (rc) break;
        if (busy == 0) {
            if (S->nretry == 0 && (exhausted || S->cursor >= S->total)) break;
            exhausted = 0; /* a death queued a retry: hand it out */
            continue;
        }
        int n = poll(pfd, (nfds_t)busy, 200);
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            rc = 2;
            break;
        }
        for (int b = 0; n > 0 && b < busy && !sweep__stop && rc == 0; b++) {
            if (!pfd[b].revents) continue;
            int i = who[b];
            sweep__worker *w = &S->w[i];
            uint64_t job = (uint64_t)w->job;
            if (sweep__read_full(w->res_fd, m, sizeof *m) == sizeof *m) {
                assert(m->job == job);
                w->job = -1;
                if (m->rc == 2) {
                    char cmd[1024];
                    deja_replay_command(S->sc->name, sweep__seed_of(S, job), sweep__point_of(S, job)->over, cmd,
                                        sizeof cmd);
                    snprintf(err, errlen, "%s (in: %s)", m->err, cmd);
                    rc = 2;
                    break;
                }
                rc = sweep__store(S, job, &m->s, err, errlen);
            } else {
                sweep__worker dead = *w;
                int status = sweep__reap(S, i, 1);
                rc = sweep__died(S, &dead, status, err, errlen);
                if (S->nretry) exhausted = 0;
            }
        }
        sweep__progress(S, 0);
    }
    free(m);
    for (int i = 0; i < S->nw; i++)
        if (S->w[i].pid) sweep__reap(S, i, 1);
    return rc;
}

int deja_sweep_run(const deja_sweep_opts *o, deja_sweep_stats *st, char *err, size_t errlen) {
    assert(o && st);
    memset(st, 0, sizeof *st);
    if (err && errlen) err[0] = 0;
    const deja_scenario *sc = o->scenario ? deja_scenario_find(o->scenario) : NULL;
    if (!sc) {
        snprintf(err, errlen, "unknown scenario '%s'; 'deja scenarios' lists them", o->scenario ? o->scenario : "");
        return 2;
    }
    uint32_t k = o->shard_k ? o->shard_k : 1;
    if (o->seeds == 0 || o->jobs <= 0 || o->jobs > SWEEP__MAX_JOBS || o->shard_i >= k || !o->db || !o->db[0]) {
        snprintf(err, errlen, "bad sweep options (seeds %llu, jobs %d, shard %u/%u%s)",
                 (unsigned long long)o->seeds, o->jobs, o->shard_i, k, o->db && o->db[0] ? "" : ", no database");
        return 2;
    }
    if (o->seed_start + o->seeds - 1 < o->seed_start) {
        snprintf(err, errlen, "seeds %llu.. overflow 64 bits", (unsigned long long)o->seed_start);
        return 2;
    }
    sweep__state *S = calloc(1, sizeof *S);
    assert(S);
    S->o = o;
    S->sc = sc;
    S->st = st;
    S->cache.idx = SIZE_MAX;
    S->last_decile = 0;
    S->tty = isatty(STDERR_FILENO);
    double t0 = sweep__now();
    int rc = sweep__points(S, err, errlen);
    if (!rc) rc = deja_sweepdb_open(o->db, &S->db, err, errlen);
    if (!rc) rc = sweep__plan(S, err, errlen);
    if (!rc && S->ntodo == 0) st->skipped = st->jobs;
    if (!rc && S->ntodo > 0) {
        struct sigaction sa, old_int, old_term, old_pipe;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = sweep__on_signal;
        sigemptyset(&sa.sa_mask);
        sweep__stop = 0;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, &old_pipe);
        S->t0 = sweep__now();
        S->nw = (int)(S->ntodo < (uint64_t)o->jobs ? S->ntodo : (uint64_t)o->jobs);
        for (int i = 0; i < S->nw; i++) S->w[i].job = -1;
        rc = sweep__loop(S, err, errlen);
        st->interrupted = sweep__stop != 0;
        sweep__progress(S, 1);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGPIPE, &old_pipe, NULL);
    }
    st->wall_s = sweep__now() - t0;
    if (!rc && o->out && S->ntodo == 0) {
        fprintf(o->out, "sweep: 0 rows added, %llu skipped: every run of this sweep is already in %s\n",
                (unsigned long long)st->skipped, o->db);
    } else if (!rc && o->out) {
        double run_s = S->t0 > 0 ? sweep__now() - S->t0 : st->wall_s;
        fprintf(o->out,
                "sweep%s: %llu rows added, %llu skipped (already in %s), %llu failing verdicts (%llu crashes), "
                "%.1f seeds/s with %d jobs in %.1f s%s\n",
                st->interrupted ? " interrupted" : st->lost ? " incomplete" : "", (unsigned long long)st->added,
                (unsigned long long)st->skipped, o->db, (unsigned long long)st->failing,
                (unsigned long long)st->crashed, run_s > 0 ? (double)st->added / run_s : 0.0, S->nw, run_s,
                st->interrupted ? " (only whole rows were kept; rerun to finish)" : "");
        if (st->lost)
            fprintf(o->out,
                    "sweep: %llu runs were killed from outside %d times each (SIGKILL, SIGTERM: the OOM killer?) "
                    "and are not stored; rerun the same command to finish\n",
                    (unsigned long long)st->lost, SWEEP__ATTEMPTS);
        for (uint64_t i = 0; i < st->failing && i < SWEEP__REPLAYS; i++)
            fprintf(o->out, "replay: %s\n", S->replays[i]);
        if (st->failing > SWEEP__REPLAYS)
            fprintf(o->out, "... and %llu more\n", (unsigned long long)(st->failing - SWEEP__REPLAYS));
        fflush(o->out);
    }
    deja_sweepdb_close(S->db);
    sweep__point_clear(&S->cache);
    free(S->retry);
    free(S);
    if (rc) return rc;
    return st->interrupted ? 130 : st->lost ? 1 : 0;
}
