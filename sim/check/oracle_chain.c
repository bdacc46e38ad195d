/*
 * oracle_chain.c -- the chain oracle (see deja/oracle.h).
 *
 * Per height it keeps the distinct blocks produced (forks) and the block
 * confirmed first (the reference every later confirmation, by any node,
 * must match); per node the last confirmed height and when it moved (a
 * table grown to the highest node id seen: any number of nodes). A height
 * holds its first produced block itself; the rare further ones (forks) are
 * chained from it into one shared list, so the table of heights stays small.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "deja/oracle.h"

#define DEJA__MAX_VARIANTS 16

typedef struct deja__height {
    uint8_t produced[16]; /* the first block produced at this height */
    uint8_t confirmed[16];
    uint8_t root[16]; /* state root of the first confirmation */
    int n_produced;
    int has_confirmed;
    uint32_t more; /* 1 + index in the oracle's variants of the second one; 0: none */
} deja__height;

/* A further distinct block produced at one height. */
typedef struct deja__variant {
    uint8_t hash[16];
    uint32_t next; /* 1 + index of the next one at the same height; 0: none */
} deja__variant;

typedef struct deja__onode {
    uint64_t pre_crash_height; /* confirmed height when it last crashed */
    int damage_detected;       /* its store failed a check since it last crashed */
    int awaiting_recovery;
    uint64_t confirmed_height;
    int64_t last_confirm_t;
    uint8_t *confirmed; /* per height: 16-byte hash this node confirmed */
    uint64_t confirmed_cap;
} deja__onode;

struct deja_chain_oracle {
    deja__height *h;
    uint64_t cap;
    deja__variant *variants; /* further blocks of every height, chained per height */
    uint32_t n_variants, cap_variants;
    uint64_t blocks, forks, rejected, deferred, safety;
    uint64_t durability, integrity, corruption, recoveries, divergence, media_loss, integrity_media;
    deja_world *w;
    uint64_t first_lost_height, first_lost_had;
    int64_t max_reorg;
    int64_t window;
    uint64_t first_violation_height;
    int64_t first_violation_t;
    deja__onode *nodes; /* n_nodes of them */
    uint32_t n_nodes;
};

/* The state of node `node`, the table grown (zeroed) to hold it. */
static deja__onode *deja__node(deja_chain_oracle *o, uint32_t node) {
    if (node >= o->n_nodes) {
        uint32_t cap = o->n_nodes ? o->n_nodes : 16;
        while (cap <= node) cap *= 2;
        o->nodes = realloc(o->nodes, (size_t)cap * sizeof *o->nodes);
        assert(o->nodes);
        memset(o->nodes + o->n_nodes, 0, (size_t)(cap - o->n_nodes) * sizeof *o->nodes);
        o->n_nodes = cap;
    }
    return &o->nodes[node];
}

static deja__height *deja__at(deja_chain_oracle *o, uint64_t height) {
    if (height >= o->cap) {
        uint64_t cap = o->cap ? o->cap : 256;
        while (cap <= height) cap *= 2;
        o->h = realloc(o->h, cap * sizeof *o->h);
        assert(o->h);
        memset(o->h + o->cap, 0, (cap - o->cap) * sizeof *o->h);
        o->cap = cap;
    }
    return &o->h[height];
}

static void deja__violation(deja_chain_oracle *o, uint64_t height, int64_t now) {
    deja_world_violation(o->w, "safety");
    if (o->safety++ == 0) {
        o->first_violation_height = height;
        o->first_violation_t = now;
    }
}

static void deja__on_confirm(deja_chain_oracle *o, uint32_t node, int64_t now, const rt_fact *f) {
    deja__onode *n = deja__node(o, node);
    if (f->height >= n->confirmed_cap) {
        uint64_t cap = n->confirmed_cap ? n->confirmed_cap : 256;
        while (cap <= f->height) cap *= 2;
        n->confirmed = realloc(n->confirmed, cap * 16);
        assert(n->confirmed);
        memset(n->confirmed + n->confirmed_cap * 16, 0, (cap - n->confirmed_cap) * 16);
        n->confirmed_cap = cap;
    }
    static const uint8_t zero[16];
    uint8_t *mine = n->confirmed + f->height * 16;
    if (memcmp(mine, zero, 16) && memcmp(mine, f->hash, 16)) deja__violation(o, f->height, now); /* reverted */
    memcpy(mine, f->hash, 16);
    deja__height *h = deja__at(o, f->height);
    if (!h->has_confirmed) {
        memcpy(h->confirmed, f->hash, 16);
        memcpy(h->root, f->root, 16);
        h->has_confirmed = 1;
    } else if (memcmp(h->confirmed, f->hash, 16)) {
        deja__violation(o, f->height, now); /* two nodes disagree */
    } else if (memcmp(h->root, f->root, 16)) {
        o->divergence++; /* same block, different state: a corrupted store */
    }
    if (f->height > n->confirmed_height) {
        n->confirmed_height = f->height;
        n->last_confirm_t = now;
    }
}

/* A restarted node found height..hash durable: it must cover everything it
 * had confirmed before the crash, and agree with what it confirmed. */
static void deja__on_recovered(deja_chain_oracle *o, uint32_t node, const rt_fact *f) {
    deja__onode *n = deja__node(o, node);
    static const uint8_t zero[16];
    o->recoveries++;
    if (!n->awaiting_recovery) return; /* a first start */
    n->awaiting_recovery = 0;
    int lost = f->height < n->pre_crash_height;
    if (!lost && f->height > 0 && f->height < n->confirmed_cap) {
        const uint8_t *mine = n->confirmed + f->height * 16;
        lost = memcmp(mine, zero, 16) && memcmp(mine, f->hash, 16);
    }
    /* blocks lost to a damaged medium (a latent sector under the only copy),
     * which the node detected (its integrity check failed) and repairs from
     * its peers, are a media loss, not a broken durability promise */
    if (lost && n->damage_detected && deja_node_media_faults(o->w, node) > 0) {
        o->media_loss++;
        lost = 0;
    }
    if (lost && o->durability++ == 0) {
        o->first_lost_height = f->height;
        o->first_lost_had = n->pre_crash_height;
    }
    /* it confirms again from what it recovered */
    n->confirmed_height = f->height;
}

static void deja__on_fact(void *arg, uint32_t node, int64_t now, const rt_fact *f) {
    deja_chain_oracle *o = arg;
    assert(node < deja_world_nodes(o->w));
    switch ((int)f->kind) {
    case RT_FACT_PRODUCED: {
        deja__height *h = deja__at(o, f->height);
        /* past DEJA__MAX_VARIANTS distinct blocks at one height, later ones
         * are counted without deduplication (a pathological fork anyway) */
        if (h->n_produced == 0) {
            memcpy(h->produced, f->hash, 16);
        } else {
            if (!memcmp(h->produced, f->hash, 16)) return;
            uint32_t *link = &h->more;
            uint32_t last = 0; /* the variant whose next is link (1 + its index), 0: h->more */
            for (int i = 1; i < h->n_produced && i < DEJA__MAX_VARIANTS; i++) {
                assert(*link != 0);
                last = *link;
                deja__variant *v = &o->variants[*link - 1];
                if (!memcmp(v->hash, f->hash, 16)) return;
                link = &v->next;
            }
            if (h->n_produced == 1) o->forks++;
            if (h->n_produced < DEJA__MAX_VARIANTS) {
                assert(*link == 0);
                if (o->n_variants == o->cap_variants) {
                    o->cap_variants = o->cap_variants ? 2 * o->cap_variants : 64;
                    o->variants = realloc(o->variants, (size_t)o->cap_variants * sizeof *o->variants);
                    assert(o->variants);
                    if (last != 0) link = &o->variants[last - 1].next; /* the table moved */
                }
                deja__variant *v = &o->variants[o->n_variants++];
                memcpy(v->hash, f->hash, 16);
                v->next = 0;
                *link = o->n_variants; /* 1 + its index */
            }
        }
        h->n_produced++;
        o->blocks++;
        break;
    }
    case RT_FACT_HEAD:
        if (f->value > o->max_reorg) o->max_reorg = f->value;
        break;
    case RT_FACT_CONFIRMED:
        deja__on_confirm(o, node, now, f);
        break;
    case RT_FACT_REJECTED:
        o->rejected++;
        break;
    case RT_FACT_DEFERRED:
        o->deferred++;
        break;
    case RT_FACT_RECOVERED:
        deja__on_recovered(o, node, f);
        break;
    case RT_FACT_INTEGRITY:
        if (f->value == 0) break;
        deja__node(o, node)->damage_detected = 1;
        if (deja_node_media_faults(o->w, node) > 0)
            o->integrity_media++; /* the medium lost data: detected, as it must be */
        else
            o->integrity++;
        break;
    case RT_FACT_CORRUPTION:
        o->corruption++;
        break;
    case DEJA_FACT_CRASH:
    case DEJA_FACT_OOM: {
        deja__onode *n = deja__node(o, node);
        n->pre_crash_height = n->confirmed_height;
        n->damage_detected = 0;
        n->awaiting_recovery = 1;
        break;
    }
    default:
        break;
    }
}

static void deja__chain_finish(void *state, deja_world *w, deja_summary *s);
static void deja__chain_free(void *state);
static const deja_oracle_ops deja__chain_ops = {"chain", deja__on_fact, deja__chain_finish, deja__chain_free};

deja_chain_oracle *deja_chain_oracle_new(deja_world *w, int64_t liveness_window_ns) {
    deja_chain_oracle *o = calloc(1, sizeof *o);
    assert(o);
    o->window = liveness_window_ns;
    o->w = w;
    deja_world_add_oracle(w, &deja__chain_ops, o);
    return o;
}

static void deja__chain_finish(void *state, deja_world *w, deja_summary *s) {
    deja_chain_oracle *o = state;
    uint32_t n = deja_world_nodes(w);
    uint64_t min_conf = UINT64_MAX;
    int stalled = 0;
    int64_t end = deja_world_now(w);
    for (uint32_t i = 0; i < n; i++) {
        const deja__onode *x = deja__node(o, i); /* nodes that never reported are zero */
        if (x->confirmed_height < min_conf) min_conf = x->confirmed_height;
        if (x->confirmed_height == 0 || x->last_confirm_t < end - o->window) stalled++;
    }
    if (n == 0) min_conf = 0;
    deja_summary_set(s, "forks", "%llu", (unsigned long long)o->forks);
    deja_summary_set(s, "blocks", "%llu", (unsigned long long)o->blocks);
    deja_summary_set(s, "max_reorg", "%lld", (long long)o->max_reorg);
    deja_summary_set(s, "confirmed", "%llu", (unsigned long long)min_conf);
    deja_summary_set(s, "rejected", "%llu", (unsigned long long)o->rejected);
    deja_summary_set(s, "deferred", "%llu", (unsigned long long)o->deferred);
    deja_summary_set(s, "safety_violations", "%llu", (unsigned long long)o->safety);
    deja_summary_set(s, "stalled_nodes", "%d", stalled);
    deja_summary_set(s, "recoveries", "%llu", (unsigned long long)o->recoveries);
    deja_summary_set(s, "durability_violations", "%llu", (unsigned long long)o->durability);
    deja_summary_set(s, "integrity_failures", "%llu", (unsigned long long)o->integrity);
    deja_summary_set(s, "corruptions_detected", "%llu", (unsigned long long)o->corruption);
    deja_summary_set(s, "integrity_failures_media", "%llu", (unsigned long long)o->integrity_media);
    deja_summary_set(s, "media_losses", "%llu", (unsigned long long)o->media_loss);
    deja_summary_set(s, "state_divergence", "%llu", (unsigned long long)o->divergence);
    if (o->durability)
        deja_summary_set(s, "first_lost", "recovered height %llu after confirming %llu",
                         (unsigned long long)o->first_lost_height, (unsigned long long)o->first_lost_had);
    if (o->safety)
        deja_summary_set(s, "first_violation", "height %llu at %lld ms",
                         (unsigned long long)o->first_violation_height, (long long)(o->first_violation_t / RT_MS));
    /* the root cause first: lost confirmed blocks make later confirmations differ */
    if (o->durability) {
        deja_summary_fail(s, "durability");
    } else if (o->safety) {
        deja_summary_fail(s, "safety");
    } else if (o->divergence) {
        deja_summary_fail(s, "divergence");
    } else if (o->integrity) {
        deja_summary_fail(s, "integrity");
    } else if (stalled) {
        deja_summary_fail(s, "liveness");
    }
}

static void deja__chain_free(void *state) {
    deja_chain_oracle *o = state;
    if (!o) return;
    for (uint32_t i = 0; i < o->n_nodes; i++) free(o->nodes[i].confirmed);
    free(o->nodes);
    free(o->h);
    free(o->variants);
    free(o);
}
