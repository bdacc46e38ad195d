/*
 * detect.c -- the detectors any node gets, as the run goes: they watch the
 * world's own records (who holds which lock, where each task blocked and
 * since when, which task created which context or timer) and never the
 * node's code, so they hold for any program written against rt.h.
 *
 *   deadlock   a task parks on a lock (mutex or rwlock) whose holders
 *              wait, through a chain of holders, for a lock the task
 *              holds (a cycle of the wait-for graph; an rwlock waiter also
 *              waits for the tasks queued ahead of it), checked at the
 *              instant it parks; or every task of a node waits, without a
 *              deadline, on what only another task of that node could give
 *              (its own channels, mutexes, rwlocks, wait groups): a stall
 *              with no cycle. A cycle that
 *              a wait with a timeout closes will break by itself: it is
 *              counted (deadlock_timeout) and fails the run only under
 *              deadlock.timeout_verdict=1.
 *   leak       every leak.sample_ms the live tasks are grouped by (node,
 *              spawn site, blocking site); a group that grew at
 *              leak.rises samples in a row is a leak (the production
 *              backend's inspector applies the same rule). A context made
 *              with rt_ctx_with_cancel that its creator neither cancelled
 *              nor released when it returned (Go's lostcancel), a ticker
 *              (or unfired timer) still running when its creator returned,
 *              and any timer not stopped when its node stops, are leaks too.
 *   stuck      with watch.block_ms > 0, a task blocked on one channel
 *              operation, mutex, rwlock or wait group for longer than that (a wait
 *              that a context's cancellation can end does not count) is
 *              reported; a verdict under watch.verdict=1.
 * Plus the --dump-at instants: a task dump, and with --dump-diff what grew
 * or shrank since the previous instant, grouped as the leak sampler does.
 *
 * Nothing here touches the digest or the run's PRNG streams, and the
 * samplers run between events, never as events: a run replays to the same
 * trace hash with every detector on or off. Reports go to the text trace
 * (as "detect" lines) and to deja_world_detect_report.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const deja_param_def deja_detect_params[] = {
    {"deadlock.detect", "1", "1: report wait-for cycles over mutexes and rwlocks and stalled nodes (verdict deadlock)"},
    {"deadlock.timeout_verdict", "0",
     "1: a cycle closed by a lock wait with a timeout fails the run (deadlock_timeout); 0: only counted"},
    {"leak.sample_ms", "1000", "group live tasks by spawn and blocking site every this many ms (0: off)"},
    {"leak.rises", "3", "a task group that grew at this many samples in a row is a leak"},
    {"leak.lost", "1", "1: contexts never cancelled and timers never stopped by their creator are leaks"},
    {"watch.block_ms", "0", "report tasks blocked on one channel operation, lock or wait group longer (0: off)"},
    {"watch.verdict", "0", "1: a task the watchdog reports fails the run (stuck)"},
    {NULL, NULL, NULL},
};

#define DEJA__HIST 8

/* A site of lost contexts or timers already reported on a node: later
 * ones there are only counted. */
typedef struct deja__lost_site {
    uint32_t node;
    const char *file;
    int line, kind;
    uint32_t count;
} deja__lost_site;

typedef struct deja__group {
    uint64_t key;
    uint32_t node;
    char label[200]; /* 'name' spawned at file:line, kind at file:line */
    char what[96];   /* 'name' kind at file:line */
    int now;         /* count at the latest counting */
    int sample_prev, streak;
    int64_t streak_start;
    int hist[DEJA__HIST];
    int nhist;
    int dump_prev;
    bool reported;
} deja__group;

struct deja__detect {
    bool deadlock_on, timeout_verdict, lost_on, watch_verdict;
    int64_t sample_ns, watch_ns;
    int rises;
    int64_t next_sample, next_watch;
    /* --dump-at */
    int64_t *dump_at;
    int n_dump, i_dump;
    bool dump_diff, dumped_once;
    int64_t last_dump;
    FILE *dump_out;
    /* task groups: an array and an open-addressing index of it */
    deja__group *g;
    int ng, capg;
    int *idx; /* -1: empty */
    int idx_cap;
    deja__lost_site lost[64];
    int n_lost;
    /* findings */
    char *report;
    size_t report_len;
    FILE *rf;
    deja_detect_stat st;
    /* the wait-for graph's walk (deja__find_cycle) */
    struct deja__frame *fr;
    int fr_cap;
    uint64_t epoch;
};

/* ---- configuration ------------------------------------------------------------ */

static void deja__det_retick(deja_world *w) {
    struct deja__detect *d = w->det;
    int64_t t = INT64_MAX;
    if (d->sample_ns > 0 && d->next_sample < t) t = d->next_sample;
    if (d->watch_ns > 0 && d->next_watch < t) t = d->next_watch;
    if (d->i_dump < d->n_dump && d->dump_at[d->i_dump] < t) t = d->dump_at[d->i_dump];
    w->det_tick = t;
}

int deja__detect_config(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t on, tv, sample, rises, lost, watch, wv;
    if (deja_params_i64(p, "deadlock.detect", 0, 1, &on, err, errlen) ||
        deja_params_i64(p, "deadlock.timeout_verdict", 0, 1, &tv, err, errlen) ||
        deja_params_i64(p, "leak.sample_ms", 0, 1 << 30, &sample, err, errlen) ||
        deja_params_i64(p, "leak.rises", 1, 1000, &rises, err, errlen) ||
        deja_params_i64(p, "leak.lost", 0, 1, &lost, err, errlen) ||
        deja_params_i64(p, "watch.block_ms", 0, 1 << 30, &watch, err, errlen) ||
        deja_params_i64(p, "watch.verdict", 0, 1, &wv, err, errlen))
        return 2;
    if (!w->det) {
        w->det = calloc(1, sizeof *w->det);
        assert(w->det);
    }
    struct deja__detect *d = w->det;
    d->deadlock_on = on != 0;
    d->timeout_verdict = tv != 0;
    d->sample_ns = sample * RT_MS;
    d->rises = (int)rises;
    d->lost_on = lost != 0;
    d->watch_ns = watch * RT_MS;
    d->watch_verdict = wv != 0;
    d->next_sample = w->now + d->sample_ns;
    d->next_watch = w->now + (d->watch_ns / 2 > RT_MS ? d->watch_ns / 2 : RT_MS);
    deja__det_retick(w);
    return 0;
}

void deja_world_dump_at(deja_world *w, const int64_t *at_ns, int n, bool diff, FILE *out) {
    assert(w->det && "deja_world_apply_common first");
    struct deja__detect *d = w->det;
    free(d->dump_at);
    d->dump_at = malloc((size_t)(n > 0 ? n : 1) * sizeof *d->dump_at);
    assert(d->dump_at);
    for (int i = 0; i < n; i++) {
        assert(i == 0 || at_ns[i] > at_ns[i - 1]);
        d->dump_at[i] = at_ns[i];
    }
    d->n_dump = n;
    d->i_dump = 0;
    d->dump_diff = diff;
    d->dump_out = out ? out : stderr;
    deja__det_retick(w);
}

void deja__detect_free(deja_world *w) {
    struct deja__detect *d = w->det;
    if (!d) return;
    if (d->rf) fclose(d->rf);
    free(d->report);
    free(d->g);
    free(d->idx);
    free(d->dump_at);
    free(d->fr);
    free(d);
    w->det = NULL;
}

/* ---- findings --------------------------------------------------------------------- */

void deja__trace_text(deja_world *w, int node, const char *text) {
    if (!w->trace) return;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        fprintf(w->trace, "%" PRId64 " n%d detect %.*s\n", w->now, node, (int)len, p);
        p += len;
        if (*p) p++;
    }
}

/* Records a finding: its text (a first line and detail lines) goes to the
 * report and the text trace; a non-NULL verdict is the run's when it is
 * the first. `what` is the one-line name the summary shows. */
static void deja__find(deja_world *w, const char *verdict, int node, const char *what, const char *text) {
    struct deja__detect *d = w->det;
    if (!d->rf) {
        d->rf = open_memstream(&d->report, &d->report_len);
        assert(d->rf);
    }
    char head[96];
    snprintf(head, sizeof head, "[t=%" PRId64 ".%03" PRId64 " s] ", w->now / RT_SEC, (w->now % RT_SEC) / RT_MS);
    fprintf(d->rf, "%s%s", head, text);
    fflush(d->rf);
    deja__trace_text(w, node, text);
    if (verdict && !d->st.verdict) {
        d->st.verdict = verdict;
        d->st.verdict_ns = w->now;
        snprintf(d->st.what, sizeof d->st.what, "%s", what);
    }
}

const char *deja_world_detect_report(const deja_world *w) {
    if (!w->det || !w->det->rf) return NULL;
    fflush(w->det->rf);
    return w->det->report;
}

void deja_world_detect_stats(const deja_world *w, deja_detect_stat *out) {
    memset(out, 0, sizeof *out);
    if (w->det) *out = w->det->st;
}

static const char *deja__tdesc(const deja__task *t, char *buf, size_t len) {
    int n = snprintf(buf, len, "task %" PRIu64 " '%s' (spawned at %s:%d)", t->id, t->name, t->file, t->line);
    if (t->note && n >= 0 && (size_t)n < len) snprintf(buf + n, len - (size_t)n, " [%s]", t->note);
    return buf;
}

static int64_t deja__ms(int64_t ns) { return ns / RT_MS; }

/* ---- deadlocks: the wait-for graph ------------------------------------------------- */

/* An edge of the wait-for graph: why a task waits for `to`. */
typedef struct deja__edge {
    deja__task *to;
    const struct rt_mutex *m;  /* to owns mutex m; or */
    const rt_rwlock *l;        /* to holds rwlock l (hold h), or waits ahead in its queue (h NULL) */
    const deja__rw_hold *h;
} deja__edge;

/* A task on the walk's path and where it is in the list of its edges. */
typedef struct deja__frame {
    deja__task *u;
    int phase;        /* 0 mutex owner, 1 rwlock holds, 2 rwlock queue, 3 done */
    const void *cur;  /* next hold or queue entry to look at */
    deja__edge e;     /* the edge taken to the next frame */
} deja__frame;

/* The next edge out of f->u: the owner of the mutex it waits for; for an
 * rwlock, every holder it waits for (a writer waits for all, a reader only
 * for a writer), then every task queued ahead of it (FIFO: it is served
 * after them). False when there is none left. */
static bool deja__next_edge(deja__frame *f, deja__edge *e) {
    const deja__task *u = f->u;
    const rt_rwlock *l = u->wait_rw;
    for (;;) {
        switch (f->phase) {
        case 0:
            f->phase = 1;
            f->cur = l ? l->holds : NULL;
            if (u->wait_mutex && u->wait_mutex->owner) {
                *e = (deja__edge){u->wait_mutex->owner, u->wait_mutex, NULL, NULL};
                return true;
            }
            break;
        case 1:
            while (f->cur) {
                const deja__rw_hold *h = f->cur;
                f->cur = h->lnext;
                if (h->task && (u->wait_write || h->write)) {
                    *e = (deja__edge){h->task, NULL, l, h};
                    return true;
                }
            }
            f->phase = 2;
            f->cur = l ? l->waiters.head : NULL;
            break;
        case 2:
            if (f->cur) {
                const deja__tq_node *x = f->cur;
                if (x->task != u) {
                    f->cur = x->next;
                    *e = (deja__edge){x->task, NULL, l, NULL};
                    return true;
                }
            }
            f->phase = 3;
            break;
        default:
            return false;
        }
    }
}

/* Depth-first from t (about to park) over the tasks blocked on locks: the
 * number of tasks of a cycle back to t, with them and their edges in
 * d->fr[0..n), or 0. Every task is visited once per walk. */
static int deja__find_cycle(struct deja__detect *d, deja__task *t) {
    d->epoch++;
    t->det_mark = d->epoch;
    int depth = 0;
    d->fr[depth++] = (deja__frame){.u = t};
    while (depth > 0) {
        deja__frame *f = &d->fr[depth - 1];
        deja__edge e;
        if (!deja__next_edge(f, &e)) {
            depth--;
            continue;
        }
        f->e = e;
        if (e.to == t) return depth;
        if (e.to->det_mark == d->epoch) continue;
        e.to->det_mark = d->epoch;
        if (e.to->state != DEJA__T_BLOCKED || (!e.to->wait_mutex && !e.to->wait_rw)) continue;
        if (depth == d->fr_cap) {
            d->fr_cap *= 2;
            d->fr = realloc(d->fr, (size_t)d->fr_cap * sizeof *d->fr);
            assert(d->fr);
        }
        d->fr[depth++] = (deja__frame){.u = e.to};
    }
    return 0;
}

/* Writes what task c waits for: "mutex 'A'" or "rwlock 'L' (write)". */
static void deja__want_desc(const deja__task *c, FILE *f) {
    if (c->wait_rw)
        fprintf(f, "rwlock '%s' (%s)", c->wait_rw->name, c->wait_write ? "write" : "read");
    else
        fprintf(f, "mutex '%s'", c->wait_mutex->name);
}

/* The running task t is about to park on a lock (t->wait_mutex or
 * t->wait_rw set): a cycle back to t is reported at this instant. */
static void deja__lock_wait(deja_world *w, deja__task *t, bool bounded) {
    struct deja__detect *d = w->det;
    t->wait_bounded = bounded;
    if (!d->deadlock_on) return;
    if (!d->fr) {
        d->fr_cap = 64;
        d->fr = malloc((size_t)d->fr_cap * sizeof *d->fr);
        assert(d->fr);
    }
    int n = deja__find_cycle(d, t);
    if (n == 0) return;
    bool any_bounded = false, mutexes = true;
    for (int i = 0; i < n; i++) {
        any_bounded |= i == 0 ? bounded : d->fr[i].u->wait_bounded;
        mutexes &= d->fr[i].e.m != NULL;
    }
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    assert(f);
    const char *head = any_bounded ? "DEADLOCK (broken by a lock timeout)" : "DEADLOCK";
    if (n == 1)
        fprintf(f, "%s on node %u: a task waits for a lock it holds itself%s\n", head, t->node->id,
                any_bounded ? "" : ", without a timeout");
    else
        fprintf(f, "%s on node %u: a cycle of %d tasks, each waiting for a %s the next one holds%s%s\n", head,
                t->node->id, n, mutexes ? "mutex" : "lock", mutexes ? "" : " (or waits for ahead of it)",
                any_bounded ? "" : ", all without a timeout");
    char what[96];
    int off = snprintf(what, sizeof what, "deadlock node %u:", t->node->id);
    for (int i = 0; i < n; i++) {
        const deja__task *c = d->fr[i].u;
        const deja__edge *held = &d->fr[(i + n - 1) % n].e; /* why the previous task waits for c */
        char td[160];
        fprintf(f, "  %s\n", deja__tdesc(c, td, sizeof td));
        if (held->m)
            fprintf(f, "      holds mutex '%s', taken at %s:%d at t=%" PRId64 " ms\n", held->m->name,
                    held->m->acq.file ? held->m->acq.file : "?", held->m->acq.line, deja__ms(held->m->acq.since));
        else if (held->h)
            fprintf(f, "      holds rwlock '%s' (%s), taken at %s:%d at t=%" PRId64 " ms\n", held->l->name,
                    held->h->write ? "write" : "read", held->h->file ? held->h->file : "?", held->h->line,
                    deja__ms(held->h->since));
        else
            fprintf(f, "      is ahead of task %" PRIu64 " in the queue of rwlock '%s'\n",
                    d->fr[(i + n - 1) % n].u->id, held->l->name);
        int64_t since = c == t ? w->now : c->blocked_since;
        fprintf(f, "      waits for ");
        deja__want_desc(c, f);
        fprintf(f, " at %s:%d since t=%" PRId64 " ms (%" PRId64 " ms)%s\n", c->wfile ? c->wfile : "?", c->wline,
                deja__ms(since), deja__ms(w->now - since),
                (c == t ? bounded : c->wait_bounded) ? " with a timeout" : "");
        const char *wname = c->wait_rw ? c->wait_rw->name : c->wait_mutex->name;
        if (off < (int)sizeof what)
            off += snprintf(what + off, sizeof what - (size_t)off, " '%s' %s:%d", wname, c->wfile ? c->wfile : "?",
                            c->wline);
    }
    fclose(f);
    if (any_bounded) {
        d->st.deadlock_timeouts++;
        deja__find(w, d->timeout_verdict ? "deadlock_timeout" : NULL, (int)t->node->id, what, text);
    } else {
        d->st.deadlocks++;
        t->node->stall_seen = true;
        deja__find(w, "deadlock", (int)t->node->id, what, text);
    }
    free(text);
}

void deja__detect_mutex_wait(deja_world *w, deja__task *t, struct rt_mutex *m, bool bounded) {
    assert(t->wait_mutex == m);
    deja__lock_wait(w, t, bounded);
}

void deja__detect_rw_wait(deja_world *w, deja__task *t, bool bounded) {
    assert(t->wait_rw);
    deja__lock_wait(w, t, bounded);
}

/* What a blocked task waits on, one line (no newline). */
static void deja__wait_desc(const deja_world *w, const deja__task *t, FILE *f) {
    fprintf(f, "%s%s%s at %s:%d for %" PRId64 " ms", t->blocked_kind ? t->blocked_kind : "?",
            t->blocked_on ? " " : "", t->blocked_on ? t->blocked_on : "", t->wfile ? t->wfile : "?", t->wline,
            deja__ms(w->now - t->blocked_since));
    const struct rt_mutex *m = t->wait_mutex;
    if (m && m->owner)
        fprintf(f, ", held by task %" PRIu64 " '%s' (taken at %s:%d)", m->owner->id, m->owner->name,
                m->acq.file ? m->acq.file : "?", m->acq.line);
    if (t->wait_rw) {
        fputs(", ", f);
        deja__rw_holders_desc(t->wait_rw, t, f);
    }
}

void deja__detect_stall(deja_world *w, deja__task *t) {
    deja__node *n = t->node;
    struct deja__detect *d = w->det;
    if (!d || !d->deadlock_on || n->n_internal < n->live_tasks || n->stall_seen || w->stopping) return;
    assert(n->n_internal == n->live_tasks);
    n->stall_seen = true;
    d->st.deadlocks++;
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    assert(f);
    fprintf(f, "DEADLOCK (stall) on node %u: all %d tasks wait, without a timeout, on what only another of them "
               "could give\n",
            n->id, n->live_tasks);
    for (const deja__task *u = n->tasks.next; u != &n->tasks; u = u->next) {
        char td[160];
        fprintf(f, "  %s\n      waits on ", deja__tdesc(u, td, sizeof td));
        deja__wait_desc(w, u, f);
        fputc('\n', f);
    }
    fclose(f);
    char what[96];
    snprintf(what, sizeof what, "stall node %u: %d tasks, last at %s:%d", n->id, n->live_tasks,
             t->wfile ? t->wfile : "?", t->wline);
    deja__find(w, "deadlock", (int)n->id, what, text);
    free(text);
}

/* ---- contexts and timers their creator lost -------------------------------------- */

void deja__owned_add(deja_world *w, deja__owned *o, int kind, const char *name, rt_chan *ch, const char *file,
                     int line) {
    if (!w->det->lost_on || !w->cur) return;
    deja__task *t = w->cur;
    o->kind = kind;
    o->name = name;
    o->ch = ch;
    o->file = file;
    o->line = line;
    o->creator = t;
    o->prev = NULL;
    o->next = t->owned;
    if (t->owned) t->owned->prev = o;
    t->owned = o;
    if (kind == DEJA__OWN_TIMER) {
        deja__node *n = t->node;
        o->nprev = NULL;
        o->nnext = n->timers;
        if (n->timers) n->timers->nprev = o;
        n->timers = o;
        o->linked_node = true;
    }
}

static void deja__owned_detach(deja__owned *o) {
    deja__task *t = o->creator;
    if (!t) return;
    if (o->prev)
        o->prev->next = o->next;
    else
        t->owned = o->next;
    if (o->next) o->next->prev = o->prev;
    o->prev = o->next = NULL;
    o->creator = NULL;
}

void deja__owned_del(deja__owned *o) {
    deja__owned_detach(o);
    if (o->linked_node) {
        deja__node *n = deja__w->cur ? deja__w->cur->node : NULL;
        assert(n);
        if (o->nprev)
            o->nprev->nnext = o->nnext;
        else
            n->timers = o->nnext;
        if (o->nnext) o->nnext->nprev = o->nprev;
        o->linked_node = false;
    }
}

static void deja__lost(deja_world *w, const deja__node *n, const deja__owned *o, const char *why) {
    struct deja__detect *d = w->det;
    char text[512], what[96];
    int waiting = o->ch ? deja__chan_waiters(o->ch) : 0;
    if (o->kind == DEJA__OWN_CTX)
        d->st.lost_contexts++;
    else
        d->st.lost_timers++;
    int i;
    for (i = 0; i < d->n_lost; i++) {
        deja__lost_site *ls = &d->lost[i];
        if (ls->node == n->id && ls->line == o->line && ls->kind == o->kind && !strcmp(ls->file, o->file)) break;
    }
    if (i < d->n_lost) { /* this site was reported: count it only */
        d->lost[i].count++;
        return;
    }
    if (d->n_lost < (int)(sizeof d->lost / sizeof d->lost[0]))
        d->lost[d->n_lost++] = (deja__lost_site){n->id, o->file, o->line, o->kind, 1};
    if (o->kind == DEJA__OWN_CTX) {
        snprintf(text, sizeof text,
                 "LEAK (context) on node %u: a context made at %s:%d %s (lostcancel); %d task%s wait only on it\n",
                 n->id, o->file, o->line, why, waiting, waiting == 1 ? "" : "s");
        snprintf(what, sizeof what, "leak ctx node %u: made at %s:%d", n->id, o->file, o->line);
    } else {
        snprintf(text, sizeof text, "LEAK (%s) on node %u: %s '%s' made at %s:%d %s\n",
                 o->periodic ? "ticker" : "timer", n->id, o->periodic ? "a ticker" : "a timer", o->name, o->file,
                 o->line, why);
        snprintf(what, sizeof what, "leak %s node %u: made at %s:%d", o->periodic ? "ticker" : "timer", n->id,
                 o->file, o->line);
    }
    deja__find(w, "leak", (int)n->id, what, text);
}

void deja__detect_task_exit(deja_world *w, deja__task *t) {
    while (t->owned) {
        deja__owned *o = t->owned;
        if (!o->settled && !o->reported) {
            char why[160];
            snprintf(why, sizeof why, "was neither %s nor %s when task %" PRIu64 " '%s' that made it returned",
                     o->kind == DEJA__OWN_CTX ? "cancelled" : "stopped",
                     o->kind == DEJA__OWN_CTX ? "released" : "fired", t->id, t->name);
            if (o->kind == DEJA__OWN_TIMER) {
                snprintf(why, sizeof why, "was still running when task %" PRIu64 " '%s' that made it returned",
                         t->id, t->name);
            }
            deja__lost(w, t->node, o, why);
            o->reported = true;
        }
        deja__owned_detach(o);
    }
}

void deja__detect_end(deja_world *w) {
    struct deja__detect *d = w->det;
    if (!d->lost_on) return;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        deja__node *n = w->nodes[i];
        if (n->down) continue;
        for (deja__owned *o = n->timers; o; o = o->nnext)
            if (!o->reported) {
                deja__lost(w, n, o, "was never stopped (the node stopped)");
                o->reported = true;
            }
    }
}

/* ---- task groups ------------------------------------------------------------------ */

/* The sites are string literals (__FILE__, task names, kinds): a group is
 * keyed by their addresses, which name them within one binary. Only the
 * index of groups hashes them; the groups' order (first seen first) and
 * their labels never depend on an address. */
static uint64_t deja__mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static uint64_t deja__task_key(const deja__node *n, const deja__task *t, const char **kind) {
    *kind = t->state == DEJA__T_BLOCKED ? (t->blocked_kind ? t->blocked_kind : "blocked") : "runnable";
    uint64_t h = deja__mix(0x243f6a8885a308d3ull, n->id);
    h = deja__mix(h, (uint64_t)(uintptr_t)t->name);
    h = deja__mix(h, (uint64_t)(uintptr_t)t->file);
    h = deja__mix(h, (uint64_t)t->line);
    h = deja__mix(h, (uint64_t)(uintptr_t)*kind);
    if (t->state == DEJA__T_BLOCKED) {
        h = deja__mix(h, (uint64_t)(uintptr_t)t->wfile);
        h = deja__mix(h, (uint64_t)t->wline);
    }
    return h;
}

static void deja__idx_grow(struct deja__detect *d) {
    int cap = d->idx_cap ? 2 * d->idx_cap : 256;
    free(d->idx);
    d->idx = malloc((size_t)cap * sizeof *d->idx);
    assert(d->idx);
    for (int i = 0; i < cap; i++) d->idx[i] = -1;
    d->idx_cap = cap;
    for (int gi = 0; gi < d->ng; gi++) {
        int j = (int)(d->g[gi].key & (uint64_t)(cap - 1));
        while (d->idx[j] >= 0) j = (j + 1) & (cap - 1);
        d->idx[j] = gi;
    }
}

static deja__group *deja__group_of(struct deja__detect *d, const deja__node *n, const deja__task *t) {
    const char *kind;
    uint64_t key = deja__task_key(n, t, &kind);
    if (2 * (d->ng + 1) > d->idx_cap) deja__idx_grow(d);
    int j = (int)(key & (uint64_t)(d->idx_cap - 1));
    while (d->idx[j] >= 0) {
        if (d->g[d->idx[j]].key == key) return &d->g[d->idx[j]];
        j = (j + 1) & (d->idx_cap - 1);
    }
    if (d->ng == d->capg) {
        d->capg = d->capg ? 2 * d->capg : 64;
        d->g = realloc(d->g, (size_t)d->capg * sizeof *d->g);
        assert(d->g);
    }
    deja__group *g = &d->g[d->ng];
    memset(g, 0, sizeof *g);
    g->key = key;
    g->node = n->id;
    if (t->state == DEJA__T_BLOCKED) {
        snprintf(g->label, sizeof g->label, "'%s' spawned at %s:%d, %s at %s:%d", t->name, t->file, t->line, kind,
                 t->wfile ? t->wfile : "?", t->wline);
        snprintf(g->what, sizeof g->what, "'%s' %s at %s:%d", t->name, kind, t->wfile ? t->wfile : "?", t->wline);
    } else {
        snprintf(g->label, sizeof g->label, "'%s' spawned at %s:%d, %s", t->name, t->file, t->line, kind);
        snprintf(g->what, sizeof g->what, "'%s' spawned at %s:%d", t->name, t->file, t->line);
    }
    d->idx[j] = d->ng++;
    return g;
}

/* Counts every live task into its group (g->now). */
static void deja__count(deja_world *w) {
    struct deja__detect *d = w->det;
    for (int i = 0; i < d->ng; i++) d->g[i].now = 0;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        const deja__node *n = w->nodes[i];
        for (const deja__task *t = n->tasks.next; t != &n->tasks; t = t->next) deja__group_of(d, n, t)->now++;
    }
}

/* One leak sample at w->now: a group that grew leak.rises samples in a row
 * is reported, once. */
static void deja__leak_sample(deja_world *w) {
    struct deja__detect *d = w->det;
    for (int i = 0; i < d->ng; i++) {
        deja__group *g = &d->g[i];
        if (g->now > g->sample_prev) {
            if (g->streak++ == 0) g->streak_start = w->now;
        } else {
            g->streak = 0;
        }
        g->hist[g->nhist++ % DEJA__HIST] = g->now;
        g->sample_prev = g->now;
        if (g->streak >= d->rises && !g->reported) {
            g->reported = true;
            d->st.leak_groups++;
            char text[640];
            int off = snprintf(text, sizeof text,
                               "LEAK (tasks) on node %u: %s grew at %d samples in a row (every %" PRId64
                               " ms, since t=%" PRId64 " ms); last counts:",
                               g->node, g->label, g->streak, deja__ms(d->sample_ns), deja__ms(g->streak_start));
            int from = g->nhist > DEJA__HIST ? g->nhist - DEJA__HIST : 0;
            for (int k = from; k < g->nhist && off < (int)sizeof text; k++)
                off += snprintf(text + off, sizeof text - (size_t)off, " %d", g->hist[k % DEJA__HIST]);
            if (off < (int)sizeof text) snprintf(text + off, sizeof text - (size_t)off, "\n");
            char what[96];
            snprintf(what, sizeof what, "leak tasks node %u: %.70s", g->node, g->what);
            deja__find(w, "leak", (int)g->node, what, text);
        }
    }
}

/* The watchdog at w->now: waits on one operation longer than watch.block_ms. */
static void deja__watch(deja_world *w) {
    struct deja__detect *d = w->det;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        const deja__node *n = w->nodes[i];
        for (deja__task *t = n->tasks.next; t != &n->tasks; t = t->next) {
            if (t->state != DEJA__T_BLOCKED || !t->blocked_kind || w->now - t->blocked_since < d->watch_ns ||
                t->stuck_gen == t->wait_gen + 1)
                continue;
            const char *k = t->blocked_kind;
            if (strcmp(k, "chan send") && strcmp(k, "chan recv") && strcmp(k, "select") && strcmp(k, "mutex") &&
                strcmp(k, "waitgroup") && strcmp(k, "rwlock read") && strcmp(k, "rwlock write"))
                continue;
            if (t->wait_cancellable) continue;
            t->stuck_gen = t->wait_gen + 1;
            d->st.stuck++;
            char *text = NULL;
            size_t tlen = 0;
            FILE *f = open_memstream(&text, &tlen);
            assert(f);
            char td[160];
            fprintf(f, "STUCK on node %u: %s blocked on ", n->id, deja__tdesc(t, td, sizeof td));
            deja__wait_desc(w, t, f);
            fprintf(f, " (watch.block_ms=%" PRId64 ")\n", deja__ms(d->watch_ns));
            fclose(f);
            char what[96];
            snprintf(what, sizeof what, "stuck node %u: '%s' %s at %s:%d", n->id, t->name, k,
                     t->wfile ? t->wfile : "?", t->wline);
            deja__find(w, d->watch_verdict ? "stuck" : NULL, (int)n->id, what, text);
            free(text);
        }
    }
}

/* A --dump-at instant: the dump, and what grew or shrank since the last. */
static void deja__dump(deja_world *w) {
    struct deja__detect *d = w->det;
    FILE *out = d->dump_out;
    deja_world_dump_tasks(w, out);
    if (d->dump_diff && d->dumped_once) {
        fprintf(out, "--- dump diff t=%" PRId64 " ms -> t=%" PRId64 " ms (grouped by node, spawn site, blocking site)\n",
                deja__ms(d->last_dump), deja__ms(w->now));
        int shown = 0;
        for (int i = 0; i < d->ng; i++) {
            deja__group *g = &d->g[i];
            if (g->now == g->dump_prev) continue;
            fprintf(out, "%+6d node %u %s (%d -> %d)\n", g->now - g->dump_prev, g->node, g->label, g->dump_prev,
                    g->now);
            shown++;
        }
        if (!shown) fprintf(out, "  (no group grew or shrank)\n");
    }
    for (int i = 0; i < d->ng; i++) d->g[i].dump_prev = d->g[i].now;
    d->dumped_once = true;
    d->last_dump = w->now;
}

void deja__detect_ticks(deja_world *w, int64_t limit, bool inclusive) {
    struct deja__detect *d = w->det;
    assert(d);
    int64_t saved = w->now;
    while (w->det_tick < limit || (inclusive && w->det_tick == limit)) {
        int64_t at = w->det_tick;
        w->now = at; /* nothing happens between events: the state now is the state at `at` */
        bool counted = false;
        if (w->stopping) {
            w->det_tick = INT64_MAX;
            break;
        }
        if (d->sample_ns > 0 && d->next_sample == at) {
            deja__count(w);
            counted = true;
            deja__leak_sample(w);
            d->next_sample += d->sample_ns;
        }
        if (d->watch_ns > 0 && d->next_watch == at) {
            deja__watch(w);
            d->next_watch += d->watch_ns / 2 > RT_MS ? d->watch_ns / 2 : RT_MS;
        }
        while (d->i_dump < d->n_dump && d->dump_at[d->i_dump] == at) {
            if (!counted) deja__count(w);
            counted = true;
            deja__dump(w);
            d->i_dump++;
        }
        deja__det_retick(w);
    }
    w->now = saved;
}
