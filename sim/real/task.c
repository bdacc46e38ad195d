/*
 * task.c -- tasks of the production backend and their registry: a task is
 * a pthread; every task is registered with its name, spawn site, start time
 * and what it is blocked on, so that a task dump (SIGUSR1, or real_dump_tasks)
 * shows the same picture as the simulator's, and an inspector can report the
 * growth of live tasks grouped by (spawn site, blocking site) -- the
 * production answer to goroutine dumps diffed minutes apart.
 *
 * Threads exit on their own; a finished task moves to a zombie list and is
 * joined by the next rt_spawn or by real_shutdown, so that after a shutdown
 * no thread of the backend is left. A thread the backend did not create
 * (the daemon's main thread, a test's thread) that blocks in an rt_* call is
 * adopted: it gets a registry entry marked external, freed when it exits.
 * Signals are taken by one thread with sigtimedwait, never in a handler.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "real_int.h"

static pthread_mutex_t real__R = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t real__R_cv;
static pthread_once_t real__once = PTHREAD_ONCE_INIT;
static pthread_key_t real__key;
static real__task *real__live;    /* every registered task */
static real__task *real__zombies; /* finished spawned tasks not yet joined */
static int real__nlive;           /* live spawned (non-external) tasks */
static uint64_t real__next_id;
static _Thread_local real__task *real__tls;

/* Unregisters and frees an adopted thread's entry when that thread exits. */
static void real__adopted_exit(void *p) {
    real__task *t = p;
    assert(t->external);
    real__holds_exit(t); /* locks it still holds stay held, by a returned task */
    pthread_mutex_lock(&real__R);
    if (t->prev)
        t->prev->next = t->next;
    else
        real__live = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&real__R);
    pthread_cond_destroy(&t->cv);
    free(t);
}

static void real__init_once(void) {
    real__cond_init(&real__R_cv);
    int rc = pthread_key_create(&real__key, real__adopted_exit);
    assert(rc == 0);
    (void)rc;
}

/* Links t at the head of the live list (R held). */
static void real__link(real__task *t) {
    t->prev = NULL;
    t->next = real__live;
    if (real__live) real__live->prev = t;
    real__live = t;
}

static void real__unlink(real__task *t) {
    if (t->prev)
        t->prev->next = t->next;
    else
        real__live = t->next;
    if (t->next) t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

real__task *real__self(void) {
    if (real__tls) return real__tls;
    pthread_once(&real__once, real__init_once);
    real__task *t = calloc(1, sizeof *t);
    if (!t) abort();
    snprintf(t->name, sizeof t->name, "thread");
    t->file = "(external)";
    t->external = true;
    t->start_ns = real__mono();
    t->since_ns = t->start_ns;
    t->thr = pthread_self();
    t->fired = -1;
    real__cond_init(&t->cv);
    pthread_mutex_lock(&real__R);
    t->id = ++real__next_id;
    real__link(t);
    pthread_mutex_unlock(&real__R);
    pthread_setspecific(real__key, t);
    real__tls = t;
    return t;
}

void real__task_block(real__task *t, real__state state, const char *what) {
    pthread_mutex_lock(&real__R);
    t->state = state;
    snprintf(t->what, sizeof t->what, "%s", what ? what : "");
    t->since_ns = real__mono();
    pthread_mutex_unlock(&real__R);
}

void real__task_unblock(real__task *t) {
    pthread_mutex_lock(&real__R);
    t->state = REAL__RUNNING;
    t->what[0] = 0;
    t->since_ns = real__mono();
    pthread_mutex_unlock(&real__R);
}

void rt_task_note(const char *what) {
    real__task *t = real__self();
    pthread_mutex_lock(&real__R);
    snprintf(t->note, sizeof t->note, "%s", what ? what : "");
    pthread_mutex_unlock(&real__R);
}

void rt_yield(void) { sched_yield(); }

/* ---- contexts and timers their creator lost ---------------------------------- */

static uint64_t real__lost_ctx, real__lost_timers;
static real__owned *real__timers; /* every timer not stopped yet, under R */

/* Sites already reported, as the simulator keeps them: a leak per request
 * prints one line per creation site, the rest are only counted. */
typedef struct real__lost_site {
    const char *file;
    int line, kind;
} real__lost_site;
static real__lost_site real__lost_sites[64];
static int real__n_lost_sites;

/* Counts a lost o; true when its site was not reported yet (R held). */
static bool real__lost_first(const real__owned *o) {
    if (o->kind == REAL__OWN_CTX)
        real__lost_ctx++;
    else
        real__lost_timers++;
    for (int i = 0; i < real__n_lost_sites; i++) {
        const real__lost_site *s = &real__lost_sites[i];
        if (s->line == o->line && s->kind == o->kind && !strcmp(s->file, o->file)) return false;
    }
    if (real__n_lost_sites < (int)(sizeof real__lost_sites / sizeof real__lost_sites[0]))
        real__lost_sites[real__n_lost_sites++] = (real__lost_site){o->file, o->line, o->kind};
    return true;
}

void real__owned_add(real__owned *o, int kind, const char *name, const char *file, int line) {
    real__task *t = real__self();
    pthread_mutex_lock(&real__R);
    o->kind = kind;
    o->name = name;
    o->file = file;
    o->line = line;
    o->creator = t;
    o->prev = NULL;
    o->next = t->owned;
    if (t->owned) t->owned->prev = o;
    t->owned = o;
    if (kind == REAL__OWN_TIMER) {
        o->nprev = NULL;
        o->nnext = real__timers;
        if (real__timers) real__timers->nprev = o;
        real__timers = o;
        o->linked_node = true;
    }
    pthread_mutex_unlock(&real__R);
}

/* Unlinks o from its creator's list (R held). */
static void real__owned_unlink(real__owned *o) {
    real__task *t = o->creator;
    if (!t) return;
    if (o->prev)
        o->prev->next = o->next;
    else
        t->owned = o->next;
    if (o->next) o->next->prev = o->prev;
    o->prev = o->next = NULL;
    o->creator = NULL;
}

void real__owned_del(real__owned *o) {
    pthread_mutex_lock(&real__R);
    real__owned_unlink(o);
    if (o->linked_node) {
        if (o->nprev)
            o->nprev->nnext = o->nnext;
        else
            real__timers = o->nnext;
        if (o->nnext) o->nnext->nprev = o->nprev;
        o->nprev = o->nnext = NULL;
        o->linked_node = false;
    }
    pthread_mutex_unlock(&real__R);
}

int real__owned_node_stop(void) {
    int n = 0;
    pthread_mutex_lock(&real__R);
    for (real__owned *o = real__timers; o; o = o->nnext) {
        if (o->reported) continue;
        o->reported = true;
        n++;
        if (real__lost_first(o))
            fprintf(stderr, "deja-node: LEAK (%s): '%s' made at %s:%d was never stopped (the node stopped)\n",
                    o->periodic ? "ticker" : "timer", o->name, o->file, o->line);
    }
    pthread_mutex_unlock(&real__R);
    return n;
}

void real__owned_new_life(void) {
    pthread_mutex_lock(&real__R);
    real__n_lost_sites = 0;
    pthread_mutex_unlock(&real__R);
}

void real__owned_lost(uint64_t *contexts, uint64_t *timers) {
    pthread_mutex_lock(&real__R);
    *contexts = real__lost_ctx;
    *timers = real__lost_timers;
    pthread_mutex_unlock(&real__R);
}

/* t returns: reports every context it neither cancelled nor released and
 * every ticker (or unfired timer) it left running, with its creation site. */
static void real__owned_check(real__task *t) {
    pthread_mutex_lock(&real__R);
    while (t->owned) {
        real__owned *o = t->owned;
        if (!o->settled) {
            o->reported = true;
            if (!real__lost_first(o)) {
                /* its site was reported: counted only */
            } else if (o->kind == REAL__OWN_CTX) {
                fprintf(stderr,
                        "deja-node: LEAK (context): a context made at %s:%d was neither cancelled nor released "
                        "when task #%llu '%s' that made it returned\n",
                        o->file, o->line, (unsigned long long)t->id, t->name);
            } else {
                fprintf(stderr,
                        "deja-node: LEAK (%s): '%s' made at %s:%d was still running when task #%llu '%s' that "
                        "made it returned\n",
                        o->periodic ? "ticker" : "timer", o->name, o->file, o->line, (unsigned long long)t->id,
                        t->name);
            }
        }
        real__owned_unlink(o);
    }
    pthread_mutex_unlock(&real__R);
}

/* Body of every spawned thread: runs the task, then parks it as a zombie. */
static void *real__task_main(void *p) {
    real__task *t = p;
    real__tls = t;
    t->fn(t->arg);
    real__holds_exit(t); /* locks it still holds stay held, by a returned task */
    if (t->owned) real__owned_check(t);
    real__tls = NULL;
    pthread_mutex_lock(&real__R);
    real__unlink(t);
    t->next = real__zombies;
    real__zombies = t;
    real__nlive--;
    assert(real__nlive >= 0);
    pthread_cond_broadcast(&real__R_cv);
    pthread_mutex_unlock(&real__R);
    return NULL; /* t must not be touched from here on: a reaper frees it */
}

void real__reap(void) {
    pthread_mutex_lock(&real__R);
    real__task *z = real__zombies;
    real__zombies = NULL;
    pthread_mutex_unlock(&real__R);
    while (z) {
        real__task *next = z->next;
        pthread_join(z->thr, NULL);
        pthread_cond_destroy(&z->cv);
        free(z);
        z = next;
    }
}

int rt_spawn_at(const char *name, rt_task_fn fn, void *arg, const char *file, int line) {
    return rt_spawn_with_at(name, fn, arg, NULL, file, line);
}

/* A thread gets the stack its spawn asks for, never less than 256 KiB (the
 * C library's own calls need it); 0 keeps the thread default. */
int rt_spawn_with_at(const char *name, rt_task_fn fn, void *arg, const rt_spawn_opts *opts, const char *file,
                     int line) {
    assert(fn != NULL);
    pthread_once(&real__once, real__init_once);
    real__reap();
    int64_t max = rt_param_i64("real.max_tasks", 100000);
    real__task *t = calloc(1, sizeof *t);
    if (!t) return RT_ENOMEM;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "task");
    t->file = file ? file : "?";
    t->line = line;
    t->fn = fn;
    t->arg = arg;
    t->start_ns = real__mono();
    t->since_ns = t->start_ns;
    t->fired = -1;
    real__cond_init(&t->cv);
    pthread_mutex_lock(&real__R);
    if (real__nlive >= max) {
        pthread_mutex_unlock(&real__R);
        pthread_cond_destroy(&t->cv);
        free(t);
        return RT_ENOMEM;
    }
    t->id = ++real__next_id;
    real__link(t);
    real__nlive++;
    /* R stays held across pthread_create so t->thr is written before the
     * new thread can park itself as a zombie and be joined. */
    pthread_attr_t attr;
    int have_attr = opts && opts->stack_bytes > 0 && pthread_attr_init(&attr) == 0;
    if (have_attr) {
        size_t want = opts->stack_bytes < 256 * 1024 ? 256 * 1024 : opts->stack_bytes;
        pthread_attr_setstacksize(&attr, want); /* on failure the default stays */
    }
    int rc = pthread_create(&t->thr, have_attr ? &attr : NULL, real__task_main, t);
    if (have_attr) pthread_attr_destroy(&attr);
    if (rc != 0) {
        real__unlink(t);
        real__nlive--;
        pthread_mutex_unlock(&real__R);
        pthread_cond_destroy(&t->cv);
        free(t);
        return RT_ENOMEM;
    }
#ifdef __linux__
    char tn[16];
    memcpy(tn, t->name, sizeof tn - 1); /* the kernel keeps 15 characters */
    tn[sizeof tn - 1] = 0;
    pthread_setname_np(t->thr, tn);
#endif
    pthread_mutex_unlock(&real__R);
    return RT_OK;
}

int real__tasks_wait(int64_t grace_ns) {
    pthread_once(&real__once, real__init_once);
    struct timespec abs;
    bool bounded = real__deadline(grace_ns, &abs);
    pthread_mutex_lock(&real__R);
    while (real__nlive > 0) {
        int e = bounded ? pthread_cond_timedwait(&real__R_cv, &real__R, &abs) : pthread_cond_wait(&real__R_cv, &real__R);
        if (e == ETIMEDOUT) break;
    }
    int n = real__nlive;
    pthread_mutex_unlock(&real__R);
    return n;
}

int real_live_tasks(void) {
    pthread_mutex_lock(&real__R);
    int n = real__nlive;
    pthread_mutex_unlock(&real__R);
    return n;
}

/* ---- dumps ------------------------------------------------------------- */

static const char *real__state_name(real__state s) {
    switch (s) {
    case REAL__RUNNING: return "running";
    case REAL__CHAN_SEND: return "chan send";
    case REAL__CHAN_RECV: return "chan recv";
    case REAL__SELECT: return "select";
    case REAL__MUTEX: return "mutex";
    case REAL__WG: return "waitgroup";
    case REAL__SLEEP: return "sleep";
    case REAL__RLOCK: return "rwlock read";
    case REAL__WLOCK: return "rwlock write";
    }
    return "?";
}

/* The blocking site of t as one string: "chan recv 'inbox'" (R held). */
static void real__blocking_site(const real__task *t, char *buf, size_t len) {
    if (t->state == REAL__RUNNING || t->state == REAL__SLEEP) {
        snprintf(buf, len, "%s", real__state_name(t->state));
    } else {
        /* Mutex owners vary from dump to dump: group by the mutex name. */
        size_t n = strcspn(t->what, "(");
        while (n > 0 && t->what[n - 1] == ' ') n--;
        snprintf(buf, len, "%s '%.*s'", real__state_name(t->state), (int)n, t->what);
    }
    if (t->state != REAL__RUNNING && t->wfile)
        snprintf(buf + strlen(buf), len - strlen(buf), " at %s:%d", t->wfile, t->wline);
    if (t->note[0]) snprintf(buf + strlen(buf), len - strlen(buf), " [%s]", t->note);
}

void real_dump_tasks(FILE *out) {
    if (!out) out = stderr;
    pthread_once(&real__once, real__init_once);
    int64_t now = real__mono();
    pthread_mutex_lock(&real__R);
    int total = 0;
    for (real__task *t = real__live; t; t = t->next) total++;
    fprintf(out, "task dump: node=%u tasks=%d external=%d\n", rt_node_id(), real__nlive, total - real__nlive);
    for (real__task *t = real__live; t; t = t->next) {
        char site[96];
        snprintf(site, sizeof site, "%s:%d", t->file, t->line);
        fprintf(out, "  #%-4llu %-16s %-28s %-10s", (unsigned long long)t->id, t->name, t->external ? "(external)" : site,
                real__state_name(t->state));
        if (t->what[0]) fprintf(out, " '%s'", t->what);
        if (t->state != REAL__RUNNING && t->wfile) fprintf(out, " at %s:%d", t->wfile, t->wline);
        fprintf(out, " for %.3fs age %.3fs", (double)(now - t->since_ns) / 1e9, (double)(now - t->start_ns) / 1e9);
        if (t->note[0]) fprintf(out, " note=%s", t->note);
        fputc('\n', out);
    }
    pthread_mutex_unlock(&real__R);
    fflush(out);
}

/* ---- the inspector ----------------------------------------------------- */

typedef struct real__group {
    char key[320];
    int count, prev, streak;
    bool flagged; /* counted in real__leak_groups_n */
} real__group;

static real__group *real__groups;
static int real__ngroups, real__groups_cap;
static int real__inspect_prev_total = -1;
static _Atomic uint64_t real__leak_groups_n; /* groups flagged so far (the status reads it) */

uint64_t real__leak_groups(void) { return atomic_load(&real__leak_groups_n); }
/* At a node's start (the count outlives the inspector's groups, which go at
 * its stop, so that the last status still shows it). */
void real__leak_groups_clear(void) { atomic_store(&real__leak_groups_n, 0); }

static real__group *real__group_get(const char *key) {
    for (int i = 0; i < real__ngroups; i++)
        if (!strcmp(real__groups[i].key, key)) return &real__groups[i];
    if (real__ngroups == real__groups_cap) {
        int cap = real__groups_cap ? real__groups_cap * 2 : 32;
        real__group *g = realloc(real__groups, (size_t)cap * sizeof *g);
        if (!g) return NULL;
        real__groups = g;
        real__groups_cap = cap;
    }
    real__group *g = &real__groups[real__ngroups++];
    memset(g, 0, sizeof *g);
    snprintf(g->key, sizeof g->key, "%s", key);
    return g;
}

/* One inspection: counts live spawned tasks by (spawn site, blocking site)
 * and reports every group that grew since the previous inspection; a group
 * that grew at three inspections in a row is flagged as a suspected leak. */
void real__inspect_tick(FILE *out) {
    if (!out) out = stderr;
    for (int i = 0; i < real__ngroups; i++) {
        real__groups[i].prev = real__groups[i].count;
        real__groups[i].count = 0;
    }
    int total = 0;
    pthread_mutex_lock(&real__R);
    for (real__task *t = real__live; t; t = t->next) {
        if (t->external) continue;
        char blk[192], key[320];
        real__blocking_site(t, blk, sizeof blk);
        snprintf(key, sizeof key, "%s:%d '%s' %s", t->file, t->line, t->name, blk);
        real__group *g = real__group_get(key);
        if (g) g->count++;
        total++;
    }
    pthread_mutex_unlock(&real__R);
    int64_t up = real__mono();
    fprintf(out, "inspect: node=%u mono_s=%lld tasks=%d", rt_node_id(), (long long)(up / RT_SEC), total);
    if (real__inspect_prev_total >= 0) fprintf(out, " delta=%+d", total - real__inspect_prev_total);
    fputc('\n', out);
    bool first = real__inspect_prev_total < 0;
    for (int i = 0; i < real__ngroups; i++) {
        real__group *g = &real__groups[i];
        if (g->count > g->prev) {
            g->streak++;
            if (g->streak >= 3 && !g->flagged) {
                g->flagged = true;
                atomic_fetch_add(&real__leak_groups_n, 1);
            }
            if (!first)
                fprintf(out, "inspect:   %+d %s (now %d)%s\n", g->count - g->prev, g->key, g->count,
                        g->streak >= 3 ? " SUSPECTED LEAK: grew 3 inspections in a row" : "");
        } else {
            g->streak = 0;
        }
    }
    real__inspect_prev_total = total;
    fflush(out);
}

void real_inspect(FILE *out) { real__inspect_tick(out); }

/* Forgets the inspector's history (at shutdown). */
static void real__inspect_reset(void) {
    free(real__groups);
    real__groups = NULL;
    real__ngroups = real__groups_cap = 0;
    real__inspect_prev_total = -1;
}

/* ---- signals ----------------------------------------------------------- */

static pthread_t real__sig_thr;
static bool real__sig_running;
static _Atomic int real__sig_stop;
static _Atomic int real__sig_got;
static rt_ctx *real__sig_root;

static void real__sigset(sigset_t *s) {
    sigemptyset(s);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGUSR1);
    sigaddset(s, SIGUSR2);
}

void real_block_signals(void) {
    sigset_t s;
    real__sigset(&s);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int real_signaled(void) { return real__sig_got != 0; }

static void *real__sig_main(void *unused) {
    (void)unused;
    sigset_t s;
    real__sigset(&s);
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!real__sig_stop) {
        int sig = sigtimedwait(&s, NULL, &tick);
        if (sig < 0) continue; /* EAGAIN (tick) or EINTR */
        if (sig == SIGTERM || sig == SIGINT) {
            if (real__sig_got) {
                static const char msg[] = "deja-node: second termination signal, exiting now\n";
                ssize_t w = write(2, msg, sizeof msg - 1);
                (void)w;
                _exit(1);
            }
            real__sig_got = sig;
            rt_log(RT_LOG_INFO, "signal %s: cancelling the root context", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            if (real__sig_root) rt_ctx_cancel(real__sig_root);
        } else if (sig == SIGUSR1) {
            real_dump_tasks(stderr);
        } else if (sig == SIGUSR2) {
            real_status_print(stderr);
            fflush(stderr);
        }
    }
    return NULL;
}

void real_signals_start(rt_ctx *root) {
    if (real__sig_running) return;
    real__sig_root = root;
    real__sig_stop = 0;
    real__sig_got = 0;
    real_block_signals();
    if (pthread_create(&real__sig_thr, NULL, real__sig_main, NULL) == 0) {
        real__sig_running = true;
#ifdef __linux__
        pthread_setname_np(real__sig_thr, "deja.signals");
#endif
    }
}

void real__signals_stop(void) {
    if (real__sig_running) {
        real__sig_stop = 1;
        pthread_join(real__sig_thr, NULL);
        real__sig_running = false;
    }
    real__sig_root = NULL;
    real__inspect_reset();
}
