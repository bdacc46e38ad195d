/*
 * raft.c -- the Raft ordering engine (see raft.h): roles and terms, the
 * randomized election timer, PreVote, votes, AppendEntries and its replies,
 * the leader's block proposals, commit and apply, check-quorum and the
 * leader lease, and the facts the raft oracle judges.
 *
 * It runs on one task, the caller's: a single rt_select over {context done,
 * inbox} whose timeout is the earliest of the election deadline (followers
 * and candidates) or the next heartbeat, proposal and quorum check
 * (leaders), all on the monotonic clock. Every change of term, vote or log
 * is on disk (raft_log.h) before the message that depends on it leaves.
 * When the disk fails the engine gives up (raft_run returns the error): a
 * node that cannot persist must not answer, and a restart recovers what is
 * durable (fault.restart_on_exit restarts it in the simulator).
 */
#include "raft.h"

#include <assert.h>
#include <string.h>

#include "block.h"
#include "codec.h"
#include "raft_log.h"
#include "raft_msg.h"
#include "reason.h"
#include "timesync.h"
#include "param.h"
#include "snap.h"
#include "state.h"

#define RAFT_DEFAULT_ELECTION "150-300"
#define RAFT_DEFAULT_BLOCK_MS 100
#define RAFT_MIN_WAIT_NS 1000 /* floor of a wait, so rounding cannot spin */
#define RAFT_MAX_MS ((int64_t)3600 * 1000)
#define RAFT_NONE UINT32_MAX

enum { RAFT__FOLLOWER, RAFT__PRECANDIDATE, RAFT__CANDIDATE, RAFT__LEADER };

struct raft {
    raft_config cfg;
    raft_log log;
    int role;
    uint32_t leader;          /* the leader known in this term, or RAFT_NONE */
    bool followed;            /* a FOLLOW fact was reported in this term */
    uint64_t commit;          /* highest committed (and applied) index */
    int64_t election_deadline; /* monotonic; followers and candidates */
    int64_t leader_contact;   /* monotonic time of the last message from the leader */
    bool *voted;              /* per node: granted us its (pre)vote this round */
    uint32_t n_votes;         /* how many voted[] are set */
    /* leader state, valid while role == RAFT__LEADER; every per-node table
     * has cfg.n entries (raft_open sizes them from the node count) */
    uint64_t *next, *match;
    int64_t *last_ack;   /* monotonic: last reply in this term */
    int64_t *acked_echo; /* latest echo (our send time) acknowledged */
    int64_t *echo_sort;  /* scratch of raft__update_lease */
    int64_t next_hb, next_block, next_cq, lease_until;
    int stop_rc;
    uint64_t n_corrupt; /* messages refused for a bad seal */
    uint8_t buf[RAFT_MSG_MAX];
    raft_wire_entry in[RAFT_MSG_BATCH_MAX];
    /* state machine, snapshots, snapshot sync */
    state_t st;                  /* the state after applying `commit` */
    snap_image *snap;            /* the latest snapshot (index 0: none) */
    bool *acked;                 /* leader: the follower answered in this term (its match is known) */
    uint64_t *fallback_base;     /* leader: base at which FALLBACK was reported */
    snap_session *sess;          /* the snapshot sync running, or NULL */
    uint32_t sess_seq;
    int64_t sess_echo;
    rt_ctx *ctx;                 /* raft_run's, the parent of a sync's */
    raft_entry snap_pending;     /* the entry of the snapshot being synced */
    /* block time against the calibrated clock (chain.time_tolerance_ms with
     * ntp.servers > 0), as the AuRa engine does; NULL when off */
    timesync *ts;
    int64_t ts_tolerance_ns;
    /* counters, for the closing log line */
    uint64_t n_elections, n_leader, n_proposed, n_lease_reads;
};

/* ---- configuration ------------------------------------------------------ */

/* Parses a non-negative decimal integer of s[0..len). */
static bool raft__parse_num(const char *s, size_t len, int64_t *out) {
    if (len == 0 || len > 12) return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool raft_parse_range(const char *s, int64_t *lo, int64_t *hi) {
    if (s == NULL) return false;
    const char *dash = strchr(s, '-');
    if (dash == NULL) {
        if (!raft__parse_num(s, strlen(s), lo)) return false;
        *hi = *lo;
        return true;
    }
    if (!raft__parse_num(s, (size_t)(dash - s), lo) || !raft__parse_num(dash + 1, strlen(dash + 1), hi))
        return false;
    return *lo <= *hi;
}

/* The n-th (0-based) comma-separated number of s, or 0 when absent. */
static uint64_t raft__list_at(const char *s, uint32_t n) {
    for (uint32_t i = 0; i < n && s != NULL; i++) {
        s = strchr(s, ',');
        if (s != NULL) s++;
    }
    if (s == NULL) return 0;
    size_t len = strcspn(s, ",");
    int64_t v = 0;
    return raft__parse_num(s, len, &v) ? (uint64_t)v : 0;
}

void raft_config_load(raft_config *cfg) {
    assert(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->self = rt_node_id();
    cfg->n = rt_node_count();
    assert(cfg->n >= 1 && cfg->self < cfg->n);
    const char *er = rt_param_str("raft.election_ms", RAFT_DEFAULT_ELECTION);
    int64_t lo, hi;
    if (!raft_parse_range(er, &lo, &hi) || lo < 1 || hi > RAFT_MAX_MS) {
        rt_log(RT_LOG_WARN, "raft: raft.election_ms=%s is not MIN-MAX in ms, using %s", er,
               RAFT_DEFAULT_ELECTION);
        (void)raft_parse_range(RAFT_DEFAULT_ELECTION, &lo, &hi);
    }
    cfg->election_min_ns = lo * RT_MS;
    cfg->election_max_ns = hi * RT_MS;
    int64_t hb_ms = node_param("raft", "raft.heartbeat_ms", 0, 0, RAFT_MAX_MS);
    cfg->heartbeat_ns = hb_ms > 0 ? hb_ms * RT_MS : cfg->election_min_ns / 2;
    if (cfg->heartbeat_ns < 1) cfg->heartbeat_ns = 1;
    cfg->block_ns = node_param("raft", "raft.block_ms", RAFT_DEFAULT_BLOCK_MS, 0, RAFT_MAX_MS) * RT_MS;
    cfg->lease_ns = node_param("raft", "raft.lease_ms", 0, 0, RAFT_MAX_MS) * RT_MS;
    cfg->prevote = node_param("raft", "raft.prevote", 0, 0, 1) != 0;
    cfg->check_quorum = node_param("raft", "raft.check_quorum", 0, 0, 1) != 0;
    cfg->sync = node_param("raft", "raft.sync", 1, 0, 1) != 0;
    cfg->max_batch = (uint32_t)node_param("raft", "raft.max_batch", RAFT_MSG_BATCH_MAX, 0, RAFT_MSG_BATCH_MAX);
    const char *boot = rt_param_str("raft.boot_logs", "");
    cfg->boot = boot[0] != 0;
    if (cfg->boot) cfg->boot_len = raft__list_at(boot, cfg->self);
    cfg->snapshot_every = (uint64_t)node_param("raft", "raft.snapshot_every", 0, 0, 1 << 30);
    cfg->slot_max_lag = (uint64_t)node_param("raft", "raft.slot_max_lag", 64, 1, 1 << 30);
    cfg->slot_rule = node_param("raft", "raft.slot_rule", 1, 0, 1) != 0;
    cfg->snap_timeout_ns = node_param("raft", "snap.timeout_ms", 2000, 1, RAFT_MAX_MS) * RT_MS;
    cfg->snap_req_ns = node_param("raft", "snap.req_ms", 100, 1, RAFT_MAX_MS) * RT_MS;
    cfg->snap_leaky = node_param("raft", "snap.leaky", 0, 0, 1) != 0;
    const char *sr = rt_param_str("raft.stepdown_reset", "any");
    cfg->reset_on_stepdown = strcmp(sr, "leader") != 0;
    if (strcmp(sr, "leader") != 0 && strcmp(sr, "any") != 0)
        rt_log(RT_LOG_WARN, "raft: raft.stepdown_reset=%s is not 'any' or 'leader', using any", sr);
    cfg->process_ns = node_param("raft", "raft.process_us", 0, 0, RAFT_MAX_MS * 1000) * 1000;
    const char *tc = rt_param_str("raft.timer_clock", "mono");
    /* node.wall_durations=1: the node's durations and timeouts on the wall
     * clock (the field report's failure 2), the same as raft.timer_clock=wall */
    cfg->wall_timers = strcmp(tc, "wall") == 0 || node_param("raft", "node.wall_durations", 0, 0, 1) != 0;
    if (strcmp(tc, "wall") != 0 && strcmp(tc, "mono") != 0)
        rt_log(RT_LOG_WARN, "raft: raft.timer_clock=%s is not 'mono' or 'wall', using mono", tc);
    cfg->voters = (uint32_t)node_param("raft", "raft.voters", 0, 0, cfg->n);
}

/* ---- small helpers ------------------------------------------------------ */

/* The clock every timer of the engine runs on: the monotonic one, or, with
 * raft.timer_clock=wall, the wall clock (whose NTP steps then stretch or
 * shorten timeouts and heartbeat gaps, as in code that times with the
 * time of day). */
static int64_t raft__clock(const raft *r) { return r->cfg.wall_timers ? rt_wall_ns() : rt_mono_ns(); }

/* Nodes 0..voters-1 vote and may lead; the others are observers. */
static uint32_t raft__voters(const raft *r) { return r->cfg.voters > 0 ? r->cfg.voters : r->cfg.n; }

static uint32_t raft__majority(const raft *r) { return raft__voters(r) / 2 + 1; }

/* A new (pre)vote round: only our own vote so far. */
static void raft__votes_reset(raft *r) {
    memset(r->voted, 0, r->cfg.n * sizeof *r->voted);
    r->voted[r->cfg.self] = true;
    r->n_votes = 1;
}

/* Counts node `from`'s vote once. */
static void raft__vote_from(raft *r, uint32_t from) {
    assert(from < r->cfg.n);
    if (from >= raft__voters(r) || r->voted[from]) return; /* an observer's does not count */
    r->voted[from] = true;
    r->n_votes++;
}

static uint64_t raft__term(const raft *r) { return r->log.term; }

/* Reports one fact (height, slot, value; hash, root and the Merkle root
 * carried in `parent` may be NULL). */
static void raft__fact_with(rt_fact_kind kind, uint64_t height, uint64_t slot, const uint8_t *hash,
                            const uint8_t *root, const uint8_t *mroot, int64_t value) {
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = kind;
    f.height = height;
    f.slot = slot;
    if (hash != NULL) memcpy(f.hash, hash, BLOCK_HASH_LEN);
    if (root != NULL) memcpy(f.root, root, BLOCK_HASH_LEN);
    if (mroot != NULL) memcpy(f.parent, mroot, STATE_HASH_LEN);
    f.value = value;
    rt_fact_report(&f);
}

static void raft__fact(rt_fact_kind kind, uint64_t height, uint64_t slot, const uint8_t *hash,
                       const uint8_t *root, int64_t value) {
    raft__fact_with(kind, height, slot, hash, root, NULL, value);
}

/* Reports a snapshot fact with the Merkle root in `parent`. */
static void raft__fact_root(rt_fact_kind kind, uint64_t height, uint64_t slot, const uint8_t *hash,
                            const uint8_t *mroot, int64_t value) {
    raft__fact_with(kind, height, slot, hash, NULL, mroot, value);
}

/* A fresh randomized election deadline from now: MIN + uniform [0, MAX-MIN] ns. */
static void raft__reset_timer(raft *r, int64_t now) {
    int64_t span = r->cfg.election_max_ns - r->cfg.election_min_ns;
    int64_t t = r->cfg.election_min_ns;
    if (span > 0) t += (int64_t)(rt_rand_u64() % (uint64_t)(span + 1));
    r->election_deadline = now + t;
}

/* True when this node still hears from a leader (or is one): it then
 * refuses pre-votes, and (with stickiness) votes. */
static bool raft__leader_alive(const raft *r, int64_t now) {
    if (r->role == RAFT__LEADER) return true;
    return r->leader != RAFT_NONE && now - r->leader_contact < r->cfg.election_min_ns;
}

/* True when a candidate whose log ends at (index, term) is at least as up
 * to date as ours (Raft's election restriction). */
static bool raft__log_ok(const raft *r, uint64_t index, uint64_t term) {
    uint64_t last = raft_log_last(&r->log);
    uint64_t lt = raft_log_term_at(&r->log, last);
    return term > lt || (term == lt && index >= last);
}

/* Saves term and vote; on failure the engine stops. RT_OK or the error. */
static int raft__persist(raft *r, uint64_t term, uint32_t vote) {
    if (term == r->log.term && vote == r->log.vote) return RT_OK;
    int rc = raft_log_save_state(&r->log, term, vote);
    if (rc != RT_OK) {
        rt_log(RT_LOG_ERROR, "raft: cannot save term %llu and vote: %d", (unsigned long long)term, rc);
        r->stop_rc = rc;
    }
    return rc;
}

/* ---- sending ------------------------------------------------------------ */

static void raft__send(raft *r, uint32_t to, size_t len) {
    assert(len > 0 && to != r->cfg.self && to < r->cfg.n);
    (void)rt_send(to, r->buf, len);
}

/* Sends follower i an AppendEntries from its next index (entries up to
 * max_batch; none for a pure heartbeat when it is up to date). */
static void raft__send_append(raft *r, uint32_t i, int64_t now) {
    assert(r->role == RAFT__LEADER && i != r->cfg.self);
    uint64_t last = raft_log_last(&r->log);
    if (r->next[i] < 1) r->next[i] = 1;
    if (r->next[i] > last + 1) r->next[i] = last + 1;
    uint64_t prev = r->next[i] - 1;
    if (prev < raft_log_base(&r->log)) { /* compacted: fall back to the snapshot */
        assert(r->snap != NULL && r->snap->index >= raft_log_base(&r->log));
        if (r->fallback_base[i] == 0) { /* once per fallback, until the follower answers success */
            r->fallback_base[i] = raft_log_base(&r->log);
            raft__fact(RT_FACT_RAFT_SNAP_FALLBACK, i, last, NULL, NULL, (int64_t)raft_log_base(&r->log));
        }
        size_t len = raft_msg_snap_offer(r->buf, sizeof r->buf, raft__term(r), r->snap->index, r->snap->term, now,
                                         state_root(&r->snap->st), &r->snap->b);
        assert(len > 0);
        raft__send(r, i, len);
        return;
    }
    size_t len = raft_msg_append(r->buf, sizeof r->buf, raft__term(r), prev, raft_log_term_at(&r->log, prev),
                                 r->commit, now);
    assert(len > 0);
    for (uint64_t k = r->next[i]; k <= last && k - r->next[i] < r->cfg.max_batch; k++) {
        const raft_entry *e = raft_log_at(&r->log, k);
        size_t nl = raft_msg_append_add(r->buf, sizeof r->buf, len, e->term, &e->b);
        if (nl == 0) break;
        len = nl;
    }
    raft__send(r, i, len);
}

static void raft__broadcast_append(raft *r, int64_t now) {
    for (uint32_t i = 0; i < r->cfg.n; i++)
        if (i != r->cfg.self) raft__send_append(r, i, now);
}

/* ---- commit and apply --------------------------------------------------- */

/* Compacts the log up to the latest snapshot, but (slot rule) never past
 * commit - slot_max_lag nor, on a leader, past the match index of a
 * follower that answered in this term and lags by at most slot_max_lag. */
static void raft__maybe_compact(raft *r) {
    if (r->snap == NULL || r->snap->index == 0) return;
    uint64_t upto = r->snap->index;
    if (r->cfg.slot_rule) {
        uint64_t keep = r->commit > r->cfg.slot_max_lag ? r->commit - r->cfg.slot_max_lag : 0;
        if (keep < upto) upto = keep;
        if (r->role == RAFT__LEADER) {
            uint64_t last = raft_log_last(&r->log);
            for (uint32_t i = 0; i < r->cfg.n; i++)
                if (i != r->cfg.self && r->acked[i] && last - r->match[i] <= r->cfg.slot_max_lag &&
                    r->match[i] < upto)
                    upto = r->match[i];
        }
    }
    if (upto <= raft_log_base(&r->log) || upto > raft_log_last(&r->log)) return;
    /* rewrite the log once per snapshot interval, not per entry */
    if (upto != r->snap->index && upto - raft_log_base(&r->log) < r->cfg.snapshot_every) return;
    int rc = raft_log_compact(&r->log, upto);
    if (rc != RT_OK) rt_log(RT_LOG_WARN, "raft: cannot compact the log to %llu: %d", (unsigned long long)upto, rc);
}

/* Saves a snapshot of the state at `commit` (entry e). */
static void raft__take_snapshot(raft *r, const raft_entry *e) {
    if (r->snap == NULL) return;
    snap_image *img = r->snap;
    img->index = r->commit;
    img->term = e->term;
    img->b = e->b;
    memcpy(img->hash, e->hash, BLOCK_HASH_LEN);
    img->st = r->st;
    int rc = snap_save(img, r->cfg.sync);
    if (rc != RT_OK) {
        rt_log(RT_LOG_WARN, "raft: cannot save the snapshot at %llu: %d", (unsigned long long)r->commit, rc);
        img->index = 0; /* not durable: nothing may be compacted for it */
        (void)snap_load(img);
        return;
    }
    raft__maybe_compact(r);
}

/* Commits (and reports, in order) every entry up to index: applies each to
 * the state, reports it with the state's root, snapshots when due. */
static void raft__apply_to(raft *r, uint64_t index) {
    assert(index <= raft_log_last(&r->log));
    for (uint64_t i = r->commit + 1; i <= index; i++) {
        const raft_entry *e = raft_log_at(&r->log, i);
        state_apply(&r->st, e->b.payload, e->b.payload_len);
        rt_fact f;
        memset(&f, 0, sizeof f);
        f.kind = RT_FACT_RAFT_COMMITTED;
        f.height = i;
        f.slot = e->term;
        memcpy(f.hash, e->hash, BLOCK_HASH_LEN);
        memcpy(f.root, e->b.state_root, BLOCK_HASH_LEN);
        memcpy(f.parent, state_root(&r->st), STATE_HASH_LEN);
        rt_fact_report(&f);
        r->commit = i;
        if (r->cfg.snapshot_every > 0 && i % r->cfg.snapshot_every == 0) {
            raft_entry copy = *e; /* compaction moves the entries */
            raft__take_snapshot(r, &copy);
        }
    }
}

/* ---- snapshot sync (the receiving side) --------------------------------- */

/* Ends the running sync (joined; failed or aborted) and reports it. */
static void raft__snap_abort(raft *r) {
    if (r->sess == NULL) return;
    uint64_t index = snap_session_index(r->sess);
    uint64_t bal[STATE_ACCOUNTS];
    (void)snap_session_end(r->sess, RT_ECANCELED, bal);
    r->sess = NULL;
    raft__fact(RT_FACT_RAFT_SNAP_SYNC, index, 0, NULL, NULL, 2);
}

/* Leader: commits the highest index of its own term a majority stores. */
static void raft__leader_commit(raft *r) {
    assert(r->role == RAFT__LEADER);
    uint64_t last = raft_log_last(&r->log);
    r->match[r->cfg.self] = last;
    for (uint64_t n = last; n > r->commit; n--) {
        if (raft_log_term_at(&r->log, n) != raft__term(r)) break; /* terms only fall below */
        uint32_t have = 0;
        for (uint32_t i = 0; i < raft__voters(r); i++)
            if (r->match[i] >= n) have++;
        if (have >= raft__majority(r)) {
            raft__apply_to(r, n);
            break;
        }
    }
}

/* Leader: the lease runs from the send time of the latest heartbeat a
 * majority (ourselves included, at now) acknowledged. */
static void raft__update_lease(raft *r, int64_t now) {
    if (r->cfg.lease_ns == 0 || r->role != RAFT__LEADER) return;
    int64_t *e = r->echo_sort;
    uint32_t v = raft__voters(r);
    for (uint32_t i = 0; i < v; i++) e[i] = i == r->cfg.self ? now : r->acked_echo[i];
    /* the majority-th largest echo of the voters: sort descending (a group is small) */
    for (uint32_t i = 1; i < v; i++)
        for (uint32_t j = i; j > 0 && e[j] > e[j - 1]; j--) {
            int64_t t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
    int64_t start = e[raft__majority(r) - 1];
    if (start != INT64_MIN && start + r->cfg.lease_ns > r->lease_until) r->lease_until = start + r->cfg.lease_ns;
}

/* ---- roles -------------------------------------------------------------- */

/* Becomes a follower of term (>= ours; a higher one is saved, vote
 * cleared) with leader (or RAFT_NONE). A leader stepping down says why. */
static void raft__become_follower(raft *r, uint64_t term, uint32_t leader, int64_t now, int why) {
    assert(term >= raft__term(r));
    if (r->role == RAFT__LEADER) {
        rt_log(RT_LOG_INFO, "raft: leader of term %llu steps down (%d)", (unsigned long long)raft__term(r), why);
        raft__fact(RT_FACT_RAFT_STEPDOWN, raft__term(r), 0, NULL, NULL, why);
    }
    if (term > raft__term(r)) {
        raft__snap_abort(r);
        if (raft__persist(r, term, RAFT_VOTE_NONE) != RT_OK) return;
        r->followed = false;
        r->leader = RAFT_NONE;
    }
    bool was_follower = r->role == RAFT__FOLLOWER, was_leader = r->role == RAFT__LEADER;
    r->role = RAFT__FOLLOWER;
    if (leader != RAFT_NONE) r->leader = leader;
    if (was_leader || (!was_follower && r->cfg.reset_on_stepdown)) raft__reset_timer(r, now);
}

/* Appends a new block of this leader's term and syncs it. */
static void raft__propose(raft *r, int64_t now) {
    assert(r->role == RAFT__LEADER);
    uint64_t last = raft_log_last(&r->log);
    const raft_entry *prev = raft_log_at(&r->log, last);
    block b;
    memset(&b, 0, sizeof b);
    b.height = last + 1;
    b.slot = raft__term(r);
    memcpy(b.parent, prev->hash, BLOCK_HASH_LEN);
    b.proposer = r->cfg.self;
    b.timestamp = r->ts != NULL ? timesync_now(r->ts) : rt_wall_ns();
    uint64_t tx = rt_rand_u64(); /* the payload: one opaque 8-byte "transaction" */
    b.payload_len = 8;
    for (int i = 0; i < 8; i++) b.payload[i] = (uint8_t)(tx >> (8 * i));
    block_state_root(prev->b.state_root, b.height, b.payload, b.payload_len, b.state_root);
    int rc = raft_log_append(&r->log, raft__term(r), &b);
    if (rc == RT_OK) rc = raft_log_sync(&r->log);
    if (rc != RT_OK) {
        rt_log(RT_LOG_ERROR, "raft: cannot store block %llu: %d", (unsigned long long)b.height, rc);
        r->stop_rc = rc;
        return;
    }
    r->n_proposed++;
    raft__leader_commit(r); /* a single node commits alone */
    raft__broadcast_append(r, now);
}

static void raft__become_leader(raft *r, int64_t now) {
    assert(r->role != RAFT__LEADER);
    raft__snap_abort(r);
    r->role = RAFT__LEADER;
    r->leader = r->cfg.self;
    r->n_leader++;
    uint64_t last = raft_log_last(&r->log);
    for (uint32_t i = 0; i < r->cfg.n; i++) {
        r->next[i] = last + 1;
        r->match[i] = 0;
        r->acked[i] = false;
        r->fallback_base[i] = 0;
        r->last_ack[i] = now;
        r->acked_echo[i] = INT64_MIN;
    }
    r->match[r->cfg.self] = last;
    r->lease_until = 0;
    rt_log(RT_LOG_INFO, "raft: leader of term %llu, last index %llu", (unsigned long long)raft__term(r),
           (unsigned long long)last);
    raft__fact(RT_FACT_RAFT_LEADER, raft__term(r), 0, NULL, NULL, (int64_t)last);
    r->next_hb = now + r->cfg.heartbeat_ns;
    r->next_cq = now + r->cfg.election_min_ns;
    r->next_block = now + r->cfg.block_ns;
    if (r->cfg.block_ns > 0) {
        raft__propose(r, now); /* an entry of the new term, so older ones commit */
    } else {
        raft__leader_commit(r);
        raft__broadcast_append(r, now);
    }
}

/* Starts a real election: a new term, our own vote, saved, then asked for. */
static void raft__start_election(raft *r, int64_t now) {
    raft__snap_abort(r);
    if (raft__persist(r, raft__term(r) + 1, r->cfg.self) != RT_OK) return;
    r->role = RAFT__CANDIDATE;
    r->leader = RAFT_NONE;
    r->followed = false;
    raft__votes_reset(r);
    r->n_elections++;
    uint64_t last = raft_log_last(&r->log);
    raft__fact(RT_FACT_RAFT_ELECTION, raft__term(r), 0, NULL, NULL, (int64_t)last);
    raft__reset_timer(r, now);
    if (r->n_votes >= raft__majority(r)) {
        raft__become_leader(r, now);
        return;
    }
    size_t len = raft_msg_vote(r->buf, sizeof r->buf, raft__term(r), last, raft_log_term_at(&r->log, last), false);
    for (uint32_t i = 0; i < raft__voters(r); i++)
        if (i != r->cfg.self) raft__send(r, i, len);
}

/* The election timer fired: a PreVote round first when enabled. */
static void raft__on_timeout(raft *r, int64_t now) {
    assert(r->role != RAFT__LEADER);
    if (r->cfg.self >= raft__voters(r)) { /* an observer never stands */
        raft__reset_timer(r, now);
        return;
    }
    if (!r->cfg.prevote) {
        raft__start_election(r, now);
        return;
    }
    r->role = RAFT__PRECANDIDATE;
    raft__votes_reset(r);
    raft__reset_timer(r, now);
    if (r->n_votes >= raft__majority(r)) {
        raft__start_election(r, now);
        return;
    }
    uint64_t last = raft_log_last(&r->log);
    size_t len =
        raft_msg_vote(r->buf, sizeof r->buf, raft__term(r) + 1, last, raft_log_term_at(&r->log, last), true);
    for (uint32_t i = 0; i < raft__voters(r); i++)
        if (i != r->cfg.self) raft__send(r, i, len);
}

/* ---- receiving ---------------------------------------------------------- */

static void raft__on_vote(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    if (r->cfg.self >= raft__voters(r)) return; /* an observer has no vote (nobody asks it) */
    bool sticky = r->cfg.check_quorum || r->cfg.lease_ns > 0;
    if (m->prevote) {
        bool grant = m->term > raft__term(r) && raft__log_ok(r, m->last_index, m->last_term) &&
                     !raft__leader_alive(r, now);
        size_t len = raft_msg_vote_resp(r->buf, sizeof r->buf, grant ? m->term : raft__term(r), grant, true);
        raft__send(r, from, len);
        return;
    }
    bool grant = false;
    if (m->term > raft__term(r) && sticky && raft__leader_alive(r, now)) {
        /* a leader is alive: do not let a disruptive candidate depose it */
    } else if (m->term >= raft__term(r)) {
        if (m->term > raft__term(r)) raft__become_follower(r, m->term, RAFT_NONE, now, 1);
        if (r->stop_rc != RT_OK) return;
        uint32_t vote = r->log.vote;
        if ((vote == RAFT_VOTE_NONE || vote == from) && raft__log_ok(r, m->last_index, m->last_term)) {
            if (raft__persist(r, raft__term(r), from) != RT_OK) return;
            grant = true;
            raft__reset_timer(r, now);
        }
    }
    size_t len = raft_msg_vote_resp(r->buf, sizeof r->buf, raft__term(r), grant, false);
    raft__send(r, from, len);
}

static void raft__on_vote_resp(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    if (m->prevote) {
        if (r->role == RAFT__PRECANDIDATE && m->granted && m->term == raft__term(r) + 1) {
            raft__vote_from(r, from);
            if (r->n_votes >= raft__majority(r)) raft__start_election(r, now);
        } else if (!m->granted && m->term > raft__term(r)) {
            raft__become_follower(r, m->term, RAFT_NONE, now, 1);
        }
        return;
    }
    if (m->term > raft__term(r)) {
        raft__become_follower(r, m->term, RAFT_NONE, now, 1);
        return;
    }
    if (r->role != RAFT__CANDIDATE || m->term != raft__term(r) || !m->granted) return;
    raft__vote_from(r, from);
    if (r->n_votes >= raft__majority(r)) raft__become_leader(r, now);
}

/* True (and reported as REJECTED) when time sync is on and b's timestamp
 * lies further ahead of the calibrated clock than chain.time_tolerance_ms:
 * the follower holds it back until its own calibrated clock catches up. */
static bool raft__time_bad(const raft *r, const block *b) {
    if (r->ts == NULL || b->timestamp <= timesync_now(r->ts) + r->ts_tolerance_ns) return false;
    uint8_t h[BLOCK_HASH_LEN];
    block_hash(b, h);
    raft__fact(RT_FACT_REJECTED, b->height, b->slot, h, NULL, NODE_REJ_FUTURE);
    return true;
}

/* Stores the entries of an AppendEntries that our log matches at prev.
 * Returns the last index now known to match the leader's log, or -1 when
 * the message cannot be applied (stop_rc set on a disk failure). */
static int64_t raft__store_entries(raft *r, const raft_msg *m) {
    uint64_t idx = m->prev_index;
    bool changed = false;
    for (uint32_t k = 0; k < m->n; k++) {
        const raft_wire_entry *w = &m->entries[k];
        idx++;
        if (idx <= raft_log_last(&r->log)) {
            if (raft_log_term_at(&r->log, idx) == w->term) {
                uint8_t h[BLOCK_HASH_LEN];
                block_hash(&w->b, h);
                if (memcmp(h, raft_log_at(&r->log, idx)->hash, BLOCK_HASH_LEN) != 0) {
                    rt_log(RT_LOG_ERROR, "raft: two entries of term %llu at index %llu",
                           (unsigned long long)w->term, (unsigned long long)idx);
                    return -1;
                }
                continue; /* already have it */
            }
            if (idx <= r->commit) {
                rt_log(RT_LOG_ERROR, "raft: leader overwrites committed index %llu", (unsigned long long)idx);
                return -1;
            }
            int rc = raft_log_truncate(&r->log, idx);
            if (rc != RT_OK) {
                r->stop_rc = rc;
                return -1;
            }
            changed = true;
        }
        if (raft__time_bad(r, &w->b)) {
            idx--;
            break; /* keep what matched; the leader sends it again */
        }
        const raft_entry *prev = raft_log_at(&r->log, idx - 1);
        uint8_t root[BLOCK_HASH_LEN];
        block_state_root(prev->b.state_root, w->b.height, w->b.payload, w->b.payload_len, root);
        if (w->b.height != idx || memcmp(w->b.parent, prev->hash, BLOCK_HASH_LEN) != 0 ||
            memcmp(root, w->b.state_root, BLOCK_HASH_LEN) != 0 || w->term < prev->term ||
            w->term > raft__term(r)) {
            rt_log(RT_LOG_WARN, "raft: entry %llu does not link to our log", (unsigned long long)idx);
            idx--;
            break; /* keep what matched so far */
        }
        int rc = raft_log_append(&r->log, w->term, &w->b);
        if (rc != RT_OK) {
            r->stop_rc = rc;
            return -1;
        }
        changed = true;
    }
    if (changed) {
        int rc = raft_log_sync(&r->log);
        if (rc != RT_OK) {
            r->stop_rc = rc;
            return -1;
        }
    }
    return (int64_t)idx;
}

/* What a follower does first with any message from a leader (AppendEntries,
 * a snapshot offer): refuses a stale term (answering with a failed append),
 * else follows `from` in m's term and restarts its election timer. Returns
 * false when the message must go no further. */
static bool raft__heed_leader(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    if (m->term < raft__term(r)) {
        size_t len =
            raft_msg_append_resp(r->buf, sizeof r->buf, raft__term(r), false, raft_log_last(&r->log), m->echo);
        raft__send(r, from, len);
        return false;
    }
    if (m->term > raft__term(r) || r->role != RAFT__FOLLOWER || r->leader != from)
        raft__become_follower(r, m->term, from, now, 1);
    if (r->stop_rc != RT_OK) return false;
    assert(r->role == RAFT__FOLLOWER && r->leader == from);
    r->leader_contact = now;
    raft__reset_timer(r, now);
    if (!r->followed) {
        r->followed = true;
        raft__fact(RT_FACT_RAFT_FOLLOW, raft__term(r), 0, NULL, NULL, from);
    }
    return true;
}

static void raft__on_append(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    size_t len;
    if (!raft__heed_leader(r, m, from, now)) return;
    uint64_t last = raft_log_last(&r->log);
    bool ok = false;
    uint64_t index = last;
    if (m->prev_index > last) {
        index = last;
    } else if (m->prev_index < raft_log_base(&r->log)) {
        ok = true; /* our prefix up to the base is committed, hence the leader's */
        index = raft_log_base(&r->log);
    } else if (raft_log_term_at(&r->log, m->prev_index) != m->prev_term) {
        index = m->prev_index - 1; /* prev_index >= 1 here: index 0 (genesis) always matches */
    } else {
        int64_t matched = raft__store_entries(r, m);
        if (r->stop_rc != RT_OK) return;
        if (matched >= 0) {
            ok = true;
            index = (uint64_t)matched;
            uint64_t c = m->commit < index ? m->commit : index;
            if (c > r->commit) raft__apply_to(r, c);
        }
    }
    len = raft_msg_append_resp(r->buf, sizeof r->buf, raft__term(r), ok, index, m->echo);
    raft__send(r, from, len);
}

static void raft__on_append_resp(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    if (m->term > raft__term(r)) {
        raft__become_follower(r, m->term, RAFT_NONE, now, 1);
        return;
    }
    if (r->role != RAFT__LEADER || m->term != raft__term(r)) return;
    r->last_ack[from] = now;
    r->acked[from] = true;
    if (m->echo > r->acked_echo[from]) r->acked_echo[from] = m->echo;
    raft__update_lease(r, now);
    if (m->granted) {
        if (m->index > raft_log_last(&r->log)) return; /* from an older log of ours: impossible in a term */
        r->fallback_base[from] = 0;
        if (m->index > r->match[from]) r->match[from] = m->index;
        if (r->match[from] + 1 > r->next[from]) r->next[from] = r->match[from] + 1;
        raft__leader_commit(r);
        if (r->next[from] <= raft_log_last(&r->log) && r->cfg.max_batch > 0) raft__send_append(r, from, now);
    } else {
        uint64_t n = r->next[from] > 1 ? r->next[from] - 1 : 1;
        if (m->index + 1 < n) n = m->index + 1;
        if (n <= r->match[from]) n = r->match[from] + 1;
        if (n != r->next[from]) {
            r->next[from] = n;
            raft__send_append(r, from, now);
        }
    }
}

/* Follower: the leader offers its snapshot: answer at once when our log
 * already holds its entry, else sync it (one sync at a time). */
static void raft__on_snap_offer(raft *r, const raft_msg *m, uint32_t from, int64_t now) {
    size_t len;
    if (!raft__heed_leader(r, m, from, now)) return;
    const raft_wire_entry *e = &m->entries[0];
    uint64_t s = m->index;
    bool have = s <= r->commit;
    if (!have && s >= raft_log_base(&r->log) && s <= raft_log_last(&r->log) && raft_log_term_at(&r->log, s) == e->term) {
        uint8_t h[BLOCK_HASH_LEN];
        block_hash(&e->b, h);
        have = memcmp(h, raft_log_at(&r->log, s)->hash, BLOCK_HASH_LEN) == 0;
    }
    if (have) {
        len = raft_msg_append_resp(r->buf, sizeof r->buf, raft__term(r), true, s, m->echo);
        raft__send(r, from, len);
        return;
    }
    if (e->term > raft__term(r)) return; /* cannot be: an entry from the future */
    if (r->sess != NULL) {
        if (snap_session_peer(r->sess) == from && snap_session_term(r->sess) == raft__term(r)) return; /* going */
        raft__snap_abort(r);
    }
    snap_cfg sc = {r->cfg.snap_timeout_ns, r->cfg.snap_req_ns, r->cfg.snap_leaky};
    raft__fact(RT_FACT_RAFT_SNAP_SYNC, s, e->term, NULL, NULL, 0);
    r->sess = snap_session_start(r->ctx, &sc, from, raft__term(r), s, m->root, ++r->sess_seq);
    r->sess_echo = m->echo;
    if (r->sess == NULL) {
        raft__fact(RT_FACT_RAFT_SNAP_SYNC, s, 0, NULL, NULL, 2);
        return;
    }
    r->snap_pending.term = e->term; /* the entry the install will need */
    r->snap_pending.b = e->b;
}

/* The running sync ended with `result`: install the snapshot when it
 * verified and we still follow the leader that offered it. */
static void raft__on_snap_done(raft *r, int result, int64_t now) {
    (void)now;
    snap_session *ss = r->sess;
    r->sess = NULL;
    uint64_t s = snap_session_index(ss), term = snap_session_term(ss);
    uint32_t peer = snap_session_peer(ss);
    uint64_t bal[STATE_ACCOUNTS];
    bool ok = snap_session_end(ss, result, bal);
    raft__fact(RT_FACT_RAFT_SNAP_SYNC, s, 0, NULL, NULL, ok ? 1 : 2);
    if (!ok || term != raft__term(r) || r->role != RAFT__FOLLOWER || r->leader != peer || s <= r->commit) return;
    snap_image *img = r->snap;
    img->index = s;
    img->term = r->snap_pending.term;
    img->b = r->snap_pending.b;
    block_hash(&img->b, img->hash);
    state_load(&img->st, bal);
    int rc = snap_save(img, r->cfg.sync);
    if (rc == RT_OK) rc = raft_log_reset(&r->log, s, img->term, &img->b);
    if (rc != RT_OK) {
        rt_log(RT_LOG_ERROR, "raft: cannot install the snapshot at %llu: %d", (unsigned long long)s, rc);
        r->stop_rc = rc;
        return;
    }
    r->st = img->st;
    r->commit = s;
    rt_log(RT_LOG_INFO, "raft: installed the snapshot at %llu from %u", (unsigned long long)s, (unsigned)peer);
    raft__fact_root(RT_FACT_RAFT_SNAP_INSTALLED, s, img->term, img->hash, state_root(&img->st), 0);
    size_t len = raft_msg_append_resp(r->buf, sizeof r->buf, raft__term(r), true, s, r->sess_echo);
    raft__send(r, peer, len);
}

/* Any peer: serves a tree node of its latest snapshot when it is the one asked for. */
static void raft__on_snap_req(raft *r, const raft_msg *m, uint32_t from) {
    if (r->snap == NULL || r->snap->index == 0 || r->snap->index != m->index) return;
    uint8_t data[RAFT_MSG_CHUNK_MAX];
    uint32_t dl = snap_serve(&r->snap->st, m->node, data);
    if (dl == 0) return;
    size_t len = raft_msg_snap_chunk(r->buf, sizeof r->buf, m->term, m->index, m->session, m->node, data, dl);
    assert(len > 0);
    raft__send(r, from, len);
}

static void raft__on_snap_chunk(raft *r, const raft_msg *m, uint32_t from) {
    if (r->sess == NULL || snap_session_id(r->sess) != m->session || snap_session_index(r->sess) != m->index ||
        snap_session_peer(r->sess) != from)
        return;
    snap_session_deliver(r->sess, m->node, m->data, m->data_len);
}

/* Handles one message from the inbox (the caller frees it). */
static void raft__on_msg(raft *r, const rt_msg *in, int64_t now) {
    raft_msg m;
    int rc = in->from >= r->cfg.n || in->from == r->cfg.self ? RT_EINVAL : raft_msg_decode(in->data, in->len, &m, r->in);
    if (rc == RT_EIO) { /* damaged on the way: not the sender's word */
        rt_log(RT_LOG_DEBUG, "raft: damaged message (%u bytes) from %u", (unsigned)in->len, in->from);
        r->n_corrupt++;
        raft__fact(rt_fact_kind_named(NODE_FACT_MSG_CORRUPT), 0, 0, NULL, NULL, in->from);
        return;
    }
    if (rc != RT_OK) {
        rt_log(RT_LOG_DEBUG, "raft: undecodable message (%u bytes) from %u", (unsigned)in->len, in->from);
        return;
    }
    switch (m.tag) {
    case RAFT_MSG_VOTE:
        raft__on_vote(r, &m, in->from, now);
        break;
    case RAFT_MSG_VOTE_RESP:
        raft__on_vote_resp(r, &m, in->from, now);
        break;
    case RAFT_MSG_APPEND:
        raft__on_append(r, &m, in->from, now);
        break;
    case RAFT_MSG_APPEND_RESP:
        raft__on_append_resp(r, &m, in->from, now);
        break;
    case RAFT_MSG_SNAP_OFFER:
        raft__on_snap_offer(r, &m, in->from, now);
        break;
    case RAFT_MSG_SNAP_REQ:
        raft__on_snap_req(r, &m, in->from);
        break;
    case RAFT_MSG_SNAP_CHUNK:
        raft__on_snap_chunk(r, &m, in->from);
        break;
    default:
        assert(0 && "raft_msg_decode accepted an unknown tag");
    }
}

/* ---- the loop ----------------------------------------------------------- */

/* Leader work that is due at now: heartbeats (with a lease read),
 * proposals, the quorum check. */
static void raft__leader_tick(raft *r, int64_t now) {
    if (r->cfg.check_quorum && now >= r->next_cq) {
        uint32_t live = 1;
        for (uint32_t i = 0; i < raft__voters(r); i++)
            if (i != r->cfg.self && now - r->last_ack[i] < r->cfg.election_min_ns) live++;
        r->next_cq = now + r->cfg.election_min_ns;
        if (live < raft__majority(r)) {
            raft__become_follower(r, raft__term(r), RAFT_NONE, now, 2);
            r->leader = RAFT_NONE;
            return;
        }
    }
    if (r->cfg.block_ns > 0 && now >= r->next_block) {
        while (r->next_block <= now) r->next_block += r->cfg.block_ns;
        raft__propose(r, now);
        if (r->stop_rc != RT_OK) return;
    }
    if (now >= r->next_hb) {
        while (r->next_hb <= now) r->next_hb += r->cfg.heartbeat_ns;
        raft__maybe_compact(r); /* a slot a follower held may have moved */
        raft__broadcast_append(r, now);
        if (r->cfg.lease_ns > 0 && now < r->lease_until && r->commit > 0 &&
            raft_log_term_at(&r->log, r->commit) == raft__term(r)) {
            r->n_lease_reads++;
            raft__fact(RT_FACT_RAFT_LEASE_READ, raft__term(r), 0, NULL, NULL, r->lease_until - now);
        }
    }
}

/* How long to wait from now until the next thing due. */
static int64_t raft__wait_ns(const raft *r, int64_t now) {
    int64_t due;
    if (r->role == RAFT__LEADER) {
        due = r->next_hb;
        if (r->cfg.block_ns > 0 && r->next_block < due) due = r->next_block;
        if (r->cfg.check_quorum && r->next_cq < due) due = r->next_cq;
    } else {
        due = r->election_deadline;
    }
    int64_t wait = due - now;
    return wait < RAFT_MIN_WAIT_NS ? RAFT_MIN_WAIT_NS : wait;
}

int raft_run(raft *r, rt_ctx *ctx) {
    assert(r != NULL && ctx != NULL);
    rt_chan *inbox = rt_inbox();
    rt_chan *done = rt_ctx_done(ctx);
    r->ctx = ctx;
    int64_t tol_ms = rt_param_i64("chain.time_tolerance_ms", 0);
    if (tol_ms > 0 && rt_param_i64("ntp.servers", 0) > 0) {
        timesync_config tc;
        timesync_config_load(&tc);
        r->ts = timesync_start(ctx, &tc);
        r->ts_tolerance_ns = tol_ms * RT_MS;
    }
    while (rt_ctx_err(ctx) == RT_OK && r->stop_rc == RT_OK) {
        int64_t now = raft__clock(r);
        if (r->role == RAFT__LEADER)
            raft__leader_tick(r, now);
        else if (now >= r->election_deadline)
            raft__on_timeout(r, now);
        if (r->stop_rc != RT_OK) break;
        rt_msg *m = NULL;
        int sres = RT_ETIMEDOUT;
        rt_case cases[3] = {
            {.ch = done, .op = RT_RECV, .elem = NULL, .result = 0},
            {.ch = inbox, .op = RT_RECV, .elem = &m, .result = 0},
            {.ch = r->sess != NULL ? snap_session_done(r->sess) : NULL, .op = RT_RECV, .elem = &sres, .result = 0},
        };
        int fired = rt_select(cases, 3, raft__wait_ns(r, now));
        if (fired == 0) break;
        if (fired == 2) raft__on_snap_done(r, cases[2].result == RT_OK ? sres : RT_ECLOSED, raft__clock(r));
        if (fired == 1) {
            if (cases[1].result != RT_OK) break; /* inbox closed: the node is going away */
            assert(m != NULL);
            if (r->cfg.process_ns > 0) (void)rt_sleep_ns(r->cfg.process_ns); /* the message's processing */
            raft__on_msg(r, m, raft__clock(r));
            rt_msg_free(m);
        }
    }
    raft__snap_abort(r);
    timesync_stop(r->ts);
    r->ts = NULL;
    r->ctx = NULL;
    rt_msg *m = NULL;
    while (rt_chan_recv(inbox, &m, 0) == RT_OK) rt_msg_free(m);
    rt_log(RT_LOG_INFO,
           "raft: stop: term %llu, last index %llu, commit %llu, elections %llu, led %llu, proposed %llu, "
           "lease reads %llu",
           (unsigned long long)raft__term(r), (unsigned long long)raft_log_last(&r->log),
           (unsigned long long)r->commit, (unsigned long long)r->n_elections, (unsigned long long)r->n_leader,
           (unsigned long long)r->n_proposed, (unsigned long long)r->n_lease_reads);
    return r->stop_rc;
}

/* ---- lifetime ----------------------------------------------------------- */

/* On a fresh disk with raft.boot_logs set: term 1 led by node 0, and
 * boot_len identical entries of term 1 (the same on every node). */
static int raft__boot(raft *r) {
    int rc = raft_log_save_state(&r->log, 1, 0);
    for (uint64_t i = 1; i <= r->cfg.boot_len && rc == RT_OK; i++) {
        const raft_entry *prev = raft_log_at(&r->log, i - 1);
        block b;
        memset(&b, 0, sizeof b);
        b.height = i;
        b.slot = 1;
        memcpy(b.parent, prev->hash, BLOCK_HASH_LEN);
        b.proposer = 0;
        b.timestamp = (int64_t)i;
        b.payload_len = 8;
        for (int k = 0; k < 8; k++) b.payload[k] = (uint8_t)(i >> (8 * k));
        block_state_root(prev->b.state_root, b.height, b.payload, b.payload_len, b.state_root);
        rc = raft_log_append(&r->log, 1, &b);
    }
    if (rc == RT_OK) rc = raft_log_sync(&r->log);
    return rc;
}

/* Frees the per-node tables (any of them may be NULL). */
static void raft__tables_free(raft *r) {
    void *t[] = {r->voted, r->next, r->match, r->last_ack, r->acked_echo, r->echo_sort, r->acked, r->fallback_base};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] != NULL) rt_free(t[i]);
}

/* Allocates the per-node tables, cfg.n entries each, zeroed. */
static int raft__tables_new(raft *r) {
    size_t n = r->cfg.n;
    r->voted = rt_calloc(n, sizeof *r->voted);
    r->next = rt_calloc(n, sizeof *r->next);
    r->match = rt_calloc(n, sizeof *r->match);
    r->last_ack = rt_calloc(n, sizeof *r->last_ack);
    r->acked_echo = rt_calloc(n, sizeof *r->acked_echo);
    r->echo_sort = rt_calloc(n, sizeof *r->echo_sort);
    r->acked = rt_calloc(n, sizeof *r->acked);
    r->fallback_base = rt_calloc(n, sizeof *r->fallback_base);
    bool ok = r->voted && r->next && r->match && r->last_ack && r->acked_echo && r->echo_sort && r->acked &&
              r->fallback_base;
    return ok ? RT_OK : RT_ENOMEM;
}

int raft_open(const raft_config *cfg, raft **out) {
    assert(cfg != NULL && out != NULL);
    assert(cfg->n >= 1 && cfg->self < cfg->n && cfg->voters <= cfg->n);
    assert(cfg->election_min_ns > 0 && cfg->election_max_ns >= cfg->election_min_ns && cfg->heartbeat_ns > 0);
    *out = NULL;
    raft *r = rt_calloc(1, sizeof *r);
    if (r == NULL) return RT_ENOMEM;
    r->cfg = *cfg;
    r->snap = rt_calloc(1, sizeof *r->snap);
    if (r->snap == NULL || raft__tables_new(r) != RT_OK) {
        raft__tables_free(r);
        if (r->snap != NULL) rt_free(r->snap);
        rt_free(r);
        return RT_ENOMEM;
    }
    state_init(&r->st);
    bool have_snap = snap_load(r->snap) == RT_OK;
    raft_entry start;
    memset(&start, 0, sizeof start);
    if (have_snap) {
        start.term = r->snap->term;
        start.b = r->snap->b;
        memcpy(start.hash, r->snap->hash, BLOCK_HASH_LEN);
        start.off = -1;
    }
    int rc = raft_log_open(&r->log, cfg->sync, have_snap ? &start : NULL, have_snap ? r->snap->index : 0);
    if (rc != RT_OK) {
        raft__tables_free(r);
        rt_free(r->snap);
        rt_free(r);
        return rc;
    }
    if (have_snap) {
        r->st = r->snap->st;
        r->commit = r->snap->index;
    }
    bool booted = false;
    if (!r->log.found && cfg->boot) {
        rc = raft__boot(r);
        if (rc != RT_OK) {
            raft_close(r);
            return rc;
        }
        booted = true;
    }
    int64_t now = raft__clock(r);
    r->role = RAFT__FOLLOWER;
    r->leader = RAFT_NONE;
    r->leader_contact = now;
    raft__reset_timer(r, now);
    uint64_t last = raft_log_last(&r->log);
    if (r->log.found) {
        const raft_entry *e = raft_log_at(&r->log, last);
        rt_log(RT_LOG_INFO, "raft: recovered term %llu, last index %llu%s", (unsigned long long)r->log.term,
               (unsigned long long)last, r->log.dropped ? " (cut a torn tail)" : "");
        raft__fact(RT_FACT_RAFT_RECOVERED, last, e->term, e->hash, e->b.state_root, (int64_t)r->log.term);
    }
    if (have_snap)
        raft__fact_root(RT_FACT_RAFT_SNAP_INSTALLED, r->snap->index, r->snap->term, r->snap->hash,
                        state_root(&r->st), 1);
    if (booted) {
        if (cfg->self == 0) {
            raft__become_leader(r, now);
        } else {
            r->leader = 0; /* FOLLOW is reported at its first AppendEntries */
        }
    }
    *out = r;
    return RT_OK;
}

void raft_close(raft *r) {
    if (r == NULL) return;
    raft_log_close(&r->log);
    raft__tables_free(r);
    if (r->snap != NULL) rt_free(r->snap);
    rt_free(r);
}

void node_raft_main(rt_ctx *ctx) {
    raft_config cfg;
    raft_config_load(&cfg);
    raft *r = NULL;
    int rc = raft_open(&cfg, &r);
    if (rc != RT_OK) {
        rt_log(RT_LOG_ERROR, "raft: cannot open the node's raft state: %d", rc);
        return;
    }
    rc = raft_run(r, ctx);
    if (rc != RT_OK) rt_log(RT_LOG_ERROR, "raft: stopping: the disk failed (%d)", rc);
    raft_close(r);
}
