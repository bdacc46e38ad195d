/*
 * oracle_raft.c -- the raft oracle (see deja/oracle.h): listens to the
 * RT_FACT_RAFT_* facts of every node and to crashes, restarts and pauses,
 * and judges election safety, commit safety, apply order, durability of
 * committed entries, lease reads and liveness; it also measures elections,
 * false elections and the downtime after each leader loss.
 *
 * Per term it keeps the leader (election safety); per index the first
 * committed entry hash (the reference every later commit must match); per
 * node whether it is up, its commit index and the highest it ever had.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "deja/oracle.h"

#define DEJA__NONE UINT32_MAX

typedef struct deja__rnode {
    bool down;
    int64_t paused_until;
    uint64_t commit;      /* its commit index now (volatile: 0 after a crash) */
    uint64_t commit_max;  /* the highest it ever committed */
    uint64_t pre_crash;   /* commit_max when it last crashed */
    bool awaiting_recovery;
    int64_t last_commit_t;
} deja__rnode;

typedef struct deja__rindex {
    uint8_t hash[16];
    uint8_t mroot[16]; /* the account state's Merkle root after it */
    bool set, mroot_set;
} deja__rindex;

struct deja_raft_oracle {
    int64_t window;
    uint32_t n;
    /* per node, n of each (the world's node count when the oracle was made) */
    deja__rnode *nodes;
    uint8_t *groups;
    bool *aware;         /* the node knows cur_leader */
    int *live_base;
    uint32_t *term_leader; /* per term, DEJA__NONE when none */
    uint64_t term_cap;
    deja__rindex *idx;
    uint64_t idx_cap;
    /* the newest leader and what the cluster knows of it */
    uint64_t cur_term;
    uint32_t cur_leader;
    uint32_t n_aware; /* voters with aware[] set */
    uint32_t voters;  /* nodes 0..voters-1 vote (the rest observe): majorities count them */
    bool established, ever_established;
    int64_t est_t;
    int64_t down_since;   /* a loss not yet followed by a new leader, or -1 */
    int64_t pending_elect; /* first election of a newer term while established, or -1 */
    int64_t first_leader_t;
    uint64_t last_elect_term;
    /* counts */
    uint64_t elections, false_elections, leaders, losses, completed;
    int64_t downtime_sum, downtime_max;
    uint64_t election_safety, safety, order, durability;
    uint64_t lease_reads, stale_reads;
    int64_t lease_overlap;
    uint64_t first_unsafe_index;
    /* state, snapshots, compaction */
    deja_world *w;
    uint64_t slot_max_lag;
    uint64_t state_root_bad, installs, fallbacks, slot_bad, syncs, syncs_ok, syncs_failed, sync_leaks;
};

/* Marks whether node i knows cur_leader, keeping the count. */
static void deja__set_aware(deja_raft_oracle *o, uint32_t i, bool on) {
    assert(i < o->n);
    if (o->aware[i] == on) return;
    o->aware[i] = on;
    if (i >= o->voters) return; /* an observer's knowledge elects nobody */
    if (on)
        o->n_aware++;
    else
        o->n_aware--;
}

/* Only `leader` knows the newest leader (a new term started). */
static void deja__reset_aware(deja_raft_oracle *o, uint32_t leader) {
    memset(o->aware, 0, o->n * sizeof *o->aware);
    o->n_aware = 0;
    deja__set_aware(o, leader, true);
}

/* The leader slot of term t (grown as needed). */
static uint32_t *deja__term_slot(deja_raft_oracle *o, uint64_t t) {
    if (t >= o->term_cap) {
        uint64_t cap = o->term_cap ? o->term_cap : 64;
        while (cap <= t) cap *= 2;
        o->term_leader = realloc(o->term_leader, cap * sizeof *o->term_leader);
        assert(o->term_leader);
        for (uint64_t i = o->term_cap; i < cap; i++) o->term_leader[i] = DEJA__NONE;
        o->term_cap = cap;
    }
    return &o->term_leader[t];
}

static deja__rindex *deja__index_slot(deja_raft_oracle *o, uint64_t i) {
    if (i >= o->idx_cap) {
        uint64_t cap = o->idx_cap ? o->idx_cap : 256;
        while (cap <= i) cap *= 2;
        o->idx = realloc(o->idx, cap * sizeof *o->idx);
        assert(o->idx);
        memset(o->idx + o->idx_cap, 0, (cap - o->idx_cap) * sizeof *o->idx);
        o->idx_cap = cap;
    }
    return &o->idx[i];
}

static bool deja__alive(const deja_raft_oracle *o, uint32_t node, int64_t now) {
    return !o->nodes[node].down && now >= o->nodes[node].paused_until;
}

/* The newest leader just became known to a majority: a loss, if one was
 * open, ends here. */
static void deja__check_established(deja_raft_oracle *o, int64_t now) {
    if (o->established || o->cur_leader == DEJA__NONE || o->nodes[o->cur_leader].down) return;
    if (o->n_aware < o->voters / 2 + 1) return;
    o->established = true;
    o->est_t = now;
    if (o->first_leader_t < 0) o->first_leader_t = now;
    int64_t start = o->down_since >= 0 ? o->down_since : o->ever_established ? o->pending_elect : -1;
    if (start >= 0) {
        int64_t d = now - start;
        assert(d >= 0);
        o->downtime_sum += d;
        if (d > o->downtime_max) o->downtime_max = d;
        o->completed++;
        if (o->down_since < 0) o->losses++; /* replaced without a crash or step-down we saw */
    }
    o->down_since = -1;
    o->pending_elect = -1;
    o->ever_established = true;
}

/* The newest leader is gone (crashed or stepped down). */
static void deja__leader_lost(deja_raft_oracle *o, int64_t now) {
    if (o->cur_leader == DEJA__NONE) return;
    bool was = o->established || o->ever_established;
    o->cur_leader = DEJA__NONE;
    o->established = false;
    if (was && o->down_since < 0) {
        o->down_since = o->pending_elect >= 0 ? o->pending_elect : now;
        o->losses++;
    }
}

/* Checks the Merkle root a node reports at index i against the first one. */
static void deja__check_mroot(deja_raft_oracle *o, uint64_t i, const uint8_t *mroot) {
    deja__rindex *x = deja__index_slot(o, i);
    if (!x->mroot_set) {
        memcpy(x->mroot, mroot, 16);
        x->mroot_set = true;
    } else if (memcmp(x->mroot, mroot, 16) != 0) {
        o->state_root_bad++;
        deja_world_violation(o->w, "state_root");
    }
}

static void deja__on_commit(deja_raft_oracle *o, uint32_t node, int64_t now, const rt_fact *f) {
    deja__rnode *n = &o->nodes[node];
    deja__check_mroot(o, f->height, f->parent);
    if (f->height != n->commit + 1) {
        o->order++;
        deja_world_violation(o->w, "apply_order");
    }
    deja__rindex *x = deja__index_slot(o, f->height);
    if (!x->set) {
        memcpy(x->hash, f->hash, 16);
        x->set = true;
    } else if (memcmp(x->hash, f->hash, 16) != 0) {
        if (o->safety++ == 0) o->first_unsafe_index = f->height;
        deja_world_violation(o->w, "safety");
    }
    n->commit = f->height;
    if (f->height > n->commit_max) n->commit_max = f->height;
    n->last_commit_t = now;
}

static void deja__raft_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    deja_raft_oracle *o = arg;
    assert(node < o->n);
    deja__rnode *n = &o->nodes[node];
    switch ((int)f->kind) {
    case RT_FACT_RAFT_ELECTION:
        if (f->height > o->last_elect_term) {
            o->last_elect_term = f->height;
            o->elections++;
            if (f->height > o->cur_term && o->established && o->cur_leader != DEJA__NONE &&
                deja__alive(o, o->cur_leader, now) && o->groups[node] == o->groups[o->cur_leader])
                o->false_elections++;
        }
        if (f->height > o->cur_term && o->established && o->pending_elect < 0) o->pending_elect = now;
        break;
    case RT_FACT_RAFT_LEADER: {
        o->leaders++;
        uint32_t *slot = deja__term_slot(o, f->height);
        if (*slot != DEJA__NONE && *slot != node) {
            o->election_safety++;
            deja_world_violation(o->w, "election_safety");
        }
        *slot = node;
        if (f->height > o->cur_term || o->cur_leader == DEJA__NONE) {
            if (f->height >= o->cur_term) {
                if (o->cur_leader != DEJA__NONE && o->established && o->down_since < 0 && o->pending_elect < 0)
                    o->pending_elect = now; /* replaced without a loss we saw */
                o->cur_term = f->height;
                o->cur_leader = node;
                deja__reset_aware(o, node);
                o->established = false;
                deja__check_established(o, now);
            }
        }
        break;
    }
    case RT_FACT_RAFT_FOLLOW:
        if (f->height == o->cur_term && (uint32_t)f->value == o->cur_leader) {
            deja__set_aware(o, node, true);
            deja__check_established(o, now);
        }
        break;
    case RT_FACT_RAFT_STEPDOWN:
        if (f->height == o->cur_term && node == o->cur_leader) deja__leader_lost(o, now);
        break;
    case RT_FACT_RAFT_COMMITTED:
        deja__on_commit(o, node, now, f);
        break;
    case RT_FACT_RAFT_RECOVERED:
        if (n->awaiting_recovery && f->height < n->pre_crash) {
            o->durability++;
            deja_world_violation(o->w, "durability");
        }
        n->awaiting_recovery = false;
        break;
    case RT_FACT_RAFT_LEASE_READ:
        o->lease_reads++;
        if (f->height < o->cur_term && o->established) {
            o->stale_reads++;
            if (now - o->est_t > o->lease_overlap) o->lease_overlap = now - o->est_t;
        }
        break;
    case RT_FACT_RAFT_SNAP_INSTALLED:
        o->installs++;
        deja__check_mroot(o, f->height, f->parent);
        if (f->height > n->commit) n->commit = f->height;
        if (f->height > n->commit_max) n->commit_max = f->height;
        n->last_commit_t = now;
        break;
    case RT_FACT_RAFT_SNAP_FALLBACK:
        o->fallbacks++;
        /* value: the leader's log base. The follower, whose commit index was within
         * slot_max_lag of the leader's last index, needs entries below that base:
         * compaction deleted what it still needed */
        if (f->height < o->n && o->nodes[f->height].commit_max < (uint64_t)f->value &&
            o->nodes[f->height].commit_max + o->slot_max_lag >= f->slot) {
            o->slot_bad++;
            deja_world_violation(o->w, "slot");
        }
        break;
    case RT_FACT_RAFT_SNAP_SYNC:
        if (f->value == 0) {
            o->syncs++;
            o->live_base[node] = deja_world_live_tasks(o->w, (int)node);
        } else {
            if (f->value == 1) o->syncs_ok++;
            else o->syncs_failed++;
            if (deja_world_live_tasks(o->w, (int)node) > o->live_base[node]) o->sync_leaks++;
        }
        break;
    case DEJA_FACT_CRASH:
    case DEJA_FACT_OOM:
        n->down = true;
        n->pre_crash = n->commit_max;
        n->awaiting_recovery = true;
        n->commit = 0;
        if (node == o->cur_leader) deja__leader_lost(o, now);
        deja__set_aware(o, node, false);
        break;
    case DEJA_FACT_RESTART:
        n->down = false;
        break;
    case DEJA_FACT_PAUSE:
        n->paused_until = now + f->value;
        break;
    default:
        break;
    }
}

static void deja__raft_finish(void *state, deja_world *w, deja_summary *s);
static void deja__raft_free(void *state);
static const deja_oracle_ops deja__raft_ops = {"raft", deja__raft_fact, deja__raft_finish, deja__raft_free};

deja_raft_oracle *deja_raft_oracle_new(deja_world *w, int64_t liveness_window_ns) {
    deja_raft_oracle *o = calloc(1, sizeof *o);
    assert(o);
    o->window = liveness_window_ns;
    o->n = deja_world_nodes(w);
    o->voters = o->n;
    o->nodes = calloc(o->n ? o->n : 1, sizeof *o->nodes);
    o->groups = calloc(o->n ? o->n : 1, sizeof *o->groups);
    o->aware = calloc(o->n ? o->n : 1, sizeof *o->aware);
    o->live_base = calloc(o->n ? o->n : 1, sizeof *o->live_base);
    assert(o->nodes && o->groups && o->aware && o->live_base);
    o->cur_leader = DEJA__NONE;
    o->down_since = -1;
    o->pending_elect = -1;
    o->first_leader_t = -1;
    o->w = w;
    o->slot_max_lag = 64;
    deja_world_add_oracle(w, &deja__raft_ops, o);
    return o;
}

void deja_raft_oracle_set_slot_max_lag(deja_raft_oracle *o, uint64_t lag) { o->slot_max_lag = lag; }

void deja_raft_oracle_set_voters(deja_raft_oracle *o, uint32_t voters) {
    assert(voters >= 1 && voters <= o->n);
    o->voters = voters;
}

void deja_raft_oracle_set_groups(deja_raft_oracle *o, const uint8_t *groups) {
    memcpy(o->groups, groups, o->n);
}

/* Sets key to ns as milliseconds with three decimals. */
static void deja__set_ms(deja_summary *s, const char *key, int64_t ns) {
    if (ns < 0) {
        deja_summary_set(s, key, "-%lld.%03lld", (long long)(-ns / RT_MS), (long long)(-ns % RT_MS / 1000));
        return;
    }
    deja_summary_set(s, key, "%lld.%03lld", (long long)(ns / RT_MS), (long long)(ns % RT_MS / 1000));
}

static void deja__raft_finish(void *state, deja_world *w, deja_summary *s) {
    deja_raft_oracle *o = state;
    int64_t end = deja_world_now(w);
    if (o->n == 0) o->n = deja_world_nodes(w);
    uint64_t min_commit = UINT64_MAX;
    int stalled = 0;
    for (uint32_t i = 0; i < o->n; i++) {
        const deja__rnode *n = &o->nodes[i];
        if (n->commit < min_commit) min_commit = n->commit;
        if (o->window > 0 && (n->commit == 0 || n->last_commit_t < end - o->window)) stalled++;
    }
    if (o->n == 0) min_commit = 0;
    bool leaderless = !o->established;
    int64_t open = o->down_since >= 0 ? end - o->down_since : 0;
    deja_summary_set(s, "elections", "%llu", (unsigned long long)o->elections);
    deja_summary_set(s, "false_elections", "%llu", (unsigned long long)o->false_elections);
    deja_summary_set(s, "leaders", "%llu", (unsigned long long)o->leaders);
    deja_summary_set(s, "leader_losses", "%llu", (unsigned long long)o->losses);
    if (o->down_since < 0) deja__set_ms(s, "downtime_ms", o->downtime_sum);
    deja__set_ms(s, "max_downtime_ms", o->downtime_max > open ? o->downtime_max : open);
    deja__set_ms(s, "leaderless_end_ms", open);
    if (o->first_leader_t >= 0) deja__set_ms(s, "first_leader_ms", o->first_leader_t);
    deja_summary_set(s, "commit_index", "%llu", (unsigned long long)min_commit);
    deja_summary_set(s, "last_term", "%llu", (unsigned long long)o->cur_term);
    deja_summary_set(s, "election_safety_violations", "%llu", (unsigned long long)o->election_safety);
    deja_summary_set(s, "safety_violations", "%llu", (unsigned long long)o->safety);
    deja_summary_set(s, "apply_order_violations", "%llu", (unsigned long long)o->order);
    deja_summary_set(s, "durability_violations", "%llu", (unsigned long long)o->durability);
    deja_summary_set(s, "stalled_nodes", "%d", stalled);
    deja_summary_set(s, "lease_reads", "%llu", (unsigned long long)o->lease_reads);
    deja_summary_set(s, "stale_reads", "%llu", (unsigned long long)o->stale_reads);
    deja__set_ms(s, "lease_overlap_ms", o->lease_overlap);
    deja_summary_set(s, "state_root_violations", "%llu", (unsigned long long)o->state_root_bad);
    if (o->syncs || o->fallbacks || o->installs) {
        deja_summary_set(s, "snap_installs", "%llu", (unsigned long long)o->installs);
        deja_summary_set(s, "snap_fallbacks", "%llu", (unsigned long long)o->fallbacks);
        deja_summary_set(s, "slot_violations", "%llu", (unsigned long long)o->slot_bad);
        deja_summary_set(s, "snap_syncs", "%llu", (unsigned long long)o->syncs);
        deja_summary_set(s, "snap_syncs_ok", "%llu", (unsigned long long)o->syncs_ok);
        deja_summary_set(s, "snap_syncs_failed", "%llu", (unsigned long long)o->syncs_failed);
        deja_summary_set(s, "snap_sync_leaks", "%llu", (unsigned long long)o->sync_leaks);
    }
    if (o->safety)
        deja_summary_set(s, "first_violation", "index %llu", (unsigned long long)o->first_unsafe_index);
    if (o->election_safety)
        deja_summary_fail(s, "election_safety");
    else if (o->safety)
        deja_summary_fail(s, "safety");
    else if (o->state_root_bad)
        deja_summary_fail(s, "state_root");
    else if (o->order)
        deja_summary_fail(s, "apply_order");
    else if (o->durability)
        deja_summary_fail(s, "durability");
    else if (o->stale_reads)
        deja_summary_fail(s, "lease");
    else if (o->slot_bad)
        deja_summary_fail(s, "slot");
    else if (o->sync_leaks)
        deja_summary_fail(s, "leak");
    else if (leaderless || stalled)
        deja_summary_fail(s, "liveness");
}

static void deja__raft_free(void *state) {
    deja_raft_oracle *o = state;
    if (!o) return;
    free(o->term_leader);
    free(o->idx);
    free(o->nodes);
    free(o->groups);
    free(o->aware);
    free(o->live_base);
    free(o);
}
