/*
 * sched.c -- the simulator's scheduler: events ordered by virtual time,
 * then by scheduling (the queue is evq.c), the FIFO run queue of tasks, parking
 * and waking, task spawn and exit, and the task dump.
 *
 * The loop is: resume every runnable task in FIFO order (each runs until it
 * blocks, yields or ends); when none is left, pop the earliest event, move
 * virtual time to it and run its handler. A task that blocks does the
 * loop's next steps itself while they are cheap (resume the next runnable
 * task, run a timeout event) and switches straight to the task that runs
 * next; the order is the loop's. Nothing here depends on pointer values or
 * on the host's clock, so a seed replays byte for byte.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evq.h"
#include "internal.h"

deja_world *deja__w;

/* Names the running task (the one that overflowed its stack) on stderr.
 * It may run in a signal handler: it formats into a buffer and writes it. */
static void deja__overflow_report(void *arg) {
    (void)arg;
    deja_world *w = deja__w;
    const deja__task *t = w ? w->cur : NULL;
    char msg[512];
    int len;
    if (t)
        len = snprintf(msg, sizeof msg,
                       "deja: stack overflow: task %llu '%s' of node %u (spawned at %s:%d) ran past its %zu-byte "
                       "stack at t=%lld ns of seed %llu; give it a larger one (rt_spawn_opts.stack_bytes, rt_program_stack, "
                       "or the mem.stack_kb parameter)\n",
                       (unsigned long long)t->id, t->name, t->node->id, t->file, t->line, t->fiber.stack_size,
                       (long long)w->now, (unsigned long long)w->seed);
    else
        len = snprintf(msg, sizeof msg, "deja: stack overflow outside any task\n");
    if (len > (int)sizeof msg - 1) len = (int)sizeof msg - 1;
    if (len > 0) (void)!write(2, msg, (size_t)len);
}

/* ---- events -------------------------------------------------------------- */

static inline void deja__schedule_in(deja_world *w, int64_t t, deja__ev_fn fn, void *arg, uint64_t u) {
    assert(t >= w->now);
    if (__builtin_expect(!w->evq, 0)) w->evq = deja__evq_new();
    deja__evq_push(w->evq, t, fn, arg, u);
}

void deja__schedule(deja_world *w, int64_t t, deja__ev_fn fn, void *arg, uint64_t u) {
    deja__schedule_in(w, t, fn, arg, u);
}

/* 1 and the time of the next event in *t, or 0 when none is pending. */
static inline int deja__next(const deja_world *w, int64_t *t) { return w->evq && deja__evq_next(w->evq, t); }

typedef struct deja__callback {
    deja_event_fn fn;
    void *arg;
} deja__callback;

static void deja__run_callback(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__callback *cb = arg;
    if (!drop) cb->fn(w, cb->arg);
    free(cb);
}

void deja_world_at(deja_world *w, int64_t at_ns, deja_event_fn fn, void *arg) {
    deja__callback *cb = malloc(sizeof *cb);
    assert(cb);
    cb->fn = fn;
    cb->arg = arg;
    deja__schedule(w, at_ns < w->now ? w->now : at_ns, deja__run_callback, cb, 0);
}

/* Drops every pending event (each handler frees its argument) and every
 * task of every node (stacks are released, never resumed). */
void deja__sched_free(deja_world *w) {
    assert(w->cur == NULL);
    int64_t t;
    while (deja__next(w, &t)) {
        deja__event ev = deja__evq_pop(w->evq);
        ev.fn(w, ev.arg, ev.u, 1);
    }
    deja__evq_free(w->evq);
    w->evq = NULL;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        deja__node *n = w->nodes[i];
        while (n->tasks.next != &n->tasks) {
            deja__task *t = n->tasks.next;
            t->prev->next = t->next;
            t->next->prev = t->prev;
            deja__task_free(t);
        }
    }
    deja_fiber_trim();
}

uint64_t deja_world_digest(const deja_world *w) {
    deja__trace_flush((deja_world *)w); /* the value is the same; only the buffer moves */
    return XXH3_64bits_digest(w->digest);
}

/* ---- tasks --------------------------------------------------------------- */

void deja__task_free(deja__task *t) {
    deja_fiber_free(&t->fiber);
    t->state = DEJA__T_DEAD;
    if (t->timeouts_pending == 0) deja__cache_line_free(t, sizeof *t);
}

/* The first code of every task: runs its function, then ends it. */
static void deja__task_entry(void *arg) {
    deja__task *t = arg;
    deja_world *w = deja__w;
    t->fn(t->arg);
    assert(w->cur == t);
    if (t->owned) deja__detect_task_exit(w, t);
    if (t->rw_held) deja__rw_task_exit(t);
    t->state = DEJA__T_DEAD;
    deja__trace(w, DEJA__TK_EXIT, (int)t->node->id, t->id, 0, t->name);
    /* the scheduler frees it (w->cur says which): not on its own stack */
    deja_fiber_check(&t->fiber);
    deja_fiber_switch(&t->fiber, &w->sched_fiber);
    abort(); /* a dead task is never resumed */
}

deja__task *deja__spawn(deja_world *w, deja__node *n, const char *name, rt_task_fn fn, void *arg,
                        const char *file, int line) {
    return deja__spawn_stack(w, n, name, fn, arg, file, line, 0);
}

deja__task *deja__spawn_stack(deja_world *w, deja__node *n, const char *name, rt_task_fn fn, void *arg,
                              const char *file, int line, size_t stack) {
    if (stack == 0) stack = n->stack_default ? n->stack_default : w->stack_default;
    if (stack == 0) stack = DEJA_STACK_DEFAULT;
    /* 64-byte aligned: the message path's fields share two cache lines */
    deja__task *t = deja__cache_line(sizeof *t);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->id = ++w->next_task_id;
    t->node = n;
    t->name = name ? name : "task";
    t->file = file ? file : "?";
    t->line = line;
    t->fn = fn;
    t->arg = arg;
    t->created = w->now;
    deja_fiber_on_overflow(deja__overflow_report, NULL);
    if (deja_fiber_init(&t->fiber, stack, deja__task_entry, t) != 0) {
        deja__cache_line_free(t, sizeof *t);
        return NULL;
    }
    t->state = DEJA__T_BLOCKED; /* so deja__ready accepts it */
    t->next = &n->tasks;
    t->prev = n->tasks.prev;
    n->tasks.prev->next = t;
    n->tasks.prev = t;
    n->live_tasks++;
    deja__trace(w, DEJA__TK_SPAWN, (int)n->id, t->id, (uint64_t)line, t->name);
    deja__ready(w, t);
    return t;
}

int rt_spawn_at(const char *name, rt_task_fn fn, void *arg, const char *file, int line) {
    return rt_spawn_with_at(name, fn, arg, NULL, file, line);
}

int rt_spawn_with_at(const char *name, rt_task_fn fn, void *arg, const rt_spawn_opts *opts, const char *file,
                     int line) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    if (!deja__spawn_stack(w, n, name, fn, arg, file, line, opts ? opts->stack_bytes : 0)) return RT_ENOMEM;
    deja__mem_check(w, n);
    if (n->oom_pending) deja__park(w, "oom-kill", NULL, -1); /* never resumes */
    return RT_OK;
}

/* The next task to resume: the run queue's head, once the tasks of paused
 * nodes before it are moved to their nodes' held lists; NULL when none. */
static inline deja__task *deja__next_task(deja_world *w) {
    deja__task *t;
    while ((t = w->runq_head)) {
        w->runq_head = t->run_next;
        if (!w->runq_head) w->runq_tail = NULL;
        assert(t->state == DEJA__T_RUNNABLE);
        deja__node *tn = t->node;
        if (!tn->paused) return t;
        t->run_next = NULL; /* frozen: runs when the node thaws */
        if (tn->held_tail)
            tn->held_tail->run_next = t;
        else
            tn->held_head = t;
        tn->held_tail = t;
    }
    return NULL;
}

/* Makes t the running task (its switch follows). */
static inline void deja__resume_prep(deja_world *w, deja__task *t) {
    t->state = DEJA__T_RUNNING;
    w->cur = t;
    w->events++;
    /* warm what comes next while this task runs: its stack's canary
     * (checked when it switches away) and the next task */
    deja_fiber_prefetch(&t->fiber);
    if (t->run_next) deja_prefetch(t->run_next);
    deja__trace_fast(w, DEJA__TK_RESUME, (int)t->node->id, t->id, 0);
}

static void deja__timeout(deja_world *w, void *arg, uint64_t gen, int drop);
static inline __attribute__((always_inline)) void deja__timeout_do(deja_world *w, deja__task *t, uint64_t gen,
                                                                   int drop);

/* When many tasks share a deadline, the tasks their timeouts wake next are
 * far apart in memory: warm the struct of the one DEJA__AHEAD_FAR places
 * ahead in the queue, and the stack of the one DEJA__AHEAD places ahead
 * (its struct warmed earlier gives where its stack is), with the fields of
 * the channel it received from last (rx_warm): a task that loops on a
 * channel receives from it again when it wakes. Hints only. */
#define DEJA__AHEAD 4
#define DEJA__AHEAD_FAR 8
#define DEJA__WARM_MIN 256 /* fewer tasks share the deadline: they are in cache */
static inline void deja__warm_ahead(const deja__evq *q) {
    if (!deja__evq_ahead(q, DEJA__WARM_MIN)) return;
    const deja__qev *e = deja__evq_ahead(q, DEJA__AHEAD_FAR);
    if (e && e->fn == deja__timeout) {
        deja_prefetch(e->arg);
        deja_prefetch((const char *)e->arg + 64);
    }
    e = deja__evq_ahead(q, DEJA__AHEAD);
    if (e && e->fn == deja__timeout) {
        const deja__task *t = e->arg;
        deja_fiber_warm(&t->fiber);
        deja__chan_warm(t->rx_warm);
    }
}

/* Removes the earliest event (there is one) and moves virtual time to it,
 * warming what the timeouts after it will wake: the step both event loops
 * (deja__run_until's and deja__run_timeouts') take before running one. */
static inline __attribute__((always_inline)) deja__event deja__take_event(deja_world *w, deja__evq *q) {
    assert(q == w->evq);
    deja__warm_ahead(q);
    deja__event ev = deja__evq_pop(q);
    assert(ev.t >= w->now);
    w->now = ev.t;
    w->events++;
    return ev;
}

/* With no task runnable: runs the earliest events while the event loop
 * would run them next (within its limit, no detector sample due first)
 * and they are tasks' timeouts, until one makes a task runnable. The same
 * steps as that loop's. Returns that task, or NULL when the scheduler's
 * loop must take over. It runs on the aside stack (deja_fiber_aside), not
 * on the blocking task's: the lines of a parked task's stack that its next
 * message touches stay few. */
static void *deja__run_timeouts(void *arg) {
    deja_world *w = arg;
    deja__evq *q = w->evq;
    if (!q) return NULL;
    for (;;) {
        int64_t at;
        const deja__qev *e = deja__evq_peek(q, &at);
        if (!e || e->fn != deja__timeout || at > w->run_limit || at > w->det_tick) return NULL;
        deja__event ev = deja__take_event(w, q);
        deja__timeout_do(w, ev.arg, ev.u, 0); /* inline: no frame below this one */
        deja__task *n = deja__next_task(w);
        if (n) return n;
    }
}

/* The running task stops running (it blocked or yielded): control passes
 * straight to the next runnable task, in the order the scheduler's loop
 * would resume them, without a round trip through the scheduler's stack.
 * With none runnable, the task runs the next events itself while they are
 * timeouts (deja__run_timeouts); anything else is the scheduler's.
 * Returns RT_OK when the task is resumed (resume_prep made it the running
 * one). Its canary is checked as it leaves. The switch is its last act, a
 * tail call: at the switch its own frame is gone, so a parked task's stack
 * holds only its callers' frames and the saved registers. */
int deja__block(deja_world *w) {
    deja__task *t = w->cur;
    assert(t && t->state != DEJA__T_RUNNING && t->state != DEJA__T_DEAD);
    deja_fiber_check(&t->fiber); /* the canary: aborts with a report on overflow */
    deja__task *n = deja__next_task(w);
    if (!n) {
        w->cur = NULL; /* as in the scheduler's loop: the events run outside any task */
        n = deja_fiber_aside(deja__run_timeouts, w);
    }
    _Static_assert(RT_OK == 0, "the switch's 0 is deja__block's RT_OK");
    if (!n) return deja_fiber_switch(&t->fiber, &w->sched_fiber);
    deja__resume_prep(w, n);
    if (n != t) return deja_fiber_switch(&t->fiber, &n->fiber);
    return RT_OK;
}

void rt_yield(void) {
    deja_world *w = deja__w;
    deja__task *t = deja__self();
    t->state = DEJA__T_BLOCKED;
    deja__ready(w, t);
    deja__block(w);
    assert(w->cur == t && t->state == DEJA__T_RUNNING);
}

/* Kept until the next note (an empty one clears it), as in the production
 * backend; not blocked_on, which the task's next park sets. */
void rt_task_note(const char *what) { deja__self()->note = what && *what ? what : NULL; }

/* A parked task's deadline. A dead task's struct outlives it until its last
 * pending timeout event has fired (timeouts_pending counts them). */
static inline __attribute__((always_inline)) void deja__timeout_do(deja_world *w, deja__task *t, uint64_t gen,
                                                                   int drop) {
    assert(t->timeouts_pending > 0);
    t->timeouts_pending--;
    if (t->state == DEJA__T_DEAD) {
        if (t->timeouts_pending == 0) deja__cache_line_free(t, sizeof *t);
        return;
    }
    /* a stale timeout (the task woke otherwise since) has another gen */
    if (!drop && t->state == DEJA__T_BLOCKED && t->wait_gen == gen) deja__wake(w, t, RT_ETIMEDOUT);
}

static void deja__timeout(deja_world *w, void *arg, uint64_t gen, int drop) { deja__timeout_do(w, arg, gen, drop); }

/* The rest of deja__park_begin once t is marked parked, off its quick
 * path: a wait the detectors watch, no deadline, no event queue yet, or a
 * timeout that starts an instant or fills its array. */
__attribute__((noinline)) static void deja__park_rest(deja_world *w, deja__task *t, int64_t deadline) {
    if (t->internal_wait) { /* set by the caller only when the detectors are on */
        if (deadline >= 0) {
            t->internal_wait = false;
        } else {
            t->node->n_internal++;
            deja__detect_stall(w, t);
        }
    }
    if (deadline >= 0) {
        t->timeouts_pending++;
        deja__schedule_in(w, deadline, deja__timeout, t, t->wait_gen);
    }
}

/* (Contract in internal.h.) Its quick path, a timeout appended to the
 * instant used last, is a leaf that saves no register: a sleep or a timed
 * wait runs fewer instructions (1.7% fewer in the quick ring of 100), and
 * the rest is deja__park_rest's. */
void deja__park_begin(deja_world *w, deja__task *t, const char *kind, const char *on, int64_t deadline) {
    assert(t == w->cur && t->state == DEJA__T_RUNNING);
    t->state = DEJA__T_BLOCKED;
    t->blocked_kind = kind;
    t->blocked_on = on;
    t->wake_result = RT_ETIMEDOUT;
    t->blocked_since = w->now;
    deja__evq *q = w->evq;
    if (__builtin_expect(!t->internal_wait && deadline >= 0 && q != NULL, 1) &&
        deja__evq_push_quick(q, deadline, deja__timeout, t, t->wait_gen)) {
        t->timeouts_pending++;
        return;
    }
    deja__park_rest(w, t, deadline);
}

int deja__park(deja_world *w, const char *kind, const char *on, int64_t deadline) {
    deja__task *t = deja__self();
    deja__park_begin(w, t, kind, on, deadline);
    deja__block(w);
    assert(w->cur == t && t->state == DEJA__T_RUNNING);
    return t->wake_result;
}


/* Resumes every runnable task until the run queue is empty. The tasks pass
 * control among themselves (deja__block); it comes back here when the
 * queue is empty (w->cur NULL) or a task ended (w->cur is it: its stack is
 * freed here, off that stack). */
static void deja__drain(deja_world *w) {
    deja__task *t;
    while ((t = deja__next_task(w))) {
        deja__resume_prep(w, t);
        deja_fiber_switch(&w->sched_fiber, &t->fiber);
        t = w->cur;
        w->cur = NULL;
        if (t) {
            assert(t->state == DEJA__T_DEAD);
            deja__node *n = t->node;
            t->prev->next = t->next;
            t->next->prev = t->prev;
            n->live_tasks--;
            assert(n->live_tasks >= 0);
            deja__task_free(t);
        }
    }
}

/* Runs events up to (and including) time `until`. Tasks run the timeouts
 * among them themselves while no other event comes first (deja__block). */
static void deja__run_until(deja_world *w, int64_t until) {
    assert(w->run_limit < 0);
    w->run_limit = until;
    deja__drain(w);
    int64_t t;
    while (deja__next(w, &t) && t <= until) {
        if (t > w->det_tick) deja__detect_ticks(w, t, false);
        deja__event ev = deja__take_event(w, w->evq);
        ev.fn(w, ev.arg, ev.u, 0);
        deja__drain(w);
    }
    w->run_limit = -1;
}

int deja_world_run(deja_world *w) {
    deja__w = w;
    deja__run_until(w, w->duration);
    if (w->det_tick <= w->duration) deja__detect_ticks(w, w->duration, true);
    if (w->now < w->duration) w->now = w->duration;
    return 0;
}

void deja_world_shutdown(deja_world *w, int64_t grace_ns) {
    deja__w = w;
    w->stopping = true;
    for (uint32_t i = 0; i < w->n_nodes; i++)
        if (w->nodes[i]->root) rt_ctx_cancel(w->nodes[i]->root);
    int64_t end = w->now + grace_ns;
    /* run until every task has ended or the grace period is over */
    int64_t t;
    while (deja_world_live_tasks(w, -1) > 0 && deja__next(w, &t) && t <= end) deja__run_until(w, t);
    deja__drain(w);
    if (w->det) deja__detect_end(w);
}

int deja_world_live_tasks(const deja_world *w, int node) {
    int total = 0;
    for (uint32_t i = 0; i < w->n_nodes; i++)
        if (node < 0 || (uint32_t)node == i) total += w->nodes[i]->live_tasks;
    return total;
}

/* True when two strings, either NULL, are both NULL or equal. */
static int deja__same_str(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* True when two tasks would print alike but for id and age (same node,
 * name, spawn site, state, blocking point and note). */
static int deja__task_alike(const deja__task *a, const deja__task *b) {
    return a->node == b->node && a->state == b->state && a->line == b->line && !strcmp(a->name, b->name) &&
           !strcmp(a->file, b->file) && a->blocked_kind == b->blocked_kind &&
           (a->state != DEJA__T_BLOCKED || (a->wline == b->wline && a->wfile == b->wfile)) &&
           deja__same_str(a->blocked_on, b->blocked_on) && deja__same_str(a->note, b->note);
}

/* Prints every live task; a run of tasks alike (a leak, typically) prints
 * its first one and a count, so a dump of thousands stays readable. A
 * blocked task shows where it blocked, for how long (blocked_for), and
 * for a mutex, the task that holds it and where that task took it (for an
 * rwlock, its holders). */
void deja_world_dump_tasks(const deja_world *w, FILE *out) {
    fprintf(out, "--- task dump at t=%lld ns: %d live tasks\n", (long long)w->now,
            deja_world_live_tasks(w, -1));
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        const deja__node *n = w->nodes[i];
        for (const deja__task *t = n->tasks.next; t != &n->tasks;) {
            const char *st = t->state == DEJA__T_RUNNABLE  ? "runnable"
                             : t->state == DEJA__T_RUNNING ? "running"
                                                           : "blocked";
            fprintf(out, "node %u task %llu %-16s spawned at %s:%d  %s", n->id,
                    (unsigned long long)t->id, t->name, t->file, t->line, st);
            if (t->state == DEJA__T_BLOCKED && t->blocked_kind) {
                fprintf(out, " on %s %s", t->blocked_kind, t->blocked_on ? t->blocked_on : "");
                if (t->wfile) fprintf(out, " at %s:%d", t->wfile, t->wline);
                const struct rt_mutex *m = t->wait_mutex;
                if (m && m->owner)
                    fprintf(out, " held by task %llu %s (taken at %s:%d)", (unsigned long long)m->owner->id,
                            m->owner->name, m->acq.file ? m->acq.file : "?", m->acq.line);
                if (t->wait_rw) {
                    fputc(' ', out);
                    deja__rw_holders_desc(t->wait_rw, t, out);
                }
                fprintf(out, "  blocked_for %lld ms", (long long)((w->now - t->blocked_since) / RT_MS));
            }
            if (t->note) fprintf(out, " [%s]", t->note);
            fprintf(out, "  age %lld ms\n", (long long)((w->now - t->created) / RT_MS));
            const deja__task *u = t->next;
            int more = 0;
            int64_t youngest = t->created;
            for (; u != &n->tasks && deja__task_alike(t, u); u = u->next, more++) youngest = u->created;
            if (more > 0)
                fprintf(out, "  ... and %d more like it (ages down to %lld ms)\n", more,
                        (long long)((w->now - youngest) / RT_MS));
            t = u;
        }
    }
}
