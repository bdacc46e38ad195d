/*
 * rt.h -- the seam between node code and the world it runs in.
 *
 * Everything that can differ between two runs of a node goes through this
 * header: tasks, channels, locks, time, the network, memory, randomness,
 * parameters, logging and the facts the oracles judge. Node code (node/)
 * includes this header and nothing else of deja. Two backends implement it
 * and are chosen at link time: the simulator (sim/, one OS thread, virtual
 * time, everything driven by one seed) and the production backend (sim/real/,
 * threads, CLOCK_MONOTONIC / CLOCK_REALTIME, sockets).
 *
 * Rules node code must follow so that both backends run it unchanged:
 *   - no global mutable state: several nodes share one process in the
 *     simulator; keep state in a struct reached from the entry point;
 *   - every blocking call takes a timeout (RT_FOREVER only where a cancelled
 *     context or a closed channel is guaranteed to wake it);
 *   - durations come from rt_mono_ns(); rt_wall_ns() is for timestamps only.
 *
 * All times are signed 64-bit integers of nanoseconds.
 */
#ifndef DEJA_RT_H
#define DEJA_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- results ----------------------------------------------------------- */

enum {
    RT_OK = 0,
    RT_ETIMEDOUT = -1, /* the timeout or deadline passed first */
    RT_ECLOSED = -2,   /* the channel is closed (and drained, for receive) */
    RT_ECANCELED = -3, /* the context was cancelled */
    RT_ENOMEM = -4,
    RT_EINVAL = -5,
    RT_EIO = -6,
    RT_ENOENT = -7,
    RT_ENOSPC = -8,    /* the disk is full */
    RT_EEXIST = -9,
};

#define RT_FOREVER ((int64_t)-1) /* timeout meaning "wait without bound" */
#define RT_MS ((int64_t)1000000)
#define RT_SEC ((int64_t)1000000000)

/* ---- call sites ---------------------------------------------------------- */

/* Every call that can block, and every constructor of something that must
 * be released (contexts, timers), is a macro over a function ending in _at
 * that also takes the caller's file and line. Node code writes the plain
 * names (rt_mutex_lock(m, t)); the sites show in task dumps, deadlock
 * cycles, leak reports and the watchdog's, in both backends. */

/* ---- tasks ------------------------------------------------------------- */

typedef void (*rt_task_fn)(void *arg);

/* Starts a task running fn(arg) on this node. The name and the spawn site
 * (file:line, filled in by the macro) show in task dumps and leak reports.
 * Returns RT_OK, or RT_ENOMEM when the node cannot take another task. */
int rt_spawn_at(const char *name, rt_task_fn fn, void *arg, const char *file, int line);
#define rt_spawn(name, fn, arg) rt_spawn_at((name), (fn), (arg), __FILE__, __LINE__)

/* Options of rt_spawn_with; zero fields take the defaults. */
typedef struct rt_spawn_opts {
    /* Stack bytes the task needs (0: its program's default, set with
     * rt_program_stack, else the world's). The simulator rounds it up (to
     * 1 KiB, at least 2 KiB) and stops the run with a message naming the
     * task when the task overflows it; the production backend never gives a thread
     * less than 256 KiB. */
    size_t stack_bytes;
} rt_spawn_opts;

/* rt_spawn with options (opts may be NULL). */
int rt_spawn_with_at(const char *name, rt_task_fn fn, void *arg, const rt_spawn_opts *opts, const char *file,
                     int line);
#define rt_spawn_with(name, fn, arg, opts) rt_spawn_with_at((name), (fn), (arg), (opts), __FILE__, __LINE__)

/* Lets every other runnable task run before the caller continues. */
void rt_yield(void);

/* Names the point the calling task is about to block on, for task dumps
 * and detector reports, which show it as " [what]" until the next note (an
 * empty one clears it). Optional: channels, locks and sleeps already name
 * themselves. what must outlive the task's use of it (a literal). */
void rt_task_note(const char *what);

/* ---- cancellation contexts --------------------------------------------- */

typedef struct rt_ctx rt_ctx;
typedef struct rt_chan rt_chan;

/* A context is cancelled by rt_ctx_cancel, by its deadline passing, or by
 * its parent being cancelled. Children must be released before parents. */
rt_ctx *rt_ctx_with_cancel_at(rt_ctx *parent, const char *file, int line);
rt_ctx *rt_ctx_with_timeout_at(rt_ctx *parent, int64_t timeout_ns, const char *file, int line);
#define rt_ctx_with_cancel(parent) rt_ctx_with_cancel_at((parent), __FILE__, __LINE__)
#define rt_ctx_with_timeout(parent, timeout_ns) rt_ctx_with_timeout_at((parent), (timeout_ns), __FILE__, __LINE__)
/* A context made with rt_ctx_with_cancel that its creating task neither
 * cancelled nor released by the time that task returns is reported as a
 * leak (Go's lostcancel), with its creation site. */
void rt_ctx_cancel(rt_ctx *ctx);
/* RT_OK while live, RT_ECANCELED or RT_ETIMEDOUT once done. */
int rt_ctx_err(const rt_ctx *ctx);
/* A channel that is closed when the context is done: use it in rt_select. */
rt_chan *rt_ctx_done(rt_ctx *ctx);
/* Cancels (if still live) and frees the context. */
void rt_ctx_release(rt_ctx *ctx);

/* ---- wait groups ------------------------------------------------------- */

typedef struct rt_wg rt_wg;

rt_wg *rt_wg_new(void);
void rt_wg_add(rt_wg *wg, int delta);
void rt_wg_done(rt_wg *wg);
/* Waits until the count is zero: RT_OK or RT_ETIMEDOUT. */
int rt_wg_wait_at(rt_wg *wg, int64_t timeout_ns, const char *file, int line);
#define rt_wg_wait(wg, timeout_ns) rt_wg_wait_at((wg), (timeout_ns), __FILE__, __LINE__)
void rt_wg_free(rt_wg *wg);

/* ---- channels ---------------------------------------------------------- */

/* A channel of fixed-size elements; cap 0 makes it unbuffered (a send
 * completes only when a receiver takes the element). */
rt_chan *rt_chan_new(const char *name, size_t elem_size, size_t cap);
/* Wakes every waiter: receivers drain what is buffered, then get RT_ECLOSED;
 * senders get RT_ECLOSED. Closing twice is a bug (asserted). */
void rt_chan_close(rt_chan *ch);
/* Frees a channel no task waits on any more. */
void rt_chan_free(rt_chan *ch);
/* RT_OK, RT_ECLOSED or RT_ETIMEDOUT (timeout 0 = try once). */
int rt_chan_send_at(rt_chan *ch, const void *elem, int64_t timeout_ns, const char *file, int line);
int rt_chan_recv_at(rt_chan *ch, void *elem, int64_t timeout_ns, const char *file, int line);
#define rt_chan_send(ch, elem, timeout_ns) rt_chan_send_at((ch), (elem), (timeout_ns), __FILE__, __LINE__)
#define rt_chan_recv(ch, elem, timeout_ns) rt_chan_recv_at((ch), (elem), (timeout_ns), __FILE__, __LINE__)
size_t rt_chan_len(const rt_chan *ch);

enum { RT_RECV = 0, RT_SEND = 1 };

typedef struct rt_case {
    rt_chan *ch;  /* NULL cases are skipped (a disabled arm) */
    int op;       /* RT_RECV or RT_SEND */
    void *elem;   /* where to receive into / what to send (may be NULL on recv) */
    int result;   /* out: RT_OK or RT_ECLOSED for the case that fired */
} rt_case;

/* Waits until one case can proceed and performs it. Returns the index of the
 * case that fired (the lowest-index ready case wins when several are ready,
 * so behaviour never depends on anything but the program), or RT_ETIMEDOUT. */
int rt_select_at(rt_case *cases, int n, int64_t timeout_ns, const char *file, int line);
#define rt_select(cases, n, timeout_ns) rt_select_at((cases), (n), (timeout_ns), __FILE__, __LINE__)

/* ---- mutexes ----------------------------------------------------------- */

typedef struct rt_mutex rt_mutex;

rt_mutex *rt_mutex_new(const char *name);
/* RT_OK or RT_ETIMEDOUT. The owner and the site where it took the mutex
 * are recorded: a wait that closes a cycle of tasks each waiting for a
 * lock (mutex or rwlock) the next one holds is a deadlock (deja/check.h). */
int rt_mutex_lock_at(rt_mutex *m, int64_t timeout_ns, const char *file, int line);
#define rt_mutex_lock(m, timeout_ns) rt_mutex_lock_at((m), (timeout_ns), __FILE__, __LINE__)
void rt_mutex_unlock(rt_mutex *m);
void rt_mutex_free(rt_mutex *m);

/* ---- reader-writer locks ------------------------------------------------ */

typedef struct rt_rwlock rt_rwlock;

/* A lock many tasks may hold for reading at once, or one task for writing.
 * Policy, the same in both backends: one FIFO queue of waiters in arrival
 * order. A read is granted at once only when no task holds the lock for
 * writing and nobody waits; a write only when nobody holds it and nobody
 * waits. When the lock frees up, the head of the queue is served: a writer
 * alone, or every reader up to the next writer together. So a reader
 * arriving while a writer waits queues behind it (writers are never
 * starved by a stream of readers) and readers are never starved by
 * writers. Neither lock is recursive: a task that holds the lock and asks
 * for it again, for writing (an "upgrade") or for reading while a writer
 * waits, waits for itself; both backends report that as a deadlock when
 * the wait has no timeout (the production backend then aborts the
 * process, docs/production.md). */
rt_rwlock *rt_rwlock_new(const char *name);
/* RT_OK or RT_ETIMEDOUT (timeout 0 = try once). The holders and the sites
 * where they took the lock are recorded: a wait that closes a cycle of
 * tasks each waiting for a lock (mutex or rwlock) the next one holds, or
 * waits ahead of it in an rwlock's queue, is a deadlock (deja/check.h). */
int rt_rwlock_rlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line);
int rt_rwlock_wlock_at(rt_rwlock *l, int64_t timeout_ns, const char *file, int line);
#define rt_rwlock_rlock(l, timeout_ns) rt_rwlock_rlock_at((l), (timeout_ns), __FILE__, __LINE__)
#define rt_rwlock_wlock(l, timeout_ns) rt_rwlock_wlock_at((l), (timeout_ns), __FILE__, __LINE__)
/* Releases a read hold of the calling task (which must hold one). */
void rt_rwlock_runlock(rt_rwlock *l);
/* Releases the calling task's write hold (which it must have). */
void rt_rwlock_wunlock(rt_rwlock *l);
/* Frees a lock nobody holds or waits for. */
void rt_rwlock_free(rt_rwlock *l);

/* ---- time -------------------------------------------------------------- */

/* Monotonic time of this node: never goes back, may drift. */
int64_t rt_mono_ns(void);
/* Wall-clock time of this node (ns since the epoch): offset, drift, NTP
 * steps; may jump backwards. */
int64_t rt_wall_ns(void);
/* Sleeps ns of this node's monotonic time. RT_OK. */
int rt_sleep_ns_at(int64_t ns, const char *file, int line);
#define rt_sleep_ns(ns) rt_sleep_ns_at((ns), __FILE__, __LINE__)

typedef struct rt_timer rt_timer;

/* A timer fires once after first_ns (period_ns 0) or every period_ns after
 * that (a ticker). Each firing puts the node's monotonic time (int64_t) in
 * its channel, dropped if the previous one was not taken. Must be stopped. */
rt_timer *rt_timer_new_at(const char *name, int64_t first_ns, int64_t period_ns, const char *file, int line);
#define rt_timer_new(name, first_ns, period_ns) rt_timer_new_at((name), (first_ns), (period_ns), __FILE__, __LINE__)
rt_chan *rt_timer_chan(rt_timer *t);
/* Stops and frees the timer (its channel with it). A ticker still running
 * when the task that created it returns, or any timer not stopped when its
 * node stops, is reported as a leak with its creation site. */
void rt_timer_stop(rt_timer *t);

/* ---- time servers ------------------------------------------------------ */

/* One exchange with a time server, NTP's four timestamps (ns since the
 * epoch): t1 local send and t4 local receive, read from this node's wall
 * clock (rt_wall_ns); t2 server receive and t3 server send, read from the
 * server's clock. root_disp_ns is the error bound the server claims for its
 * own clock (NTP's root dispersion; a lying server claims it too). With
 * them: offset = ((t2 - t1) + (t3 - t4)) / 2 (server minus local) and
 * delay = (t4 - t1) - (t3 - t2). */
typedef struct rt_time_sample {
    int64_t t1, t2, t3, t4;
    int64_t root_disp_ns;
} rt_time_sample;

/* How many time servers this node can ask (0: none). Servers are numbered
 * 0 .. rt_time_servers() - 1. In the simulator they are the scenario's
 * (world.h: deja_timesrv_config); the production backend offers one, the
 * host's own CLOCK_REALTIME with zero delay (the host's NTP daemon is what
 * disciplines it there). */
uint32_t rt_time_servers(void);
/* Asks time server `server` for the time, blocking the calling task for the
 * round trip: RT_OK and *out filled, RT_ETIMEDOUT when no answer came
 * within timeout_ns (monotonic), RT_EINVAL for an unknown server. */
int rt_time_query(uint32_t server, rt_time_sample *out, int64_t timeout_ns);

/* ---- network ----------------------------------------------------------- */

/* A message as delivered: allocated by the backend, freed with rt_msg_free. */
typedef struct rt_msg {
    uint32_t from;
    uint32_t len;
    uint8_t data[];
} rt_msg;

/* Sends len bytes to node `to` (best effort: may be lost, delayed,
 * duplicated, reordered). RT_OK or RT_EINVAL. */
int rt_send(uint32_t to, const void *data, size_t len);
/* This node's inbox: a channel of rt_msg* elements. */
rt_chan *rt_inbox(void);
void rt_msg_free(rt_msg *m);

/* ---- disk --------------------------------------------------------------- */

/* Files of this node's disk. Paths are relative to the node's data
 * directory ("chain.db"); no directories. Writes are durable only after
 * rt_file_sync returns RT_OK: a crash keeps, drops or tears (at sector
 * granularity) every write not yet synced. A failed sync (RT_EIO) loses the
 * unsynced data, as Linux does. Creating, renaming and deleting a file are
 * durable once they return (a journaled file system). */
typedef struct rt_file rt_file;

/* RT_O_NOWAIT: operations on the handle never switch tasks (no simulated
 * latency is charged), for callers that must not yield, such as the SQLite
 * VFS; the production backend ignores it. */
enum { RT_O_CREATE = 1, RT_O_EXCL = 2, RT_O_READONLY = 4, RT_O_NOWAIT = 8 };

/* Opens path: RT_OK, RT_ENOENT, RT_EEXIST (with RT_O_EXCL), RT_EIO. */
int rt_file_open(const char *path, int flags, rt_file **out);
/* Reads up to len bytes at off; *got < len only at end of file. RT_OK, or
 * RT_EIO (a latent sector error, until the sector is rewritten). */
int rt_file_read(rt_file *f, int64_t off, void *buf, size_t len, size_t *got);
/* RT_OK, RT_ENOSPC or RT_EIO. */
int rt_file_write(rt_file *f, int64_t off, const void *buf, size_t len);
/* Makes every write so far durable: RT_OK or RT_EIO. */
int rt_file_sync(rt_file *f);
int rt_file_truncate(rt_file *f, int64_t size);
int64_t rt_file_size(rt_file *f);
void rt_file_close(rt_file *f);
/* RT_OK or RT_ENOENT. */
int rt_file_delete(const char *path);
int rt_file_rename(const char *from, const char *to);
bool rt_file_exists(const char *path);
/* The disk's sector size in bytes (the unit of torn writes), for callers
 * that align their writes to it (the SQLite VFS's xSectorSize). */
int64_t rt_file_sector_size(rt_file *f);

/* Registers the seam's SQLite VFS ("deja") as SQLite's default, so
 * sqlite3_open runs on this node's disk. Idempotent; RT_OK. */
int rt_sqlite_vfs_register(void);

/* ---- identity and parameters ------------------------------------------- */

uint32_t rt_node_id(void);
uint32_t rt_node_count(void);
/* The value of parameter `key` (as given to the scenario or the daemon),
 * or dflt when it is not set. */
const char *rt_param_str(const char *key, const char *dflt);
int64_t rt_param_i64(const char *key, int64_t dflt);

/* ---- memory ------------------------------------------------------------ */

/* Accounted allocation: counted in the node's resident size. */
void *rt_malloc(size_t n);
void *rt_calloc(size_t count, size_t n);
void *rt_realloc(void *p, size_t n);
void rt_free(void *p);

/* ---- mapped regions ---------------------------------------------------- */

/* Mapped regions are memory the node addresses directly, as an mmap'd block
 * file or an anonymous arena: reserving one costs nothing; a page counts in
 * the node's resident size from the first time the node reads or writes it
 * until it is dropped (RT_MADV_DONTNEED) or unmapped. A node that touches
 * ever more pages grows until its memory limit OOM-kills it, as a node that
 * maps a growing block file and never releases what it has read.
 *
 * The simulator counts touched pages at its own check instants (the node's
 * map calls and the periodic memory samples; see docs/simulation.md), so an
 * OOM caused by touching pages comes at the first such instant after the
 * limit is crossed, the same one on every replay. Regions belong to the node: a
 * crash (or an OOM kill) unmaps every one of them. Their content is not
 * persisted: a region is zero-filled memory, whatever its name says. */

enum { RT_MADV_DONTNEED = 1 };

/* Maps a zero-filled, page-aligned region of len bytes, named for reports
 * (e.g. "blocks.dat"). Returns its address, or NULL when len is 0 or the
 * region cannot be had. */
void *rt_map(const char *name, size_t len);
/* Unmaps a region: p and len as given to and returned by rt_map (anything
 * else is a bug, asserted by the simulator). rt_unmap(NULL, 0) is a no-op. */
void rt_unmap(void *p, size_t len);
/* Advises on the bytes [off, off + len) of the region at p. RT_MADV_DONTNEED
 * drops the pages wholly inside the range (and the region's last, partial
 * page when the range reaches the region's end): they no longer count and
 * read back as zero. RT_OK, or RT_EINVAL when p is not a region of this
 * node, the range overruns it, or the advice is unknown. */
int rt_map_advise(void *p, size_t off, size_t len, int advice);

/* ---- randomness -------------------------------------------------------- */

uint64_t rt_rand_u64(void);

/* ---- logging ----------------------------------------------------------- */

enum { RT_LOG_DEBUG = 0, RT_LOG_INFO = 1, RT_LOG_WARN = 2, RT_LOG_ERROR = 3 };
void rt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- facts for the oracles --------------------------------------------- */

/* Fact kinds. The well-known ones below are the vocabulary of the
 * reference node's oracles; a node names kinds of its own with
 * rt_fact_kind_named("kv.put") and reports them the same way. */
typedef int rt_fact_kind;
enum {
    RT_FACT_PRODUCED = 1,  /* this node built block (height, slot, hash, parent) */
    RT_FACT_IMPORTED = 2,  /* a received block was accepted into the tree */
    RT_FACT_REJECTED = 3,  /* a received block was refused (value: reason) */
    RT_FACT_DEFERRED = 4,  /* a block from the near future was held back */
    RT_FACT_HEAD = 5,      /* the head moved (value: reorg depth, 0 if none) */
    RT_FACT_CONFIRMED = 6, /* block at height is confirmed (depth k reached); root = its state root */
    RT_FACT_RECOVERED = 7, /* after a (re)start: the durable chain found on disk
                              (height = confirmed height, hash = that block, value = head height) */
    RT_FACT_INTEGRITY = 8, /* a store integrity check ran (value 0: ok, else failed) */
    RT_FACT_CORRUPTION = 9, /* corrupted data detected and refused (value: where, node-defined) */
    RT_FACT_CLOCK = 10,     /* time sync's estimate (value: calibrated wall time minus raw
                               wall time, ns, read at one instant; see node/timesync.h) */
    /* Raft ordering engine (node/raft.h), numbered 40..49 so other engines'
     * kinds do not collide; judged by the raft oracle (deja/oracle.h). */
    RT_FACT_RAFT_ELECTION = 40,  /* became a candidate of term `height` (value: its last log index) */
    RT_FACT_RAFT_LEADER = 41,    /* became leader of term `height` (value: its last log index) */
    RT_FACT_RAFT_FOLLOW = 42,    /* first AppendEntries accepted in term `height` (value: the leader) */
    RT_FACT_RAFT_STEPDOWN = 43,  /* the leader of term `height` stepped down (value: 1 saw a higher
                                    term, 2 lost touch with a majority: check-quorum) */
    RT_FACT_RAFT_COMMITTED = 44, /* the entry at index `height` was committed and applied, in index
                                    order (slot: its term, hash: its block's hash, root: state root,
                                    parent: the account state's Merkle root after it, node/state.h) */
    RT_FACT_RAFT_RECOVERED = 45, /* a (re)start found raft state on disk: height = last log index,
                                    slot = its term, hash = its block's hash, value = current term */
    RT_FACT_RAFT_LEASE_READ = 46, /* the leader of term `height` served a read under its lease
                                     (value: lease left, ns of its monotonic clock) */
    RT_FACT_RAFT_SNAP_INSTALLED = 47, /* the node's state is now the snapshot at index `height` (slot:
                                         its term, hash: its entry's hash, parent: the Merkle root;
                                         value 1: loaded from disk at a start, 0: synced from a peer) */
    RT_FACT_RAFT_SNAP_FALLBACK = 48, /* the leader offers follower `height` a snapshot: the entries it
                                        needs are compacted (slot: the leader's last index, value: its
                                        log base; once until the follower answers success) */
    RT_FACT_RAFT_SNAP_SYNC = 49, /* snapshot sync of index `height` (value 0: starts, before its tasks
                                    are spawned; 1: done and verified, 2: failed or aborted, after
                                    its tasks were joined) */
    RT_FACT_NAMED_MIN = 1 << 16, /* kinds from rt_fact_kind_named lie in [MIN, MIN + SPAN) */
    RT_FACT_NAMED_SPAN = 1 << 30,
};

typedef struct rt_fact {
    rt_fact_kind kind;
    uint64_t height;
    uint64_t slot;
    uint8_t hash[16];
    uint8_t parent[16];
    uint8_t root[16];
    int64_t value;
} rt_fact;

/* Tells the oracles what this node did. */
void rt_fact_report(const rt_fact *f);

/* The kind named `name` (1 to 47 bytes): the same number in every process
 * and backend (a hash of the name, in [RT_FACT_NAMED_MIN, +SPAN)). Call it
 * at start-up or keep the result; two names that hash alike abort with a
 * message. Traces and production's facts file print the name. */
rt_fact_kind rt_fact_kind_named(const char *name);
/* The name of a well-known or named kind, or NULL when it has none. */
const char *rt_fact_kind_name(rt_fact_kind kind);

/* ---- programs ---------------------------------------------------------- */

/* A node program: runs as the node's first task; returns when ctx is done
 * (the simulator's end of run, SIGTERM in production) after its tasks quit. */
typedef void (*rt_main_fn)(rt_ctx *ctx);

/* Makes a program known by name to the backend linked in, so scenarios
 * (deja_node_add) and the daemon (--program) can start it. Called
 * explicitly, before the first world or daemon starts: a node library
 * offers one function that registers its programs (the reference node's is
 * node_programs_register, deja/node.h). Registering a name again replaces
 * its entry point. */
void rt_program_register(const char *name, rt_main_fn fn);
/* The default stack bytes of the tasks of a registered program, its main
 * task included (0: the world's default, the mem.stack_kb parameter).
 * Small stacks let a simulated node run hundreds of thousands of tasks.
 * The production backend keeps its own thread stacks. */
void rt_program_stack(const char *name, size_t stack_bytes);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_RT_H */
