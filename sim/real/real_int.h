/*
 * real_int.h -- private structures of the production backend (sim/real/),
 * shared by its files and included by nothing else.
 *
 * One process runs one node, so the backend keeps process-global state. Three
 * locks exist, always taken in this order when nested:
 *   T  the timer service (timer.c): timers, tickers and context deadlines;
 *      timer callbacks run with T held;
 *   G  the channel lock (chan.c): every channel, select and context;
 *   R  the task registry (task.c): task list, states, zombies.
 * Mutexes, rwlocks and wait groups have their own locks and only take R
 * inside them; a lock's own mutex may also be held while taking
 *   W  the wait-for table (lockwait.c), taken when a task queues for a
 *      mutex or rwlock and when its wait ends (with the deadlock check
 *      on), and never held while taking any other lock.
 * A task is a pthread; each task (and each foreign thread that blocks in an
 * rt_* call, adopted on first use) has a real__task with a condition variable
 * on which it waits under G for a channel or select to fire it.
 */
#ifndef DEJA_REAL_INT_H
#define DEJA_REAL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "deja/rt.h"
#include "real.h"

/* ---- task registry (task.c) ------------------------------------------- */

typedef enum real__state {
    REAL__RUNNING = 0,
    REAL__CHAN_SEND,
    REAL__CHAN_RECV,
    REAL__SELECT,
    REAL__MUTEX,
    REAL__WG,
    REAL__SLEEP,
    REAL__RLOCK, /* rwlock.c */
    REAL__WLOCK,
} real__state;

struct real__sudog;
struct real__owned;
struct real__hold;
struct real__hchunk;

/* What a lock is to the wait-for check: the first member of rt_mutex and
 * of rt_rwlock, so that a hold or a wait can name either. */
typedef enum real__lk_kind { REAL__LK_MUTEX = 1, REAL__LK_RWLOCK = 2 } real__lk_kind;
typedef struct real__lk {
    real__lk_kind kind;
    char name[48];
    /* Under W (lockwait.c), not under the lock's own mutex: the holds of it
     * by tasks in the wait-for table, and the tasks in the table that wait
     * for it, in the order they queued. */
    struct real__hold *wheld;
    struct real__task *wq_head, *wq_tail;
} real__lk;

/* A task's wait for a lock, in the wait-for table (W). */
typedef struct real__lkwait {
    const real__lk *lock; /* NULL: not in the table */
    bool write;           /* rwlock: waits to write; mutex: true */
    bool bounded;         /* the wait has a deadline (it ends by itself) */
    const char *file;     /* the waiting call's site */
    int line;
    int64_t since_ns;
} real__lkwait;

typedef struct real__task {
    uint64_t id;
    char name[32];
    const char *file; /* spawn site: a string literal (__FILE__) or "(external)" */
    int line;
    bool external;    /* a thread the backend did not spawn, adopted on use */
    int64_t start_ns; /* CLOCK_MONOTONIC */
    pthread_t thr;
    rt_task_fn fn;
    void *arg;
    /* What the task waits on, under R (for dumps and the inspector). */
    real__state state;
    const char *wfile; /* site of the latest blocking rt_* call */
    int wline;
    char what[160];
    char note[64];
    int64_t since_ns;
    /* The channel wait protocol, under G. */
    pthread_cond_t cv;
    int fired;  /* index of the case that fired, -1 while waiting */
    int result; /* RT_OK or RT_ECLOSED for the fired case */
    struct real__sudog *sgs;
    int nsg;
    struct real__owned *owned; /* contexts and timers it made, under R */
    /* The locks it holds (lockwait.c): changed by its own thread only (and
     * read under W while it waits in the table, when it cannot change);
     * the free hold slots; its wait in the wait-for table, its links in
     * the awaited lock's list of waiters and the mark of the table's walk
     * (under W). */
    struct real__hold *held, *hfree;
    struct real__hchunk *hchunks;
    real__lkwait lw;
    struct real__task *lwprev, *lwnext;
    uint64_t lw_mark;
    struct real__task *prev, *next; /* registry list (live or zombie) */
} real__task;

/* A context or timer, linked to the task that made it until it is released
 * or that task returns (then, if it was still live, it is reported lost:
 * the same check as the simulator's, deja/check.h). A timer is also linked
 * in the process's list until it is stopped: one still there when the node
 * stops is reported too. */
typedef struct real__owned {
    struct real__owned *prev, *next;
    struct real__owned *nprev, *nnext; /* the process's live timers, under R */
    struct real__task *creator; /* NULL once released or reported */
    const char *file, *name;
    int line;
    int kind; /* REAL__OWN_CTX or REAL__OWN_TIMER */
    bool periodic;
    bool linked_node; /* in the timer list */
    bool reported;    /* reported lost once: never again */
    _Atomic bool settled; /* ctx: cancelled by its owner; timer: one-shot fired */
} real__owned;

enum { REAL__OWN_CTX = 1, REAL__OWN_TIMER = 2 };

/* Links o to the calling task (R taken inside). */
void real__owned_add(real__owned *o, int kind, const char *name, const char *file, int line);
/* Forgets o (released, stopped). */
void real__owned_del(real__owned *o);
/* How many contexts and timers were reported lost so far (in the process;
 * each creation site is printed once per start of the node, the rest are
 * only counted). */
void real__owned_lost(uint64_t *contexts, uint64_t *timers);
/* The node stops: reports every timer not stopped (and not reported when
 * its creator returned) with its creation site. Returns how many. */
int real__owned_node_stop(void);
/* The node starts (real_init): every site may be reported again once. */
void real__owned_new_life(void);

/* The calling thread's task, adopting a foreign thread on first use. */
real__task *real__self(void);
/* Records (under R) that the calling task blocks on `what` in `state`. */
void real__task_block(real__task *t, real__state state, const char *what);
void real__task_unblock(real__task *t);
/* Joins and frees every task that has finished. */
void real__reap(void);
/* Waits up to grace_ns for every spawned task to finish; returns how many
 * are still live. */
int real__tasks_wait(int64_t grace_ns);
/* Starts / stops the inspector and signal threads (task.c). */
void real__inspect_tick(FILE *out);
/* Task groups the inspector flagged as suspected leaks so far (each once). */
uint64_t real__leak_groups(void);
void real__leak_groups_clear(void);
void real__signals_stop(void);

/* ---- lock holds and the wait-for check (lockwait.c) -------------------- */

/* One hold of a mutex or rwlock by a task: a slot of the task's own pool,
 * linked in the task's list of holds (by its own thread only) and, for an
 * rwlock, in the lock's list of holders (under the lock's mutex). */
typedef struct real__hold {
    struct real__hold *tprev, *tnext; /* the task's holds, or its free slots */
    struct real__hold *lprev, *lnext; /* the rwlock's holders */
    struct real__hold *wprev, *wnext; /* the lock's holds by tasks in the wait-for table (W) */
    const real__lk *lock;
    real__task *task;
    bool write;  /* rwlock: a write hold; mutex: true */
    bool listed; /* in the task's list of holds */
    const char *file; /* where it was taken */
    int line;
    int64_t since_ns; /* when (coarse monotonic clock) */
} real__hold;

/* Adds a chunk of free slots to t's pool (out of memory: abort). */
void real__holds_grow(real__task *t);

/* A free slot of the calling task t's pool, not yet in its list of holds.
 * (Inline: every lock taken goes through these three.) */
static inline real__hold *real__hold_get(real__task *t) {
    if (!t->hfree) real__holds_grow(t);
    real__hold *h = t->hfree;
    t->hfree = h->tnext;
    h->tprev = h->tnext = h->lprev = h->lnext = NULL;
    h->listed = false;
    h->task = t;
    return h;
}

/* Puts h, taken by t (its own thread), at the head of t's list of holds. */
static inline void real__hold_own(real__task *t, real__hold *h) {
    h->listed = true;
    h->tprev = NULL;
    h->tnext = t->held;
    if (t->held) t->held->tprev = h;
    t->held = h;
}

/* Takes h out of t's list of holds (when it was there) and frees the slot. */
static inline void real__hold_put(real__task *t, real__hold *h) {
    if (h->listed) {
        if (h->tprev)
            h->tprev->tnext = h->tnext;
        else
            t->held = h->tnext;
        if (h->tnext) h->tnext->tprev = h->tprev;
    }
    h->listed = false;
    h->lock = NULL;
    h->tnext = t->hfree;
    t->hfree = h;
}

/* The latest hold of lock k by t (for writing when write, for reading
 * when !write), or NULL. t's own thread only. */
real__hold *real__hold_find(const real__task *t, const real__lk *k, bool write);
/* t ends (its thread returns or exits): every lock it still holds stays
 * held by a task that returned (as in the simulator); then the pool is
 * freed. */
void real__holds_exit(real__task *t);
/* The lock files' side of real__holds_exit (k's mutex taken inside). */
void real__rw_orphan(const real__lk *k, real__hold *h);
void real__mutex_orphan(const real__lk *k, real__hold *h);

/* The wait-for table (W): every task waiting for a mutex or rwlock (with
 * or without a deadline) while the check is on, with the lock it waits
 * for and, indexed by lock, the locks it holds; a task is in it from the
 * instant it queues until the instant its wait ends (granted or timed
 * out), both under the lock's own mutex, so the table is exactly the
 * waits of this instant. */

/* Whether the check is on (real.deadlock_check, read by real_init). */
bool real__lw_on(void);
/* real_init: turns the check on or off and forgets which cycles closed by
 * a timeout were printed (each is printed once per start of the node). */
void real__lw_configure(bool on);
/* The calling task t, holding lock k's own mutex mu, is about to queue
 * for k: it enters the table, then walks it depth first from itself. A
 * cycle of waits without a deadline back to t is a deadlock: reported,
 * and the process aborts. A cycle that a wait with a deadline closes is
 * reported (once per cycle) and counted, and t goes on to wait. */
void real__lw_wait(real__task *t, const real__lk *k, bool write, bool bounded, const char *file, int line,
                   pthread_mutex_t *mu);
/* t's wait ends (granted or timed out), under the awaited lock's mutex:
 * t leaves the table (W taken inside). Called by t, or by the task that
 * grants t the lock while t still sleeps. */
void real__lw_leave(real__task *t);
/* Deadlocks found in this process so far (the first one aborts it), and
 * cycles broken by a lock timeout. */
uint64_t real__deadlocks(void);
uint64_t real__deadlock_timeouts(void);
/* Lock waits that entered the table (and were checked) so far. */
uint64_t real__lock_waits_checked(void);

/* ---- time (timer.c) ---------------------------------------------------- */

int64_t real__mono(void);
/* The same clock at tick resolution (a few ms), cheap enough for every
 * lock taken. */
int64_t real__mono_coarse(void);
/* Converts a timeout from now into an absolute CLOCK_MONOTONIC timespec.
 * Returns false when timeout is RT_FOREVER (no deadline). */
bool real__deadline(int64_t timeout_ns, struct timespec *abs);
/* Initialises a condition variable that waits on CLOCK_MONOTONIC. */
void real__cond_init(pthread_cond_t *cv);

typedef struct real__tm {
    int64_t due, period;
    uint64_t seq;
    void (*cb)(void *arg); /* runs on the timer thread with T held */
    void *arg;
    size_t idx; /* heap position, or REAL__TM_OFF when not scheduled */
} real__tm;
#define REAL__TM_OFF ((size_t)-1)

/* Schedules tm (cb, arg, period set by the caller) at due (monotonic ns). */
void real__tm_start(real__tm *tm, int64_t due);
/* Unschedules tm; after it returns, cb is not running and will not run. */
void real__tm_stop(real__tm *tm);
void real__timers_shutdown(void);

/* ---- channels (chan.c) ------------------------------------------------- */

void real__g_lock(void);
void real__g_unlock(void);
/* Closes ch with G held (used by contexts). */
void real__chan_close_locked(rt_chan *ch);
/* Try-send with G not held; RT_OK, RT_ECLOSED or RT_ETIMEDOUT (full). */
int real__chan_try_send(rt_chan *ch, const void *elem);

/* ---- network (net.c) --------------------------------------------------- */

int real__net_start(const real_opts *o, char *err, size_t errlen);

/* ---- network faults (net_faults.c) ------------------------------------- */

/* Starts injecting c's faults (nothing when all are zero), sending through
 * send; 0, or 2 with err. */
int real__faults_start(const real_net_faults *c, uint32_t self, void (*send)(uint32_t, const void *, size_t),
                       char *err, size_t errlen);
/* Stops the delay thread; datagrams still held back are dropped. */
void real__faults_stop(void);
/* Whether any fault is on (rt_send then goes through real__faults_send). */
bool real__faults_on(void);
/* Drops, duplicates, delays or sends one datagram now, as the faults draw. */
void real__faults_send(uint32_t to, const void *data, size_t len);
/* Datagrams lost, duplicated, held back (copies), reordered so far. */
void real__faults_counts(uint64_t out[4]);
void real__net_stop(void);
/* Peers heard from in the last window_ns (self excluded). */
int real__net_peers_alive(int64_t window_ns);
uint64_t real__net_dropped(void);
/* Datagrams the receiver dropped, by reason (REAL_DROP_*), and the
 * reason's name for the status lines and logs. */
uint64_t real__net_drops(int reason);
const char *real__net_drop_name(int reason);

/* ---- datagram authentication (auth.c) ----------------------------------- */

#define REAL_MAC_LEN 32 /* crypto_auth_BYTES */
/* Loads the cluster key from path (NULL: no key, datagrams unauthenticated)
 * after checking the file's owner and mode, and clears the replay windows.
 * 0, or 2 with err naming --key. */
int real__auth_load(const char *path, char *err, size_t errlen);
bool real__auth_on(void);
/* The key itself (for a MAC computed in pieces, as rt_send does). */
const unsigned char *real__auth_key(void);
/* The MAC of data under the cluster key; and its constant-time check. */
void real__auth_tag(const uint8_t *data, size_t len, uint8_t tag[REAL_MAC_LEN]);
bool real__auth_check(const uint8_t *data, size_t len, const uint8_t tag[REAL_MAC_LEN]);
/* True (and remembered) when sequence number seq of sender `from` was not
 * accepted before and is within the window; false for a replay. Only the
 * receiver thread calls it. */
bool real__replay_accept(uint32_t from, uint64_t seq);

/* ---- disk (disk.c) ---------------------------------------------------- */

/* Makes dir (NULL: the current directory) the home of rt_file_* names and
 * of relative SQLite names. 0, or -1 with errno set. */
int real__disk_open(const char *dir);
void real__disk_close(void);

/* ---- mapped regions (map.c) ------------------------------------------- */

/* Bytes of the regions currently mapped with rt_map. */
int64_t real__mapped_bytes(void);

/* ---- node services (node.c) -------------------------------------------- */

/* (real_status_print in real.h writes the status lines.) */
int64_t real__heap_bytes(void);
/* When the node started (real__mono), the origin of uptime_ms and of the
 * instants in deadlock reports. */
int64_t real__start_mono(void);
/* Rewrites DIR/status now (nothing without a data directory). */
void real__status_now(void);

#endif /* DEJA_REAL_INT_H */
