/*
 * real.h -- the control surface of the production backend, for the
 * `deja-node` daemon (daemon_main.c) and the tests (tests/test_real_*.c).
 *
 * Node code never includes this header: it sees rt.h only. A process that
 * uses the production backend calls real_init() once with its identity, its
 * peers and its data directory, sets parameters with real_param_set(), runs
 * programs as tasks, and ends with real_shutdown(), which waits (bounded) for
 * the tasks, stops the backend's own threads, syncs the facts file and leaves
 * no thread behind. init/shutdown may be repeated in one process (tests do).
 *
 * Conventions (see docs/production.md):
 *   - peers lists every node's address in id order, its own included, so
 *     rt_node_count() is the number of peers and rt_send(i) goes to peers[i];
 *     a datagram is a 20-byte header -- magic "DJ02", sender id (u32),
 *     sequence number (u64, strictly increasing per sender), payload length
 *     (u32), all little endian -- then the payload (at most
 *     REAL_MAX_PAYLOAD bytes) and, with a cluster key, a 32-byte MAC of all
 *     that (HMAC-SHA-512-256, libsodium's crypto_auth). The receiver drops
 *     and counts, by reason, what is short, oversized, of another magic,
 *     from an unknown sender, inconsistent (undecodable), badly
 *     authenticated or replayed (see docs/production.md);
 *   - DIR/facts gets one line per rt_fact_report:
 *       WALL_NS KIND HEIGHT SLOT HASH_HEX PARENT_HEX VALUE ROOT_HEX
 *     where KIND is produced|imported|rejected|deferred|head|confirmed|
 *     recovered|integrity|corruption (ROOT: the state root), and
 *     each start of the node (an incarnation) first writes a line of KIND
 *     start (zero fields, VALUE the node id);
 *   - DIR/status is rewritten (temp file + rename) every second with
 *     key=value lines (see real_status_print).
 */
#ifndef DEJA_REAL_H
#define DEJA_REAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "deja/rt.h"

#define REAL_MAX_DATAGRAM 65507
#define REAL_MAX_PAYLOAD 60000 /* rt_send refuses more; a longer datagram is "oversized" */

/* Why the receiver dropped a datagram (counted in the status lines as
 * dropped_NAME=N). */
enum {
    REAL_DROP_SHORT,       /* shorter than the header */
    REAL_DROP_OVERSIZED,   /* longer than the largest valid datagram */
    REAL_DROP_BAD_MAGIC,   /* not "DJ02" */
    REAL_DROP_UNKNOWN,     /* sender id not below the number of peers */
    REAL_DROP_UNDECODABLE, /* length field and size disagree */
    REAL_DROP_BAD_MAC,     /* MAC missing or wrong: forged or tampered */
    REAL_DROP_REPLAYED,    /* sequence number seen before (or too old) */
    REAL_DROP_N
};

/* Faults the transport injects on the datagrams this node sends (all zero:
 * none, and the transport sends exactly as without them). */
typedef struct real_net_faults {
    uint32_t loss_ppm;    /* a datagram is not sent */
    uint32_t dup_ppm;     /* a datagram is sent twice (each copy its own delay) */
    int64_t delay_ns;     /* every datagram waits this long before it is sent ... */
    int64_t jitter_ns;    /* ... plus uniform in +-jitter (at least 0) */
    uint32_t reorder_ppm; /* a datagram waits uniform in [reorder_ns/2, reorder_ns] more */
    int64_t reorder_ns;
    uint64_t seed;        /* the fault draws' seed, when seed_set (else the node id) */
    bool seed_set;
} real_net_faults;

/* Parses one --net-* flag of deja-node into c: --net-loss-pct P,
 * --net-dup-pct P, --net-reorder-pct P (percent, 0..100), --net-delay-ms D,
 * --net-jitter-ms J, --net-reorder-ms R (ms), --net-seed S. 0 when parsed,
 * 1 when flag is not one of them, 2 with err naming the flag. */
int real_net_fault_flag(real_net_faults *c, const char *flag, const char *val, char *err, size_t errlen);

typedef struct real_opts {
    uint32_t id;          /* this node's id, < npeers (0 when npeers is 0) */
    int npeers;           /* 0: no network (rt_send only to self, in memory) */
    const char *const *peers; /* "host:port" per node id */
    const char *listen;   /* bind address; NULL means peers[id] */
    const char *data_dir; /* facts and status go here; NULL: none */
    int inspect_s;        /* > 0: the inspector runs every inspect_s seconds */
    FILE *inspect_out;    /* where the inspector writes (stderr when NULL) */
    const char *key_file; /* the cluster key (auth.c); NULL: datagrams are not authenticated */
    real_net_faults net_faults; /* injected on sent datagrams (net_faults.c) */
} real_opts;

/* Starts the backend: identity, network, data directory, status writer and
 * inspector. Returns 0, or 2 with a one-line reason in err naming the flag
 * (--listen, --peers, --data...) that is at fault. */
int real_init(const real_opts *o, char *err, size_t errlen);

/* Sets a parameter from "key=value" (before or after real_init; cleared by
 * real_shutdown). Returns 0, or 2 with err naming the text. */
int real_param_set(const char *kv, char *err, size_t errlen);

/* Finds a program registered with rt_program_register (the first one
 * registered when name is NULL), or NULL. */
rt_main_fn real_program_find(const char *name);

/* Starts a thread that waits for signals (which the caller must have blocked
 * in every thread, e.g. with real_block_signals before real_init): SIGTERM
 * and SIGINT cancel root, SIGUSR1 prints a task dump and SIGUSR2 the status
 * to stderr. A second SIGTERM/SIGINT exits the process at once (status 1). */
void real_signals_start(rt_ctx *root);
/* Blocks SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 in the calling thread (and so
 * in every thread it creates afterwards). */
void real_block_signals(void);
/* True once a termination signal was received. */
int real_signaled(void);

/* Waits up to grace_ns for spawned tasks, stops every backend thread, syncs
 * and closes the facts file, frees the parameters. Returns the number of
 * tasks still live (0 on a clean shutdown; they are left running). */
int real_shutdown(int64_t grace_ns);

/* Every live task: name, spawn site, state, what it waits on, age. */
void real_dump_tasks(FILE *out);
/* One inspection (what --inspect-s runs every N seconds): counts live tasks
 * by (spawn site, blocking site) and prints every group that grew since the
 * previous inspection, flagging a group that grew three times in a row. */
void real_inspect(FILE *out);
/* Live tasks spawned with rt_spawn (adopted foreign threads not counted). */
int real_live_tasks(void);
/* Status key=value lines: node, state (running|stopped), height,
 * confirmed_height, head, peers (heard from in the last 5 s), peers_total,
 * tasks, resident_bytes (RSS), heap_bytes (rt_malloc), mapped_bytes
 * (rt_map regions), produced, imported,
 * rejected, deferred, corruption, integrity_failed, inbox_dropped,
 * auth (on|off), lost_contexts, lost_timers, deadlocks (reported; the
 * process aborts at the first), deadlock_timeouts (wait-for cycles a lock
 * wait with a timeout closed), deadlock_check (on|off), lock_waits_checked,
 * dropped_short, dropped_oversized, dropped_bad_magic,
 * dropped_unknown_sender, dropped_undecodable, dropped_bad_mac,
 * dropped_replayed, uptime_ms. */
void real_status_print(FILE *out);

#endif /* DEJA_REAL_H */
