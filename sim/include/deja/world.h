/*
 * world.h -- the simulated world, as scenarios (models/) build and drive it.
 *
 * A world holds the nodes of one run, the event queue ordered by (virtual
 * time, sequence), one PRNG stream per subsystem split from the seed, the
 * per-node clocks, the network, the trace digest and the fact hooks the
 * oracles listen on. Scenarios create nodes running registered programs
 * (rt_program_register), configure the models and schedule faults; the
 * runner (deja_run) then advances virtual time to the end of the run.
 */
#ifndef DEJA_WORLD_H
#define DEJA_WORLD_H

#include <stdint.h>
#include <stdio.h>

#include "deja/deja.h"
#include "deja/rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PRNG streams ------------------------------------------------------ */

/* xoshiro256** state; one per subsystem so draws never shift each other. */
typedef struct deja_prng {
    uint64_t s[4];
} deja_prng;

/* Seeds a stream from (seed, name): the same pair always gives the same
 * stream, different names give independent ones. */
void deja_prng_init(deja_prng *r, uint64_t seed, const char *name);
uint64_t deja_prng_next(deja_prng *r);
/* Uniform in [0, n) (n > 0), without modulo bias. */
uint64_t deja_prng_below(deja_prng *r, uint64_t n);
/* Uniform in [lo, hi] (lo <= hi). */
int64_t deja_prng_range(deja_prng *r, int64_t lo, int64_t hi);
/* True with probability ppm / 1e6. */
int deja_prng_chance_ppm(deja_prng *r, uint32_t ppm);

/* ---- the world --------------------------------------------------------- */

deja_world *deja_world_new(uint64_t seed, const deja_params *params);
void deja_world_free(deja_world *w);
uint64_t deja_world_seed(const deja_world *w);
const deja_params *deja_world_params(const deja_world *w);
/* A PRNG stream of this world, split from its seed by name. */
deja_prng *deja_world_stream(deja_world *w, const char *name);
/* Virtual time since the start of the run (true time, no clock error). */
int64_t deja_world_now(const deja_world *w);
uint32_t deja_world_nodes(const deja_world *w);
/* Sets the simulated duration (the run stops there). */
void deja_world_set_duration(deja_world *w, int64_t ns);
/* Calls fn(w, arg) at virtual time at_ns, outside any task. */
typedef void (*deja_event_fn)(deja_world *w, void *arg);
void deja_world_at(deja_world *w, int64_t at_ns, deja_event_fn fn, void *arg);
/* Appends a line to the trace (folded into the digest, written to the text
 * trace when one is open). */
void deja_world_trace(deja_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Attaches the scenario's own state to the world (freed with free_fn when
 * the world is freed), and gets it back in finish. */
void deja_world_set_data(deja_world *w, void *data, void (*free_fn)(void *));
void *deja_world_data(const deja_world *w);

/* ---- nodes and clocks -------------------------------------------------- */

/* Adds a node running the registered program `program`, with a clock whose
 * wall time starts offset_ns off true time and whose rate is off by
 * drift_ppb parts per billion. Returns the node id, or -1 when the program
 * is unknown. A world holds any number of nodes (ids 0, 1, ...): every
 * table of the simulator is sized from the count. */
int deja_node_add(deja_world *w, const char *program, int64_t offset_ns, int64_t drift_ppb);
/* Schedules an NTP step of the node's wall clock by delta_ns at at_ns. */
void deja_clock_step(deja_world *w, uint32_t node, int64_t at_ns, int64_t delta_ns);
/* Schedules an NTP slew of delta_ns at at_ns, applied at 500 ppm. */
void deja_clock_slew(deja_world *w, uint32_t node, int64_t at_ns, int64_t delta_ns);
/* The node's current clock error (wall - true), for metrics. */
int64_t deja_clock_error(const deja_world *w, uint32_t node);

/* ---- time servers (timesrv.c) ------------------------------------------ */

#define DEJA_TIMESRV_MAX 16

/* Gives every node n time servers (rt_time_query). Server i has a fixed
 * clock error uniform in +-err_ns and a base one-way delay per direction
 * uniform in [delay/2, 3*delay/2] (so each path is asymmetric); every query
 * adds a delay uniform in [0, jitter_ns] to each direction. The last
 * `falsetickers` servers are also off by falseticker_ns, either sign (they
 * still claim err_ns as their error bound). Draws come from the "ntp"
 * stream. Also starts recording every RT_FACT_CLOCK fact as a sample of the
 * raw and the calibrated clock error (deja_timesrv_stats). Call once, from
 * the scenario's setup; n <= DEJA_TIMESRV_MAX. */
void deja_timesrv_config(deja_world *w, uint32_t n, int64_t err_ns, int64_t delay_ns, int64_t jitter_ns,
                         uint32_t falsetickers, int64_t falseticker_ns);

/* The clock error of every RT_FACT_CLOCK sample so far: at the fact's
 * instant, raw = wall - true (deja_clock_error) and calibrated = raw +
 * value (the node's calibrated wall minus its raw wall), so calibrated =
 * calibrated wall - true. Percentiles of |error| in ns (nearest rank). */
typedef struct deja_clock_stats {
    uint64_t samples;
    int64_t raw_p50, raw_p99, raw_max;
    int64_t cal_p50, cal_p99, cal_max;
} deja_clock_stats;

/* Fills *out (all zero without samples or servers). */
void deja_timesrv_stats(const deja_world *w, deja_clock_stats *out);

/* ---- process faults and memory ------------------------------------------- */

/* Node events the simulator reports to fact listeners, as rt_fact kinds
 * beyond the node's own (value: restart delay, pause length, resident). */
enum {
    DEJA_FACT_CRASH = 100,   /* the node crashed (all tasks gone, disk crash model applied) */
    DEJA_FACT_RESTART = 101, /* the node's program started again on the same disk */
    DEJA_FACT_OOM = 102,     /* the node was OOM-killed (value: resident bytes) */
    DEJA_FACT_PAUSE = 103,   /* the node froze for value ns (clocks kept running) */
};

/* At at_ns the node crashes; it restarts restart_after_ns later (never when
 * negative). A crash while down is ignored. */
void deja_node_crash(deja_world *w, uint32_t node, int64_t at_ns, int64_t restart_after_ns);
/* At at_ns the node freezes for pause_ns: no task runs, clocks keep going,
 * messages and timer firings queue up. */
void deja_node_pause(deja_world *w, uint32_t node, int64_t at_ns, int64_t pause_ns);
/* Faults that damaged data at rest on the node's disk so far (latent
 * sectors, misdirected writes): losses they cause are media losses. */
uint64_t deja_node_media_faults(const deja_world *w, uint32_t node);
/* Resident bytes of a node now (heap + per-task cost + mapped pages). */
int64_t deja_node_resident(const deja_world *w, uint32_t node);
/* Touched bytes of the node's mapped regions (rt_map) now. Asking counts
 * afresh and never changes the run: the memory limit is applied to mapped
 * pages at the simulator's own check instants (docs/simulation.md). */
int64_t deja_node_mapped(const deja_world *w, uint32_t node);
/* Writes the resident-size timeline as CSV, one row per node per sample
 * (every mem.sample_ms, plus one at each OOM kill), times non-decreasing:
 *   t_ms,node,resident_bytes,tasks,mapped_bytes
 * (mapped_bytes: the part of resident_bytes that is touched mapped pages). */
void deja_world_timeline_csv(const deja_world *w, FILE *out);
/* The report of the first OOM kill (timeline tail and task dump), or NULL. */
const char *deja_world_oom_report(const deja_world *w);

/* The disk.*, mem.*, fault.* and detector (deadlock.*, leak.*, watch.*)
 * parameters every scenario accepts. */
extern const deja_param_def deja_disk_params[];
extern const deja_param_def deja_mem_params[];
extern const deja_param_def deja_fault_params[];
extern const deja_param_def deja_detect_params[];
/* Sets every common parameter p does not hold yet to its default. */
void deja_params_common_defaults(deja_params *p);
/* Applies the common parameters to a world whose nodes exist: memory
 * limits, fault schedules, the detectors. 0, or 2 naming the bad one. */
int deja_world_apply_common(deja_world *w, const deja_params *p, char *err, size_t errlen);

/* ---- detectors (any node gets them; see deja/check.h) --------------------- */

/* What the detectors found so far (they run from deja_world_apply_common
 * on, as the run goes; none of them changes the run or its digest). */
typedef struct deja_detect_stat {
    uint32_t deadlocks;         /* wait-for cycles of unbounded waits, and stalled nodes */
    uint32_t deadlock_timeouts; /* cycles that a lock wait with a timeout closed */
    uint32_t leak_groups;       /* task groups that grew leak.rises samples in a row */
    uint32_t lost_contexts;     /* contexts their creator neither cancelled nor released */
    uint32_t lost_timers;       /* timers left running by their creator or their node */
    uint32_t stuck;             /* waits the watchdog reported (watch.block_ms) */
    const char *verdict;        /* the first failing verdict a detector gave, or NULL */
    int64_t verdict_ns;         /* and when (virtual time) */
    char what[96];              /* and one line naming it */
} deja_detect_stat;

void deja_world_detect_stats(const deja_world *w, deja_detect_stat *out);
/* Every finding so far, as text (each names tasks, sites and times), or
 * NULL when there is none. The same lines are in the text trace. */
const char *deja_world_detect_report(const deja_world *w);
/* Prints a task dump to out at each of the n virtual instants at_ns
 * (increasing, within the run), and with diff, after every dump but the
 * first, what grew or shrank since the previous one, grouped by node,
 * spawn site and blocking site. Call after deja_world_apply_common. */
void deja_world_dump_at(deja_world *w, const int64_t *at_ns, int n, bool diff, FILE *out);

/* ---- network ----------------------------------------------------------- */

/* Every link: one-way latency uniform in [latency - jitter, latency + jitter]
 * (at least 0), each message lost with probability loss_ppm / 1e6. */
void deja_net_config(deja_world *w, int64_t latency_ns, int64_t jitter_ns, uint32_t loss_ppm);
/* At at_ns, puts node i in group groups[i] (groups has one entry per node,
 * copied now); messages cross between groups only if equal. All zero heals. */
void deja_net_partition(deja_world *w, int64_t at_ns, const uint8_t *groups);

/* Calls fn(arg, groups) whenever a partition change (deja_net_partition)
 * takes effect, right after the network applied it (groups: one entry per
 * node). Up to 4 listeners; nothing is traced. Models whose oracles follow
 * the partitions listen here, so a partition left out of the fault plan is
 * left out for them too. */
typedef void (*deja_partition_fn)(void *arg, const uint8_t *groups);
void deja_net_on_partition(deja_world *w, deja_partition_fn fn, void *arg);

/* The network's per-message faults and link shapes beyond latency, jitter
 * and loss (docs/simulation.md). Each draws from its own stream, named
 * below, so a world that leaves one at zero draws exactly as before. */
typedef struct deja_net_fault_cfg {
    uint32_t dup_ppm;     /* a message is delivered twice ("net.dup") */
    uint32_t reorder_ppm; /* a message is held back uniform in [reorder_ns/2, reorder_ns] ("net.reorder") */
    int64_t reorder_ns;
    uint32_t corrupt_ppm; /* 1 to 3 bits of a message are flipped ("net.corrupt") */
    int tail;             /* 1: a Pareto tail base * (U^(-1/alpha) - 1) on every link ("net.latency") */
    int64_t tail_alpha9;  /* alpha in fixed9 (>= 0.1) */
    int64_t tail_max_ns;  /* the tail's cap */
    uint32_t regions;     /* 0, or node i sits in region i % regions (<= 8) ... */
    const int64_t *region_ns; /* ... and links from region a to b take region_ns[a * regions + b] */
    int64_t bandwidth_kbps;   /* per directed link: a message waits for the wire, then takes len*8/bw (0: unlimited) */
} deja_net_fault_cfg;
void deja_net_faults(deja_world *w, const deja_net_fault_cfg *c);

/* Scheduled link faults, one function per kind; each starts at at_ns and
 * heals len_ns later. At most one cut (one-way or bridge) is in force at a
 * time: a cut scheduled later replaces an earlier one. Cuts add to the
 * groups of deja_net_partition (a message needs both to let it through).
 * One-way: messages from side-1 nodes to side-0 nodes are lost; every other
 * direction works (side has one entry per node, 0 or 1). */
void deja_net_oneway(deja_world *w, int64_t at_ns, int64_t len_ns, const uint8_t *side);
/* Bridge: side 0 and side 1 do not hear each other; node `bridge` (whatever
 * its side entry) hears and is heard by both. */
void deja_net_bridge(deja_world *w, int64_t at_ns, int64_t len_ns, const uint8_t *side, uint32_t bridge);
/* Clog: every message sent on a clogged link is held until the clog heals,
 * then takes its latency. peer < 0: every link of node, both directions;
 * else the one link node -> peer. */
void deja_net_clog(deja_world *w, int64_t at_ns, int64_t len_ns, uint32_t node, int32_t peer);

/* Sends len bytes from node `from` to node `to` now, as if `from` had
 * called rt_send (the same trace, loss, latency and faults): a model's
 * injected sender, such as a peer flooding the others. Nothing when `from`
 * is down. RT_OK, or RT_EINVAL for a node out of range or a message over
 * 16 MiB. */
int deja_net_inject(deja_world *w, uint32_t from, uint32_t to, const void *data, size_t len);

/* What the network faults did so far. */
typedef struct deja_net_counts {
    uint64_t dups, reorders, corrupts; /* messages duplicated, held back, damaged */
    uint64_t cut_drops;                /* messages lost to a one-way or bridge cut */
    uint64_t clogged;                  /* messages held by a clog */
} deja_net_counts;
void deja_net_fault_counts(const deja_world *w, deja_net_counts *out);

/* The net.* fault parameters every scenario accepts (net_params.c); with
 * deja_world_apply_common they configure the faults above and, with
 * net.swarm=1, draw a mix of them per seed. */
extern const deja_param_def deja_net_fault_params[];

/* ---- fault plans (plan.c) ---------------------------------------------- */

/* Every fault a run injects is one entry of the run's plan: node crashes
 * (with their restart), pauses, clock steps and slews, partitions and their
 * heals, and any kind a model or the network registers. The entries are
 * drawn from the seed as they always were: the functions above that
 * schedule a fault (deja_node_crash, deja_node_pause, deja_clock_step,
 * deja_clock_slew, deja_net_partition) inject a plan entry. A plan can then
 * be cut down: a mask leaves out entries by id, or a given plan (read back
 * from a file) replaces the drawn one. Per-operation draws (message loss,
 * disk faults: parameters, see docs/debugging.md) are not plan entries. */
typedef struct deja_plan_entry {
    uint32_t id;          /* place in the run's plan, from 0, in injection order */
    char kind[16];        /* "crash", "pause", "step", "slew", "partition", "oneway", "bridge",
                             "clog", "flood" or a registered kind */
    int32_t node;         /* the node it hits, -1 for none (a partition) */
    int64_t at_ns;        /* true time it fires */
    int64_t a, b;         /* the kind's parameters: crash a = restart delay (-1: never),
                             pause a = length, step/slew a = delta (ns) */
    const char *groups;   /* partition: one digit per node ("0" heals), else NULL */
    int32_t parent;       /* the entry this one undoes (a heal: its partition), or -1 */
    bool enabled;         /* injected (false: masked out or not in the given plan) */
} deja_plan_entry;

/* A kind of fault: schedule arranges for the fault e describes to happen at
 * e->at_ns (>= now) in w. Register once at start-up, before any run; the
 * built-in kinds (those above) need no registration. Names are at most 15 chars. */
typedef struct deja_plan_kind {
    const char *name;
    void (*schedule)(deja_world *w, const deja_plan_entry *e);
} deja_plan_kind;
void deja_plan_kind_register(const deja_plan_kind *k);

/* Injects the fault e describes (id, parent and enabled are filled in):
 * records it in the run's plan and schedules it, unless the mask or the
 * given plan leaves it out. Returns its id when scheduled, -1 when left out. */
int deja_plan_inject(deja_world *w, const deja_plan_entry *e);

/* A list of plan entries, independent of any world. */
typedef struct deja_plan deja_plan;
deja_plan *deja_plan_new(void);
void deja_plan_free(deja_plan *p);
deja_plan *deja_plan_clone(const deja_plan *p);
size_t deja_plan_count(const deja_plan *p);
const deja_plan_entry *deja_plan_get(const deja_plan *p, size_t i);
/* Appends a copy of e (ids, parents and enabled flags are kept). */
void deja_plan_add(deja_plan *p, const deja_plan_entry *e);
/* Number of enabled entries. */
size_t deja_plan_enabled(const deja_plan *p);
/* One entry as text: "crash at_ns=N node=N a=N b=N [groups=0110] [id=N]". */
void deja_plan_format(const deja_plan_entry *e, char *buf, size_t len);
/* Parses that text and appends it (enabled); 0, or 2 with a message. */
int deja_plan_parse_add(deja_plan *p, const char *text, char *err, size_t errlen);
/* Writes a plan file: one "fault = ..." line per enabled entry, left-out
 * entries as '#' comments. */
void deja_plan_write(const deja_plan *p, FILE *out);
/* Reads a plan file (lines "fault = ...", '#' comments, blank lines);
 * 0, or 2 with a message naming file and line. */
int deja_plan_load(const char *path, deja_plan **out, char *err, size_t errlen);

/* Leaves out the entries whose ids spec lists ("3,5-9"); call before the
 * scenario's setup. 0, or 2 with a message naming spec. */
int deja_world_plan_mask(deja_world *w, const char *spec, char *err, size_t errlen);
/* Checks a mask spec without a world; 0, or 2 with a message. */
int deja_plan_mask_check(const char *spec, char *err, size_t errlen);
/* Runs a given plan instead of the drawn one: each fault the setup draws
 * is injected only when given holds an equal one (same kind, node, time and
 * parameters), in place, so the full plan replays the same trace hash;
 * deja_plan_inject_rest then injects the given entries nobody drew (after
 * a change of duration or nodes). given is copied; call before setup. */
void deja_world_plan_use(deja_world *w, const deja_plan *given);
/* Injects the given plan's entries the setup did not draw (at time 0 of
 * the run, entries for missing nodes dropped). The runner calls it after
 * setup; no-op without a given plan. */
void deja_plan_inject_rest(deja_world *w);
/* The run's plan so far: every injected entry, enabled or not. */
const deja_plan *deja_world_plan(const deja_world *w);

/* ---- floods (flood.c) ---------------------------------------------------- */

/* A flood: one node sends every other node messages at a fixed rate for a
 * while -- a peer gossiping faster than the others can handle (the node
 * that spawns a task per message and runs out of memory). The framework
 * times the flood and sends; the scenario says what a message is. Each
 * message reaches the target as if the flooder had called rt_send(to, ...):
 * in the target's inbox (rt_inbox(), one per node, no ports), an rt_msg
 * whose `from` is the flooder, with the network's latency, loss and faults;
 * a crashed flooder sends nothing. So the payload is whatever the node's own
 * peers send it, in its own wire format.
 *
 * A flood is a fault-plan entry of kind "flood": node = the flooder, at_ns,
 * a = length (ns), b = messages a second to each other node (1..1000000).
 * Every tick sends one message to each other node, then waits a gap
 * uniform in [gap/2, 3*gap/2] (gap = 1 s / b); gaps and payloads draw from
 * the world's "flood" stream, only once a flood is scheduled. A flood entry
 * in a world whose scenario set no payload is ignored. */

/* What a flood sends. make writes the message node `from` (the flooder)
 * sends node `to` into buf (at most cap bytes, cap as set here), drawing
 * whatever varies from rng (the "flood" stream: draw the same amount each
 * call to keep seeds stable), and returns its length, 1..cap; it is called
 * once per target per tick, targets in increasing order, so a payload may
 * depend on the receiver (a request for the primary, a gossip for a
 * replica, a message signed for `to`). start, when not NULL, is called
 * once, when the world's first flood is scheduled (during setup or the
 * given plan's injection): the place to start counting what the nodes make
 * of it. */
typedef struct deja_flood_payload {
    size_t (*make)(void *arg, deja_prng *rng, uint32_t from, uint32_t to, uint8_t *buf, size_t cap);
    size_t cap; /* 1 .. 16 MiB */
    void (*start)(void *arg, deja_world *w);
} deja_flood_payload;

/* Sets the world's flood payload (copied; arg is passed to make and start
 * and must outlive the world). Call from the scenario's setup, before any
 * flood is injected; once per world. */
void deja_flood_payload_set(deja_world *w, const deja_flood_payload *pl, void *arg);

/* The parameters of a flood, for a scenario's parameter table. */
#define DEJA_FLOOD_PARAMS                                                                                        \
    {"net.flood_rate", "0", "flood: messages per second net.flood_from sends each other node (0: no flood)"},    \
    {"net.flood_from", "0", "flood: the flooding node"},                                                         \
    {"net.flood_at_s", "10", "flood: when it starts (s)"},                                                       \
    {"net.flood_s", "30", "flood: how long it lasts (s)"}

/* Injects the flood net.flood_* ask for (one plan entry of kind "flood");
 * nothing, and no draw, when the rate or the length is 0 or the world has
 * fewer than two nodes. Call from setup, after adding the nodes and setting
 * the payload. 0, or 2 naming the bad parameter. */
int deja_flood_setup(deja_world *w, const deja_params *p, char *err, size_t errlen);

/* What the floods did so far. A world with a flood scheduled also adds
 * flood_sent (ticks: each one message to every other node) and peak_tasks
 * (live tasks of every node, the most seen at a tick) to its summary. */
typedef struct deja_flood_stat {
    uint32_t floods;  /* flood entries scheduled */
    uint64_t sent;    /* ticks */
    int peak_tasks;
} deja_flood_stat;
void deja_flood_stats(const deja_world *w, deja_flood_stat *out);

/* ---- facts and oracles ------------------------------------------------- */

typedef void (*deja_fact_fn)(void *arg, uint32_t node, int64_t now, const rt_fact *f);
/* Every rt_fact_report of every node calls fn (up to 8 listeners). Node
 * events of the simulator (DEJA_FACT_CRASH...) arrive the same way. */
void deja_world_on_fact(deja_world *w, deja_fact_fn fn, void *arg);

/* An oracle: an invariant of the user's own, judged from the facts nodes
 * report (rt_fact_report, with kinds of their own: rt_fact_kind_named) and
 * the simulator's node events, and at the end of the run. Any field may be
 * NULL. on_fact sees every fact and node event as it happens; finish adds
 * metrics to the summary and calls deja_summary_fail when the invariant
 * broke; free releases the state when the world is freed. */
typedef struct deja_oracle_ops {
    const char *name;
    void (*on_fact)(void *state, uint32_t node, int64_t now, const rt_fact *f);
    void (*finish)(void *state, deja_world *w, deja_summary *s);
    void (*free)(void *state);
} deja_oracle_ops;

/* Attaches an oracle to w (up to 8). The run calls every oracle's finish in
 * the order attached, before the scenario's own finish, then the generic
 * detectors every node gets (leak, oom, exit). */
void deja_world_add_oracle(deja_world *w, const deja_oracle_ops *ops, void *state);
/* Calls the finish of every attached oracle (the runner does, once). */
void deja_world_finish_oracles(deja_world *w, deja_summary *s);
/* Judging facts that happened elsewhere (a production cluster's facts
 * files, deja_judge_facts in deja.h) with the oracles of a world that
 * never runs: moves the world's clock forward to now (never back) and,
 * when f is not NULL, hands f to every attached oracle's on_fact as if
 * node had reported it at now. No other listener sees it, nothing is
 * traced. Call it with non-decreasing now, before deja_world_finish_oracles. */
void deja_world_feed_oracles(deja_world *w, uint32_t node, int64_t now, const rt_fact *f);

/* What the process model counted for one node over the run. */
typedef struct deja_node_stat {
    uint32_t crashes;      /* crashes and OOM kills */
    uint32_t ooms;         /* OOM kills */
    uint32_t exits;        /* times its program returned while the run went on */
    int64_t resident_peak; /* bytes */
} deja_node_stat;
void deja_node_stats(const deja_world *w, uint32_t node, deja_node_stat *out);

/* ---- tasks ------------------------------------------------------------- */

/* Prints every live task: node, name, spawn site, state, what it is blocked
 * on and its age. */
void deja_world_dump_tasks(const deja_world *w, FILE *out);
/* Number of live tasks of a node (or of every node when node is -1). */
int deja_world_live_tasks(const deja_world *w, int node);

/* ---- observing and stopping a run (trace.c) ------------------------------ */

/* One event of the trace, as an observer sees it (the text trace prints the
 * same: "#n t nNODE kind a b text"). The fields point into the simulator:
 * copy what you keep. What a and b mean, per kind:
 *   resume/wake/exit  a = task id (wake: b = the wake result)
 *   spawn             a = task id, b = source line, text = task name
 *   send              node = sender, a = destination, b = payload hash
 *   deliver           node = destination, a = sender, b = payload hash
 *   drop              node = destination, a = sender, b = length, text = why
 *   timer             a = monotonic time, b = 1 when fired, text = timer name
 *   clock             a = 1 step / 2 slew, b = delta (int64), text
 *   fact              a = fact kind, b = height, text = hash (hex)
 *   note              text says what: crash, restart, node event, partition...
 *   log, disk         text
 * A violation (deja_world_violation) is also passed on, with kind
 * "violation" and the verdict as text; it has no number of its own. */
typedef struct deja_trace_event {
    uint64_t n;            /* event number, from 1 (0 for a violation) */
    int64_t t;             /* virtual (true) time, ns */
    int32_t node;          /* -1: the world */
    uint64_t task;         /* id of the running task, 0 outside tasks */
    const char *task_name; /* its name, NULL outside tasks */
    const char *kind;
    uint64_t a, b;
    const char *text;      /* NULL when none */
} deja_trace_event;

typedef void (*deja_observer_fn)(void *arg, const deja_trace_event *e);
/* Calls fn for every event of the run from now on (up to 4 observers).
 * Costs nothing while no observer is attached. Observers must not change
 * the run (no rt_* calls, no scheduling). */
void deja_world_on_event(deja_world *w, deja_observer_fn fn, void *arg);

/* An oracle calls this at the instant it sees its invariant break (the
 * run's verdict comes later, from finish). The first call is remembered:
 * event number, time, node and task; --break-on-verdict stops there. */
void deja_world_violation(deja_world *w, const char *verdict);
/* The first violation: 1 with its details, 0 when there was none. */
int deja_world_first_violation(const deja_world *w, uint64_t *event, int64_t *t, const char **verdict);

/* Calls deja_break() when event number `event` is traced (0: never). */
void deja_world_break_at(deja_world *w, uint64_t event);
/* Calls deja_break() at the first deja_world_violation. */
void deja_world_break_on_violation(deja_world *w, bool on);
/* An empty function that is never inlined: `break deja_break` in gdb stops
 * the run at the instant asked for, with the task that was running on the
 * stack (inside the node's code when a task ran). */
void deja_break(void);

/* ---- running ----------------------------------------------------------- */

/* Runs until the duration or until no event remains. Returns 0. */
int deja_world_run(deja_world *w);
/* At the end of a run: cancels every node's root context and runs until its
 * tasks quit or grace_ns of virtual time passes. */
void deja_world_shutdown(deja_world *w, int64_t grace_ns);
uint64_t deja_world_digest(const deja_world *w);
uint64_t deja_world_events(const deja_world *w);
void deja_world_set_trace(deja_world *w, FILE *trace);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_WORLD_H */
