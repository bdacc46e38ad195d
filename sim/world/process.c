/*
 * process.c -- process faults and the memory model of simulated nodes.
 *
 * A crash kills every task of a node where it stands (their stacks are
 * dropped, never resumed), applies the disk's crash model to unsynced
 * writes and wipes the node's heap; a restart runs the node's program again
 * on the same disk. A pause freezes a node: its clocks keep running and its
 * wake-ups queue up, then run in order when it thaws. A node's resident size
 * is its heap plus a cost per live task plus the touched pages of its mapped
 * regions (map.c); over its limit it is OOM-killed (a crash) and restarted:
 * at the instant of the allocation or spawn that crossed it, or, for pages
 * touched in a mapped region, at the first check instant after (the node's
 * next map call, the next timeline sample, or the next mem.map_check_ms tick
 * when that is set; see map.h).
 * The run keeps a resident-size timeline, one sample per node every
 * mem.sample_ms plus one at each OOM kill.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "internal.h"
#include "map.h"

const deja_param_def deja_mem_params[] = {
    {"mem.task_bytes", "8192", "resident cost of each live task (bytes; a goroutine's stack)"},
    {"mem.stack_kb", "256", "real stack of each simulated task unless its spawn or program says otherwise (KiB)"},
    {"mem.limit_mb", "0", "OOM-kill a node whose resident size exceeds this (MiB; 0: no limit)"},
    {"mem.sample_ms", "1000", "period of the resident-size timeline (ms; 0: off)"},
    {"mem.map_check_ms", "0",
     "also recount touched pages of mapped regions against the limit every this many ms (0: only at the "
     "node's map calls and at timeline samples)"},
    {NULL, NULL, NULL},
};

const deja_param_def deja_fault_params[] = {
    {"fault.crash_every_s", "0", "each node crashes on average once per this many seconds (0: never)"},
    {"fault.restart_ms", "2000", "a crashed or OOM-killed node restarts after this long (ms)"},
    {"fault.pause_every_s", "0", "each node pauses on average once per this many seconds (0: never)"},
    {"fault.pause_ms", "500", "length of each pause (ms; a GC pause or a stopped VM)"},
    {"fault.quiet_s", "0", "no fault is injected in the last this many seconds (liveness phase)"},
    {"fault.restart_on_exit", "0", "1: a program that returns early is restarted like a crashed one"},
    {"fault.crash_loop_max", "10",
     "with fault.restart_on_exit: a node whose program returns early more often fails the run (crash_loop)"},
    {NULL, NULL, NULL},
};

/* ---- node lifecycle --------------------------------------------------------- */

static void deja__crash_at(deja_world *w, deja__node *n, int64_t at, int64_t restart_after, int oom);

/* The node's first task: runs the program. A program that gives up before
 * the run ends (its root context still live) is a process that died: with
 * fault.restart_on_exit it is restarted like a crashed one (a supervisor);
 * either way it is counted (the generic `exit` and `crash_loop` checks). */
static void deja__node_main(void *arg) {
    deja__node *n = arg;
    deja_world *w = deja__w;
    n->main(n->root);
    if (!w->stopping && rt_ctx_err(n->root) == RT_OK) n->exits++;
    if (!w->stopping && w->restart_on_exit && rt_ctx_err(n->root) == RT_OK) {
        deja__trace(w, DEJA__TK_NOTE, (int)n->id, 0, 0, "program exited");
        deja__crash_at(w, n, w->now, w->restart_ns, 0);
    }
}

void deja__node_start(deja_world *w, deja__node *n) {
    assert(n->live_tasks == 0 && n->heap_bytes == 0 && n->maps == NULL && n->map_bytes == 0);
    n->down = false;
    n->paused = false;
    n->oom_pending = false;
    n->stall_seen = false;
    n->inbox = deja__chan_new(n, "inbox", sizeof(rt_msg *), DEJA__INBOX_CAP);
    n->root = deja__ctx_new(n, NULL);
    assert(n->inbox && n->root);
    deja__spawn(w, n, "main", deja__node_main, n, n->program, 0);
}

void deja__node_event(deja_world *w, deja__node *n, int kind, int64_t value) {
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = (rt_fact_kind)kind;
    f.value = value;
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, (uint64_t)kind, (uint64_t)value, "node event");
    for (int i = 0; i < w->n_listeners; i++) w->listeners[i](w->listener_args[i], n->id, w->now, &f);
}

/* Removes n's tasks from a singly linked run list. */
static void deja__unqueue(deja__task **head, deja__task **tail, const deja__node *n) {
    deja__task *keep_h = NULL, *keep_t = NULL;
    for (deja__task *t = *head, *next; t; t = next) {
        next = t->run_next;
        if (t->node == n) continue;
        t->run_next = NULL;
        if (keep_t)
            keep_t->run_next = t;
        else
            keep_h = t;
        keep_t = t;
    }
    *head = keep_h;
    *tail = keep_t;
}

void deja__node_kill(deja_world *w, deja__node *n, const char *why) {
    assert(w->cur == NULL || w->cur->node != n || !"a node is killed from the scheduler");
    if (n->down) return;
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, n->incarnation, (uint64_t)n->live_tasks, why);
    deja__unqueue(&w->runq_head, &w->runq_tail, n);
    n->held_head = n->held_tail = NULL;
    while (n->tasks.next != &n->tasks) {
        deja__task *t = n->tasks.next;
        t->prev->next = t->next;
        t->next->prev = t->prev;
        n->live_tasks--;
        deja__task_free(t);
    }
    assert(n->live_tasks == 0);
    n->n_internal = 0;
    n->timers = NULL; /* freed with the heap below */
    if (n->disk) deja_disk_crash(n->disk);
    deja__node_free_all(n);
    deja_vfs_forget_node(n->id); /* its connections' memory is gone */
    n->heap_bytes = 0;
    n->inbox = NULL;
    n->root = NULL;
    n->incarnation++;
    n->crashes++;
    n->down = true;
    n->paused = false;
}

/* ---- scheduled crashes, restarts, pauses -------------------------------------- */

static void deja__restart_ev(deja_world *w, void *arg, uint64_t inc, int drop) {
    deja__node *n = arg;
    if (drop || !n->down || n->incarnation != inc) return;
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, n->incarnation, 0, "restart");
    deja__node_start(w, n);
    deja__node_event(w, n, DEJA_FACT_RESTART, 0);
}

typedef struct deja__crash_req {
    deja__node *node;
    int64_t restart_after;
    int oom;
} deja__crash_req;

static void deja__crash_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__crash_req *r = arg;
    deja__node *n = r->node;
    if (!drop && !n->down && !w->stopping) {
        int64_t resident = deja__resident(n);
        deja__node_kill(w, n, r->oom ? "oom-kill" : "crash");
        deja__node_event(w, n, r->oom ? DEJA_FACT_OOM : DEJA_FACT_CRASH, r->oom ? resident : r->restart_after);
        if (r->restart_after >= 0)
            deja__schedule(w, w->now + r->restart_after, deja__restart_ev, n, n->incarnation);
    }
    free(r);
}

static void deja__crash_at(deja_world *w, deja__node *n, int64_t at, int64_t restart_after, int oom) {
    deja__crash_req *r = malloc(sizeof *r);
    assert(r);
    r->node = n;
    r->restart_after = restart_after;
    r->oom = oom;
    deja__schedule(w, at < w->now ? w->now : at, deja__crash_ev, r, 0);
}

void deja_node_crash(deja_world *w, uint32_t node, int64_t at_ns, int64_t restart_after_ns) {
    assert(node < w->n_nodes);
    deja_plan_inject(w, &(deja_plan_entry){.kind = "crash", .node = (int32_t)node, .at_ns = at_ns, .a = restart_after_ns});
}

void deja__crash_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes);
    deja__crash_at(w, w->nodes[e->node], e->at_ns, e->a, 0);
}

static void deja__thaw_ev(deja_world *w, void *arg, uint64_t inc, int drop) {
    deja__node *n = arg;
    if (drop || n->incarnation != inc || !n->paused) return;
    n->paused = false;
    deja__trace(w, DEJA__TK_NOTE, (int)n->id, 0, 0, "thaw");
    for (deja__task *t = n->held_head, *next; t; t = next) {
        next = t->run_next;
        t->state = DEJA__T_BLOCKED; /* so deja__ready takes it */
        deja__ready(w, t);
    }
    n->held_head = n->held_tail = NULL;
}

static void deja__pause_ev(deja_world *w, void *arg, uint64_t len, int drop) {
    deja__node *n = arg;
    if (drop || n->down || n->paused || w->stopping) return;
    n->paused = true;
    /* tasks already runnable wait too */
    for (deja__task *t = w->runq_head, *next; t; t = next) {
        next = t->run_next;
        if (t->node != n) continue;
        t->run_next = NULL;
        if (n->held_tail)
            n->held_tail->run_next = t;
        else
            n->held_head = t;
        n->held_tail = t;
    }
    deja__unqueue(&w->runq_head, &w->runq_tail, n);
    deja__node_event(w, n, DEJA_FACT_PAUSE, (int64_t)len);
    deja__schedule(w, w->now + (int64_t)len, deja__thaw_ev, n, n->incarnation);
}

void deja_node_pause(deja_world *w, uint32_t node, int64_t at_ns, int64_t pause_ns) {
    assert(node < w->n_nodes && pause_ns >= 0);
    deja_plan_inject(w, &(deja_plan_entry){.kind = "pause", .node = (int32_t)node, .at_ns = at_ns, .a = pause_ns});
}

void deja__pause_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes && e->a >= 0);
    deja__schedule(w, e->at_ns < w->now ? w->now : e->at_ns, deja__pause_ev, w->nodes[e->node], (uint64_t)e->a);
}

/* ---- memory ----------------------------------------------------------------- */

int64_t deja__resident(const deja__node *n) {
    return n->heap_bytes + (int64_t)n->live_tasks * deja__w->mem_task_bytes + n->map_bytes;
}

/* A query from outside the run: counts mapped pages afresh and leaves the
 * node's cached count (what OOM decisions use) alone, so asking never
 * changes the run. */
int64_t deja_node_resident(const deja_world *w, uint32_t node) {
    assert(node < w->n_nodes);
    const deja__node *n = w->nodes[node];
    return n->heap_bytes + (int64_t)n->live_tasks * w->mem_task_bytes + deja__map_count(n);
}

int64_t deja_node_mapped(const deja_world *w, uint32_t node) {
    assert(node < w->n_nodes);
    return deja__map_count(w->nodes[node]);
}

static void deja__take_sample(deja_world *w, deja__node *n) {
    if (w->timeline_len == w->timeline_cap) {
        w->timeline_cap = w->timeline_cap ? 2 * w->timeline_cap : 1024;
        w->timeline = realloc(w->timeline, w->timeline_cap * sizeof *w->timeline);
        assert(w->timeline);
    }
    assert(w->timeline_len == 0 || w->timeline[w->timeline_len - 1].t <= w->now);
    w->timeline[w->timeline_len++] = (deja__sample){
        .t = w->now, .node = n->id, .tasks = n->live_tasks, .resident = deja__resident(n), .mapped = n->map_bytes};
}

void deja__mem_check(deja_world *w, deja__node *n) {
    int64_t r = deja__resident(n);
    if (r > n->resident_peak) n->resident_peak = r;
    if (w->mem_limit <= 0 || r <= w->mem_limit || n->oom_pending || n->down || w->stopping) return;
    n->oom_pending = true;
    n->ooms++;
    deja__take_sample(w, n);
    if (!w->oom_report) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (f) {
            fprintf(f, "OOM kill: node %u at t=%lld ms, resident %lld bytes > limit %lld bytes\n", n->id,
                    (long long)(w->now / RT_MS), (long long)r, (long long)w->mem_limit);
            fprintf(f, "resident timeline of node %u (last samples): t_ms resident_bytes tasks mapped_bytes\n",
                    n->id);
            size_t shown = 0;
            for (size_t i = w->timeline_len; i-- > 0 && shown < 10;)
                if (w->timeline[i].node == n->id) {
                    fprintf(f, "  %lld %lld %d %lld\n", (long long)(w->timeline[i].t / RT_MS),
                            (long long)w->timeline[i].resident, w->timeline[i].tasks,
                            (long long)w->timeline[i].mapped);
                    shown++;
                }
            if (n->maps) deja__map_report(n, f);
            deja_world_dump_tasks(w, f);
            fclose(f);
            w->oom_report = buf;
        }
    }
    deja__crash_at(w, n, w->now, w->restart_ns, 1);
}

void deja_world_timeline_csv(const deja_world *w, FILE *out) {
    fprintf(out, "t_ms,node,resident_bytes,tasks,mapped_bytes\n");
    for (size_t i = 0; i < w->timeline_len; i++)
        fprintf(out, "%lld,%u,%lld,%d,%lld\n", (long long)(w->timeline[i].t / RT_MS), w->timeline[i].node,
                (long long)w->timeline[i].resident, w->timeline[i].tasks, (long long)w->timeline[i].mapped);
}

const char *deja_world_oom_report(const deja_world *w) { return w->oom_report; }

/* One timeline sample of every node. A node holding mapped regions has its
 * touched pages recounted first and the limit applied (an OOM kill takes
 * its own sample, at this same instant). */
static void deja__sample_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)arg, (void)u;
    if (drop) return;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        deja__node *n = w->nodes[i];
        bool was_pending = n->oom_pending;
        if (n->maps) {
            deja__map_recount(n);
            deja__mem_check(w, n);
        }
        if (was_pending || !n->oom_pending) deja__take_sample(w, n);
    }
    if (w->now + w->mem_sample_ns <= w->duration) deja__schedule(w, w->now + w->mem_sample_ns, deja__sample_ev, NULL, 0);
}

/* Starts the resident-size timeline: a sample of every node now and every
 * mem.sample_ms after (w->mem_sample_ns > 0). */
void deja__mem_start_sampling(deja_world *w) {
    assert(w->mem_sample_ns > 0);
    deja__schedule(w, w->now, deja__sample_ev, NULL, 0);
}
