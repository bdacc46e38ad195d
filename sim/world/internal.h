/*
 * internal.h -- the simulator's private structures, shared by the files of
 * sim/ that implement the world (scheduler, fibers, channels, clocks,
 * network, trace). Nothing outside sim/ includes this header.
 *
 * One world runs at a time in a process (deja__w); everything in it is
 * single-threaded. Tasks are fibers; the scheduler loop alternates between
 * popping the next event of the queue (ordered by time, then scheduling) and
 * resuming the runnable tasks in FIFO order.
 */
#ifndef DEJA_SIM_INTERNAL_H
#define DEJA_SIM_INTERNAL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "deja/deja.h"
#include "deja/rt.h"
#include "deja/world.h"
#include "fiber.h"

#define DEJA__MAX_LISTENERS 8
#define DEJA__INBOX_CAP 4096
#define DEJA_STACK_DEFAULT ((size_t)256 * 1024) /* task stack bytes unless told otherwise */

/* ---- events ------------------------------------------------------------ */

/* An event handler; drop != 0 means the run is over: free arg, do nothing. */
typedef void (*deja__ev_fn)(deja_world *w, void *arg, uint64_t u, int drop);

typedef struct deja__event {
    int64_t t;
    deja__ev_fn fn;
    void *arg;
    uint64_t u;
} deja__event;

/* Schedules fn(arg, u) at true time t (>= now). */
void deja__schedule(deja_world *w, int64_t t, deja__ev_fn fn, void *arg, uint64_t u);

/* The event queue (evq.h, evq.c; the scheduler's alone). */
typedef struct deja__evq deja__evq;

/* ---- tasks ------------------------------------------------------------- */

typedef enum deja__tstate {
    DEJA__T_RUNNABLE = 1,
    DEJA__T_RUNNING,
    DEJA__T_BLOCKED,
    DEJA__T_DEAD,
} deja__tstate;

struct deja__node;
struct deja__waiter;
struct deja__owned;

typedef struct deja__task {
    /* First the fields of the message path (every switch, park and wake),
     * in the first two cache lines: tasks are 64-byte aligned. */
    deja_fiber fiber;
    struct deja__task *run_next; /* run queue link */
    struct deja__node *node;
    uint64_t id;
    uint64_t wait_gen;        /* bumped at every wake: stale timeouts ignored */
    deja__tstate state;
    int timeouts_pending;     /* timeout events still pointing at this task */
    int wake_result;          /* set by whoever wakes a blocked task */
    int wline;
    const char *wfile;        /* site of the task's latest blocking rt_* call */
    const char *blocked_kind; /* "chan recv", "select", "sleep", "mutex"... */
    const char *blocked_on;   /* name of the object */
    int64_t blocked_since;    /* true time it parked */
    bool internal_wait;       /* parked without deadline on what only its node's tasks can give */
    bool wait_bounded;        /* parked with a deadline */
    bool wait_cancellable;    /* its select includes a context's done channel */
    const void *rx_warm;      /* the message path's fields of the channel it received from last (a hint) */
    /* the rest: spawn, exit, the detectors (detect.c) and the task dump */
    struct deja__owned *owned; /* contexts and timers it created, not yet released */
    struct deja__rw_hold *rw_held; /* its holds of rwlocks */
    const char *name; /* static string from the caller */
    const char *note; /* rt_task_note's (static string), or NULL */
    const char *file;
    int line;
    rt_task_fn fn;
    void *arg;
    int64_t created;          /* true time */
    struct rt_mutex *wait_mutex; /* the mutex it waits for, or NULL */
    uint64_t stuck_gen;       /* wait_gen + 1 of the wait the watchdog reported */
    struct rt_rwlock *wait_rw; /* the rwlock it waits for, or NULL (rwlock.c) */
    bool wait_write;           /* ... to write (else to read) */
    uint64_t det_mark;         /* the wait-for graph walk that visited it last (detect.c) */
    struct deja__task *prev, *next;    /* node's live-task list */
} deja__task;
#if defined(DEJA_ASM_SWITCH)
_Static_assert(offsetof(deja__task, rx_warm) + sizeof(void *) <= 128, "the message path's fields fill two cache lines");
#endif

/* ---- nodes ------------------------------------------------------------- */

typedef struct deja__alloc {
    struct deja__alloc *prev, *next;
    size_t size;
    size_t charged; /* counted in the node's heap (deja__node_alloc_as) */
    uint64_t magic;
} deja__alloc;

typedef struct deja__node {
    uint32_t id;
    const char *program;
    rt_main_fn main;
    size_t stack_default; /* its program's task stack bytes; 0: the world's */
    /* clock: wall(t) = epoch + offset + t + drift*t + adj + slew(t) */
    int64_t offset_ns;
    int64_t drift_ppb;
    int64_t wall_adj;    /* sum of completed steps and slews */
    int64_t slew_start;  /* true time the current slew started */
    int64_t slew_amount; /* signed; 0 = none */
    rt_ctx *root;
    rt_chan *inbox;
    deja__task tasks; /* sentinel of the live-task list */
    int live_tasks;
    deja__alloc heap; /* sentinel of the allocation list */
    int64_t heap_bytes;
    int64_t heap_peak;
    deja_prng rng; /* rt_rand_u64 */
    uint8_t group;  /* partition group */
    struct deja_disk *disk; /* outlives crashes; NULL until the disk model is on */
    /* process faults */
    uint32_t incarnation; /* bumped at every crash: stale events see it */
    bool down;            /* crashed, not restarted yet */
    bool paused;          /* frozen: runnable tasks wait in held */
    bool oom_pending;     /* over its memory limit: the kill is scheduled */
    struct deja__task *held_head, *held_tail;
    uint32_t crashes, ooms;
    uint32_t exits; /* the program returned while the run went on */
    int64_t resident_peak;
    struct deja__map *maps; /* mapped regions (map.c); a crash unmaps them */
    int n_internal;         /* tasks with internal_wait set (detect.c) */
    bool stall_seen;        /* a stall or cycle was reported since the last start */
    struct deja__owned *timers; /* live timers, for the node-stop check (detect.c) */
    int64_t map_bytes;      /* their touched bytes at the last recount */
} deja__node;

/* ---- the world --------------------------------------------------------- */

typedef struct deja__stream {
    char name[32];
    deja_prng r;
} deja__stream;

struct deja_world {
    uint64_t seed;
    deja_params *params;
    int64_t now;
    int64_t duration;
    uint64_t events;
    uint64_t next_task_id;
    size_t stack_default; /* task stack bytes (mem.stack_kb) */
    deja__evq *evq; /* pending events */
    int64_t run_limit; /* the running event loop's last instant; -1 outside it */
    /* run queue */
    deja__task *runq_head, *runq_tail;
    deja__task *cur; /* running task, NULL in the scheduler */
    deja_fiber sched_fiber;
    /* nodes */
    deja__node **nodes; /* n_nodes of them, grown by doubling (no fixed limit) */
    uint32_t n_nodes, cap_nodes;
    /* models */
    int64_t net_latency, net_jitter;
    uint32_t net_loss_ppm;
    deja__stream streams[32];
    int n_streams;
    deja_prng *net_rng;
    struct deja__net *net; /* the network's newer faults (net.h); NULL until one is used */
    /* oracles */
    deja_fact_fn listeners[DEJA__MAX_LISTENERS];
    void *listener_args[DEJA__MAX_LISTENERS];
    int n_listeners;
    struct {
        const deja_oracle_ops *ops;
        void *state;
    } oracles[DEJA__MAX_LISTENERS];
    int n_oracles;
    /* trace */
    XXH3_state_t *digest;
    size_t dlen;                  /* bytes waiting in dbuf */
    unsigned char dbuf[4096];     /* records not folded into digest yet */
    FILE *trace;
    bool stopping;
    /* memory model */
    int64_t mem_task_bytes;
    int64_t mem_limit;     /* bytes; 0 = none */
    int64_t mem_sample_ns; /* timeline period; 0 = none */
    int64_t mem_map_check_ns; /* mapped-page recount period; 0 = samples only */
    bool map_tick;         /* the recount event is scheduled (map.c) */
    int64_t restart_ns;    /* fault.restart_ms */
    bool restart_on_exit;  /* fault.restart_on_exit */
    struct deja__sample *timeline;
    size_t timeline_len, timeline_cap;
    char *oom_report;      /* resident timeline tail + task dump at the first OOM kill */
    struct deja__detect *det; /* the detectors' state (detect.c), or NULL when off */
    int64_t det_tick;      /* next instant a detector samples (INT64_MAX: none) */
    struct deja__timesrv *timesrv; /* the time servers (timesrv.c), or NULL */
    struct deja__plan_state *plan; /* the fault plan (plan.c), or NULL before the first fault */
    struct deja__flood *flood; /* the flood payload and floods (flood.c), or NULL */
    deja_partition_fn part_fns[4]; /* deja_net_on_partition */
    void *part_args[4];
    int n_part;
    /* observing and stopping (trace.c) */
    uint64_t trace_n;       /* events traced so far (the text trace's numbers) */
    int n_obs;              /* observers: 0 costs one test per event */
    deja_observer_fn obs_fns[4];
    void *obs_args[4];
    uint64_t break_at;      /* event number to call deja_break at, 0: never */
    uint64_t trace_look;    /* events numbered from this on go to deja__trace_read (deja__trace_relook) */
    bool break_on_violation;
    bool violated;          /* first violation recorded */
    uint64_t viol_event;
    int64_t viol_t;
    char viol_verdict[32];
    void *data; /* the scenario's */
    void (*data_free)(void *);
};

/* The world running now (one per process at a time). */
extern deja_world *deja__w;

/* ---- scheduler (sched.c) ----------------------------------------------- */

/* Makes a blocked or new task runnable (appends it to the run queue). */
static inline void deja__ready(deja_world *w, deja__task *t) {
    assert(t->state != DEJA__T_DEAD && t->state != DEJA__T_RUNNABLE);
    t->state = DEJA__T_RUNNABLE;
    t->blocked_kind = NULL;
    t->blocked_on = NULL;
    t->run_next = NULL;
    if (w->runq_tail)
        w->runq_tail->run_next = t;
    else
        w->runq_head = t;
    w->runq_tail = t;
}
/* Blocks the running task until deja__wake or the deadline (true time, -1
 * for none); returns the wake result (RT_ETIMEDOUT on the deadline). */
int deja__park(deja_world *w, const char *kind, const char *on, int64_t deadline);
/* deja__park in two halves, for the message path (channels, sleep), whose
 * parked frames must stay small (thousands of parked tasks are resumed
 * from cold memory): park_begin marks the running task t blocked on
 * kind/on and queues its deadline; block then switches away and returns
 * RT_OK when t is woken, t->wake_result holding the result. Neither adds
 * a frame to the parked stack, and a caller that ends in block (a tail
 * call) adds none either: the task resumes straight into its caller. */
void deja__park_begin(deja_world *w, deja__task *t, const char *kind, const char *on, int64_t deadline);
int deja__block(deja_world *w);
/* Wakes a parked task with result r (no-op when it is not blocked). */
static inline void deja__wake(deja_world *w, deja__task *t, int r);
/* The running task (asserted non-NULL: rt calls come from tasks). */
static inline deja__task *deja__self(void) {
    assert(deja__w && deja__w->cur && "rt_* called outside a simulated task");
    return deja__w->cur;
}
static inline deja__node *deja__self_node(void) { return deja__self()->node; }
/* Creates a task on node n. */
/* Frees a dead or killed task's stack, and its struct unless a timeout
 * event still points at it (then the event frees it). */
void deja__task_free(deja__task *t);
/* Drops every pending event and every task (the world is being freed). */
void deja__sched_free(deja_world *w);
deja__task *deja__spawn(deja_world *w, deja__node *n, const char *name, rt_task_fn fn, void *arg,
                        const char *file, int line);
/* deja__spawn with a stack of stack bytes (0: the node's default). */
deja__task *deja__spawn_stack(deja_world *w, deja__node *n, const char *name, rt_task_fn fn, void *arg,
                              const char *file, int line, size_t stack);

/* ---- process faults and memory (process.c) ----------------------------- */

typedef struct deja__sample {
    int64_t t;
    uint32_t node;
    int32_t tasks;
    int64_t resident;
    int64_t mapped; /* touched bytes of mapped regions (part of resident) */
} deja__sample;

/* Starts (or restarts) a node's program: inbox, root context, main task. */
void deja__node_start(deja_world *w, deja__node *n);
/* Kills every task of n, applies the disk crash model, wipes its heap. */
void deja__node_kill(deja_world *w, deja__node *n, const char *why);
/* Resident bytes of n: heap + a cost per live task + touched mapped pages
 * (as of the last recount, map.h). */
int64_t deja__resident(const deja__node *n);
/* Called after n's memory grew: OOM-kills it when over its limit. */
void deja__mem_check(deja_world *w, deja__node *n);
/* Starts the resident-size timeline (w->mem_sample_ns > 0). */
void deja__mem_start_sampling(deja_world *w);
/* Tells the fact listeners about a node event (DEJA_FACT_*). */
void deja__node_event(deja_world *w, deja__node *n, int kind, int64_t value);

/* ---- fault plans (plan.c) ---------------------------------------------- */

/* The schedule functions of the built-in plan kinds (process.c, clock.c,
 * net.c): each arranges the fault an enabled plan entry describes. */
void deja__crash_schedule(deja_world *w, const deja_plan_entry *e);
void deja__pause_schedule(deja_world *w, const deja_plan_entry *e);
void deja__step_schedule(deja_world *w, const deja_plan_entry *e);
void deja__slew_schedule(deja_world *w, const deja_plan_entry *e);
void deja__partition_schedule(deja_world *w, const deja_plan_entry *e);
/* The network's scheduled link faults (net.c): one-way and bridge cuts
 * (a = length, groups = sides, bridge: node), clogs (node, a = length,
 * b = peer or -1 for every link of node). */
void deja__oneway_schedule(deja_world *w, const deja_plan_entry *e);
void deja__bridge_schedule(deja_world *w, const deja_plan_entry *e);
void deja__clog_schedule(deja_world *w, const deja_plan_entry *e);
/* Frees the world's plan state. */
void deja__plan_free(deja_world *w);

/* ---- floods (flood.c) ----------------------------------------------------- */

typedef struct deja__flood deja__flood;
/* The flood kind (node = flooder, a = length, b = messages a second). */
void deja__flood_schedule(deja_world *w, const deja_plan_entry *e);
void deja__flood_free(deja__flood *fs);

/* ---- time servers (timesrv.c) ------------------------------------------- */

typedef struct deja__timesrv deja__timesrv;
void deja__timesrv_free(deja__timesrv *ts);

/* ---- clocks (clock.c) -------------------------------------------------- */

int64_t deja__mono(const deja__node *n, int64_t t);
int64_t deja__wall(const deja__node *n, int64_t t);
/* The first true time at which the node's monotonic clock reads >= m. */
int64_t deja__true_at_mono(const deja__node *n, int64_t m);
/* deja__deadline for a drifting node and a positive timeout. */
int64_t deja__deadline_drift(deja_world *w, const deja__node *n, int64_t timeout_ns);
/* Converts a relative monotonic timeout of the running node to an absolute
 * true-time deadline (-1 for RT_FOREVER, now for 0). Inline: without drift
 * the monotonic clock is true time plus a constant. */
static inline int64_t deja__deadline(deja_world *w, const deja__node *n, int64_t timeout_ns) {
    if (timeout_ns < 0) return -1;
    if (timeout_ns == 0) return w->now;
    if (n->drift_ppb == 0) return w->now + timeout_ns;
    return deja__deadline_drift(w, n, timeout_ns);
}

/* ---- detectors (detect.c) ---------------------------------------------- */

/* A FIFO of parked tasks; the nodes live on the waiting tasks' stacks. */
typedef struct deja__tq_node {
    deja__task *task;
    int linked;
    struct deja__tq_node *prev, *next;
} deja__tq_node;

typedef struct deja__tq {
    deja__tq_node *head, *tail;
} deja__tq;

/* Appends x to q / unlinks x (no-op when not linked) / pops q's head. */
static inline void deja__tq_push(deja__tq *q, deja__tq_node *x) {
    x->linked = 1;
    x->next = NULL;
    x->prev = q->tail;
    if (q->tail)
        q->tail->next = x;
    else
        q->head = x;
    q->tail = x;
}

static inline void deja__tq_unlink(deja__tq *q, deja__tq_node *x) {
    if (!x->linked) return;
    if (x->prev)
        x->prev->next = x->next;
    else
        q->head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else
        q->tail = x->prev;
    x->linked = 0;
}

static inline deja__tq_node *deja__tq_pop(deja__tq *q) {
    deja__tq_node *x = q->head;
    if (x) deja__tq_unlink(q, x);
    return x;
}

struct rt_mutex {
    char name[32];
    deja__task *owner;
    struct {
        const char *file; /* where the owner took it */
        int line;
        int64_t since; /* true time the owner took it */
    } acq;            /* bookkeeping: not charged to the node (deja__node_alloc_as) */
    deja__tq waiters;
};

/* One task's hold of an rwlock: linked in the lock's list and the task's.
 * Bookkeeping, charged nothing to the node (deja__node_alloc_as). */
typedef struct deja__rw_hold {
    struct rt_rwlock *lock;
    deja__task *task; /* NULL once the task returned still holding it */
    uint64_t task_id; /* the holder, kept for reports after it returned */
    const char *task_name, *task_file;
    int task_line;
    bool write;
    const char *file; /* where it took the lock */
    int line;
    int64_t since; /* true time it took the lock */
    struct deja__rw_hold *lprev, *lnext, *tprev, *tnext;
} deja__rw_hold;

struct rt_rwlock {
    char name[32];
    int readers;          /* read holds */
    bool writer;          /* held for writing (its hold is the only one) */
    deja__rw_hold *holds; /* every hold, the oldest first */
    deja__rw_hold *holds_tail;
    deja__tq waiters; /* FIFO; each waiting task's wait_write says what for */
};

/* The holds of rwlocks that task t still has when it returns stay with
 * their locks (nobody else may release them) but forget the task. */
void deja__rw_task_exit(deja__task *t);
/* Writes who holds l ("held for writing by task 3 'x' (taken at f:l)",
 * or its readers) and how many wait ahead of t, to f (no newline). */
void deja__rw_holders_desc(const struct rt_rwlock *l, const deja__task *t, FILE *f);

/* A context or timer a task created: linked in its creator's list until
 * it is released (or the creator returns), and timers in their node's. */
typedef struct deja__owned {
    struct deja__owned *prev, *next;   /* creator's list */
    struct deja__owned *nprev, *nnext; /* node's timer list */
    deja__task *creator;               /* NULL once released or orphaned */
    const char *file;
    int line;
    int kind;      /* DEJA__OWN_CTX or DEJA__OWN_TIMER */
    bool settled;  /* ctx: cancelled by itself, its owner or its deadline; timer: one-shot fired */
    bool periodic; /* timer: a ticker */
    bool linked_node;
    bool reported;
    const char *name;
    rt_chan *ch; /* ctx done / timer channel: its waiters show in reports */
} deja__owned;

enum { DEJA__OWN_CTX = 1, DEJA__OWN_TIMER = 2 };

/* Reads the detector parameters (leak.*, deadlock.*, watch.*); 0 or 2. */
int deja__detect_config(deja_world *w, const deja_params *p, char *err, size_t errlen);
void deja__detect_free(deja_world *w);
/* The running task t is about to park on mutex m (owned by another task):
 * closes a cycle of the wait-for graph, if any, into a report. */
void deja__detect_mutex_wait(deja_world *w, deja__task *t, struct rt_mutex *m, bool bounded);
/* The same for rwlock t->wait_rw (t->wait_write says what for), whose
 * holders or earlier waiters keep t waiting. */
void deja__detect_rw_wait(deja_world *w, deja__task *t, bool bounded);
/* The running task parked with internal_wait set: reports its node's stall
 * when every task of the node now waits so. */
void deja__detect_stall(deja_world *w, deja__task *t);
/* Registers o as created by the running task (and, for a timer, in its
 * node's list); no-op when the lost-object detector is off. */
void deja__owned_add(deja_world *w, deja__owned *o, int kind, const char *name, rt_chan *ch, const char *file,
                     int line);
/* o is released (context released, timer stopped): forgets it. */
void deja__owned_del(deja__owned *o);
/* The running task t returns: reports what it created and lost. */
void deja__detect_task_exit(deja_world *w, deja__task *t);
/* Runs the samplers (leak growth, watchdog, --dump-at) for every instant
 * due before `limit` (up to and including it when inclusive). */
void deja__detect_ticks(deja_world *w, int64_t limit, bool inclusive);
/* After the shutdown: timers never stopped. */
void deja__detect_end(deja_world *w);
/* Writes a line to the text trace only (never the digest). */
void deja__trace_text(deja_world *w, int node, const char *text);

/* ---- channels (chan.c) ------------------------------------------------- */

/* Offers an element from outside any task (never blocks): RT_OK, or
 * RT_ETIMEDOUT when the channel is full, RT_ECLOSED when closed. */
int deja__chan_offer(rt_chan *ch, const void *elem);
/* Allocates a channel charged to node n (NULL: the world's own). */
rt_chan *deja__chan_new(deja__node *n, const char *name, size_t elem_size, size_t cap);
/* Number of tasks waiting on the channel. */
int deja__chan_waiters(const rt_chan *ch);
/* False for channels made by node code (rt_chan_new): only the node's
 * tasks can wake a waiter there. True for inboxes, timers, contexts. */
bool deja__chan_external(const rt_chan *ch);
/* Marks ch as a context's done channel (the watchdog spares such waits). */
void deja__chan_mark_done(rt_chan *ch);
/* Bytes from a task's rx_warm that sends and receives read: a channel's
 * fields of the message path and its first element (chan.c). */
#define DEJA__CHAN_MSG_BYTES 48
/* Starts loading the channel fields at rx (a task's rx_warm; NULL: none).
 * A hint: prefetches never fault, so a channel freed since costs nothing. */
static inline void deja__chan_warm(const void *rx) {
    if (!rx) return;
    deja_prefetch(rx);
    deja_prefetch((const char *)rx + DEJA__CHAN_MSG_BYTES - 1);
}

/* ---- contexts (sync.c) ------------------------------------------------- */

/* A context charged to node n (its root when parent is NULL). */
rt_ctx *deja__ctx_new(deja__node *n, rt_ctx *parent);

/* ---- memory (mem.c) ---------------------------------------------------- */

void *deja__node_alloc(deja__node *n, size_t size);
/* Allocates size bytes but counts charged in the node's heap: the
 * simulator's own bookkeeping inside a node's object (the detectors'
 * records) must not move its resident size, or its OOM instant, and an
 * object the world makes for a node (a channel) is charged its modelled
 * size, not the host layout's. */
void *deja__node_alloc_as(deja__node *n, size_t size, size_t charged);
void deja__node_free(deja__node *n, void *p);
/* Frees everything still allocated by node n. */
void deja__node_free_all(deja__node *n);
/* malloc and free through a cache of small freed blocks (mem.c); the size
 * given to free is the one given to alloc. deja__cache_release empties it
 * (when a world is freed). */
void *deja__cache_alloc(size_t size);
void deja__cache_free(void *p, size_t size);
/* The same for blocks that start a cache line (64-byte aligned). */
void *deja__cache_line(size_t size);
void deja__cache_line_free(void *p, size_t size);
void deja__cache_release(void);

/* ---- trace (trace.c) --------------------------------------------------- */

typedef enum deja__tk {
    DEJA__TK_RESUME = 1,
    DEJA__TK_SPAWN,
    DEJA__TK_EXIT,
    DEJA__TK_SEND,
    DEJA__TK_DELIVER,
    DEJA__TK_DROP,
    DEJA__TK_TIMER,
    DEJA__TK_CLOCK,
    DEJA__TK_FACT,
    DEJA__TK_LOG,
    DEJA__TK_WAKE,
    DEJA__TK_NOTE,
    DEJA__TK_DISK, /* disk.c: file operations and disk faults */
} deja__tk;

/* Folds one event into the digest (and writes it to the text trace). */
void deja__trace(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text);
/* The same with the text's length known (tlen == strlen(text), 0 for NULL). */
void deja__trace_n(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text,
                   size_t tlen);
/* A fact's event (rt_fact_report): kind and height, with the 32 hex digits
 * of its hash for text, as deja__trace_n would fold them. */
void deja__trace_fact(deja_world *w, int node, uint64_t kind, uint64_t height, const uint8_t hash[16]);
/* Folds the buffered records into the digest state (the digest value is
 * the same either way: XXH3 hashes the concatenated bytes). */
void deja__trace_flush(deja_world *w);
/* Runs the digest's library code once on the calling (the thread's own,
 * large) stack. A shared library's internal calls are bound at their first
 * use, and its run-time dispatch probes the CPU then; the dynamic linker
 * saves the whole vector register file on the stack that makes the call
 * (about 2.7 KiB with AVX-512): more than a small task stack holds, and
 * the first digest flush may come from a task. */
void deja__digest_warm(void);
/* Sets w->trace_look from the text trace, the observers and the break
 * point: 0 when every event is read, break_at when only it is, else never. */
void deja__trace_relook(deja_world *w);
/* What event number n does beyond the digest: its text trace line, the
 * observers, a breakpoint (trace.c; text has tlen bytes). */
void deja__trace_read(deja_world *w, uint64_t n, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text,
                      size_t tlen);

/* Appends an event's binary record to the digest buffer: time, kind, node,
 * a, b (32 bytes, host byte order, written field by field straight into
 * the buffer); returns the event's number. */
static inline uint64_t deja__trace_record(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b) {
    if (w->dlen + 32 > sizeof w->dbuf) deja__trace_flush(w);
    unsigned char *r = w->dbuf + w->dlen;
    int64_t t = w->now;
    int32_t k32 = (int32_t)kind, n32 = node;
    memcpy(r, &t, 8);
    memcpy(r + 8, &k32, 4);
    memcpy(r + 12, &n32, 4);
    memcpy(r + 16, &a, 8);
    memcpy(r + 24, &b, 8);
    w->dlen += 32;
    return ++w->trace_n;
}

/* deja__trace for an event without text, inlined on the hot paths (task
 * resumptions and wakes): the same record, the same trace line. */
static inline void deja__trace_fast(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b) {
    assert(kind != DEJA__TK_SPAWN);
    uint64_t n = deja__trace_record(w, kind, node, a, b);
    if (__builtin_expect(n >= w->trace_look, 0))
        deja__trace_read(w, n, kind, node, a, b, NULL, 0);
}

static inline void deja__wake(deja_world *w, deja__task *t, int r) {
    if (t->state != DEJA__T_BLOCKED) return;
    if (t->internal_wait) {
        t->internal_wait = false;
        t->node->n_internal--;
    }
    t->wait_gen++;
    t->wake_result = r;
    deja__trace_fast(w, DEJA__TK_WAKE, (int)t->node->id, t->id, (uint64_t)(int64_t)r);
    deja__ready(w, t);
}

/* True when the text of trace events is read (a text trace is open, or an
 * observer listens): text that the digest does not fold (log lines) is
 * only formatted then. */
static inline bool deja__trace_wants_text(const deja_world *w) { return w->trace != NULL || w->n_obs > 0; }

#endif /* DEJA_SIM_INTERNAL_H */
