/*
 * net.c -- the simulated network: message send, delivery into each node's
 * inbox channel, and the faults a link can suffer: loss, partitions into
 * groups, one-way and bridge partitions, clogs, duplication, reordering and
 * corruption (latency and bandwidth: net_latency.c; parameters and the
 * network swarm: net_params.c).
 *
 * A message in flight is an event at its delivery time; the latency and the
 * loss draws come from the world's "net" stream, each newer fault from a
 * stream of its own, so the network's choices never shift another model's
 * numbers and a world with those faults off runs draw for draw as before. A
 * partition puts each node in a group; messages cross only within a group,
 * and only along links the cut layer leaves open, checked both when sent and
 * when delivered (a message in flight when a partition starts is lost). A
 * clogged link holds what is sent on it until the clog heals.
 *
 * Every scheduled fault goes through one function per kind
 * (deja_net_partition, deja_net_oneway, deja_net_bridge, deja_net_clog), so
 * a run's faults can be listed and replayed one by one.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

typedef struct deja__flight {
    uint32_t from, to, len;
    uint64_t digest; /* XXH3-64 of data (what its send and delivery trace) */
    uint8_t data[];
} deja__flight;

deja__net *deja__net_get(deja_world *w) {
    if (!w->net) {
        w->net = calloc(1, sizeof *w->net);
        assert(w->net);
        w->net->tail_alpha9 = 2000000000;
        w->net->tail_max_ns = 2 * RT_SEC;
    }
    return w->net;
}

void deja__net_free(deja__net *n) {
    if (!n) return;
    free(n->busy_until);
    free(n->cut);
    free(n->clogs);
    free(n);
}

/* Whether the cut layer lets a message go from -> to now. */
static bool deja__cut_open(const deja_world *w, uint32_t from, uint32_t to) {
    const deja__net *n = w->net;
    if (!n || n->cut_mode == DEJA__CUT_NONE || from == to) return true;
    assert(from < n->cut_n && to < n->cut_n);
    uint8_t a = n->cut[from], b = n->cut[to];
    if (n->cut_mode == DEJA__CUT_ONEWAY) return !(a == 1 && b == 0);
    return a == b || a == 2 || b == 2; /* bridge */
}

/* Why a message cannot go from -> to now, or NULL when it can. */
static const char *deja__link_closed(deja_world *w, uint32_t from, uint32_t to) {
    if (w->nodes[from]->group != w->nodes[to]->group) return "partition";
    if (!deja__cut_open(w, from, to)) {
        w->net->cut_drops++;
        return "cut";
    }
    return NULL;
}

/* The end of the clog on from -> to in force now, or -1 (expired ones go). */
static int64_t deja__clogged_until(deja_world *w, uint32_t from, uint32_t to) {
    deja__net *n = w->net;
    int64_t until = -1;
    for (int i = 0; n && i < n->n_clogs;) {
        deja__clog *c = &n->clogs[i];
        if (c->until <= w->now) {
            n->clogs[i] = n->clogs[--n->n_clogs];
            continue;
        }
        bool hit = c->peer < 0 ? (c->node == (int32_t)from || c->node == (int32_t)to)
                               : (c->node == (int32_t)from && c->peer == (int32_t)to);
        if (hit && c->until > until) until = c->until;
        i++;
    }
    return until;
}

static void deja__deliver(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__flight *f = arg;
    if (drop) {
        deja__cache_free(f, sizeof *f + f->len);
        return;
    }
    deja__node *dst = w->nodes[f->to];
    if (dst->down) {
        deja__trace(w, DEJA__TK_DROP, (int)f->to, f->from, f->len, "node down");
        deja__cache_free(f, sizeof *f + f->len);
        return;
    }
    const char *why = deja__link_closed(w, f->from, f->to);
    if (why) {
        deja__trace(w, DEJA__TK_DROP, (int)f->to, f->from, f->len, why);
        deja__cache_free(f, sizeof *f + f->len);
        return;
    }
    rt_msg *m = deja__node_alloc(dst, sizeof *m + f->len);
    assert(m);
    m->from = f->from;
    m->len = f->len;
    memcpy(m->data, f->data, f->len);
    if (deja__chan_offer(dst->inbox, &m) != RT_OK) {
        deja__trace(w, DEJA__TK_DROP, (int)f->to, f->from, f->len, "inbox full");
        deja__node_free(dst, m);
    } else {
        deja__trace(w, DEJA__TK_DELIVER, (int)f->to, f->from, f->digest, NULL);
    }
    deja__cache_free(f, sizeof *f + f->len);
}

static deja__flight *deja__flight_new(uint32_t from, uint32_t to, const void *data, size_t len,
                                      uint64_t digest) {
    deja__flight *f = deja__cache_alloc(sizeof *f + len);
    assert(f);
    f->from = from;
    f->to = to;
    f->len = (uint32_t)len;
    f->digest = digest;
    memcpy(f->data, data, len);
    return f;
}

/* Flips 1 to 3 random bits of the message (len > 0). */
static void deja__corrupt(deja_world *w, deja__flight *f) {
    deja__net *n = w->net;
    int flips = 1 + (int)deja_prng_below(n->corrupt_rng, 3);
    for (int i = 0; i < flips; i++) {
        uint64_t bit = deja_prng_below(n->corrupt_rng, (uint64_t)f->len * 8);
        f->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    f->digest = XXH3_64bits(f->data, f->len);
    n->corrupts++;
    deja__trace(w, DEJA__TK_NOTE, (int)f->to, f->from, (uint64_t)flips, "corrupt");
}

/* The per-message faults of a message about to leave from -> to with
 * latency lat: reordering (held back), a clog on the link (held until it
 * heals), corruption; then it is scheduled, and maybe duplicated. */
static void deja__launch(deja_world *w, deja__flight *f, int64_t lat) {
    deja__net *n = w->net;
    if (n && f->from != f->to) {
        if (n->reorder_ppm && deja_prng_chance_ppm(n->reorder_rng, n->reorder_ppm)) {
            int64_t extra = deja_prng_range(n->reorder_rng, n->reorder_ns / 2, n->reorder_ns);
            lat += extra;
            n->reorders++;
            deja__trace(w, DEJA__TK_NOTE, (int)f->to, f->from, (uint64_t)extra, "reorder");
        }
        int64_t until = deja__clogged_until(w, f->from, f->to);
        if (until >= 0) { /* held until the clog heals, then on its way */
            lat += until - w->now;
            n->clogged++;
            deja__trace(w, DEJA__TK_NOTE, (int)f->to, f->from, (uint64_t)lat, "clogged");
        }
        deja__flight *dup = NULL;
        int64_t dlat = 0;
        if (n->dup_ppm && deja_prng_chance_ppm(n->dup_rng, n->dup_ppm)) {
            dup = deja__flight_new(f->from, f->to, f->data, f->len, f->digest);
            dlat = lat + deja_prng_range(n->dup_rng, 0, w->net_latency + w->net_jitter);
            n->dups++;
            deja__trace(w, DEJA__TK_NOTE, (int)f->to, f->from, (uint64_t)dlat, "dup");
        }
        if (f->len > 0 && n->corrupt_ppm && deja_prng_chance_ppm(n->corrupt_rng, n->corrupt_ppm))
            deja__corrupt(w, f);
        if (dup) deja__schedule(w, w->now + dlat, deja__deliver, dup, 0);
    }
    deja__schedule(w, w->now + lat, deja__deliver, f, 0);
}

/* One message from node `from` to node `to`, leaving now: traced, then
 * lost to a cut, a partition or the link's loss, or launched with its
 * latency and faults. */
static int deja__send(deja_world *w, uint32_t from, uint32_t to, const void *data, size_t len) {
    if (to >= w->n_nodes || len > (1u << 24)) return RT_EINVAL;
    assert(from < w->n_nodes);
    uint64_t digest = XXH3_64bits(data, len);
    deja__trace(w, DEJA__TK_SEND, (int)from, to, digest, NULL);
    const char *why = deja__link_closed(w, from, to);
    if (why) {
        deja__trace(w, DEJA__TK_DROP, (int)to, from, len, why);
        return RT_OK;
    }
    if (to != from && deja_prng_chance_ppm(w->net_rng, w->net_loss_ppm)) {
        deja__trace(w, DEJA__TK_DROP, (int)to, from, len, "loss");
        return RT_OK;
    }
    int64_t lat = to != from ? deja__net_latency(w, from, to, len) : 0;
    deja__launch(w, deja__flight_new(from, to, data, len, digest), lat);
    return RT_OK;
}

int rt_send(uint32_t to, const void *data, size_t len) {
    return deja__send(deja__w, deja__self_node()->id, to, data, len);
}

int deja_net_inject(deja_world *w, uint32_t from, uint32_t to, const void *data, size_t len) {
    assert(w != NULL && data != NULL);
    if (from >= w->n_nodes || to >= w->n_nodes) return RT_EINVAL;
    if (w->nodes[from]->down) return RT_OK; /* a crashed sender sends nothing */
    return deja__send(w, from, to, data, len);
}

rt_chan *rt_inbox(void) { return deja__self_node()->inbox; }

void rt_msg_free(rt_msg *m) { rt_free(m); }

void deja_net_config(deja_world *w, int64_t latency_ns, int64_t jitter_ns, uint32_t loss_ppm) {
    assert(latency_ns >= 0 && jitter_ns >= 0 && loss_ppm <= 1000000);
    w->net_latency = latency_ns;
    w->net_jitter = jitter_ns;
    w->net_loss_ppm = loss_ppm;
}

void deja_net_faults(deja_world *w, const deja_net_fault_cfg *c) {
    assert(c->dup_ppm <= 1000000 && c->reorder_ppm <= 1000000 && c->corrupt_ppm <= 1000000);
    assert(c->reorder_ns >= 0 && c->bandwidth_kbps >= 0 && c->regions <= DEJA__NET_REGIONS);
    assert(!c->tail || (c->tail_alpha9 >= 100000000 && c->tail_max_ns >= 0));
    deja__net *n = deja__net_get(w);
    n->dup_ppm = c->dup_ppm;
    n->reorder_ppm = c->reorder_ppm;
    n->reorder_ns = c->reorder_ns;
    n->corrupt_ppm = c->corrupt_ppm;
    n->tail = c->tail;
    n->tail_alpha9 = c->tail_alpha9;
    n->tail_max_ns = c->tail_max_ns;
    n->regions = c->regions;
    for (uint32_t i = 0; i < c->regions * c->regions; i++) {
        assert(c->region_ns[i] >= 0);
        n->region_ns[i] = c->region_ns[i];
    }
    n->bandwidth_kbps = c->bandwidth_kbps;
    if (n->dup_ppm && !n->dup_rng) n->dup_rng = deja_world_stream(w, "net.dup");
    if (n->reorder_ppm && !n->reorder_rng) n->reorder_rng = deja_world_stream(w, "net.reorder");
    if (n->corrupt_ppm && !n->corrupt_rng) n->corrupt_rng = deja_world_stream(w, "net.corrupt");
    if (n->tail && !n->lat_rng) n->lat_rng = deja_world_stream(w, "net.latency");
}

void deja_net_fault_counts(const deja_world *w, deja_net_counts *out) {
    memset(out, 0, sizeof *out);
    const deja__net *n = w->net;
    if (!n) return;
    out->dups = n->dups;
    out->reorders = n->reorders;
    out->corrupts = n->corrupts;
    out->cut_drops = n->cut_drops;
    out->clogged = n->clogged;
}

/* ---- scheduled faults: one function per kind ------------------------------ */

/* A scheduled partition change: one group per node of the world. */
typedef struct deja__partition {
    uint32_t n;
    uint8_t groups[];
} deja__partition;

static void deja__partition_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__partition *p = arg;
    if (!drop) {
        uint64_t sig = 0;
        for (uint32_t i = 0; i < w->n_nodes; i++) {
            uint8_t g = i < p->n ? p->groups[i] : 0; /* nodes added since: group 0 */
            w->nodes[i]->group = g;
            sig = sig * 31 + g;
        }
        deja__trace(w, DEJA__TK_NOTE, -1, 0, sig, "partition");
        for (int i = 0; i < w->n_part; i++) w->part_fns[i](w->part_args[i], p->groups);
    }
    free(p);
}

void deja_net_partition(deja_world *w, int64_t at_ns, const uint8_t *groups) {
    char *g = malloc(w->n_nodes + 1);
    assert(g);
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        assert(groups[i] < 10 && "partition groups are 0..9");
        g[i] = (char)('0' + groups[i]);
    }
    g[w->n_nodes] = 0;
    deja_plan_inject(w, &(deja_plan_entry){.kind = "partition", .node = -1, .at_ns = at_ns, .groups = g});
    free(g);
}

void deja__partition_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->groups && strlen(e->groups) >= w->n_nodes);
    deja__partition *p = calloc(1, sizeof *p + w->n_nodes);
    assert(p);
    p->n = w->n_nodes;
    for (uint32_t i = 0; i < w->n_nodes; i++) p->groups[i] = (uint8_t)(e->groups[i] - '0');
    deja__schedule(w, e->at_ns < w->now ? w->now : e->at_ns, deja__partition_ev, p, 0);
}

void deja_net_on_partition(deja_world *w, deja_partition_fn fn, void *arg) {
    assert(w->n_part < (int)(sizeof w->part_fns / sizeof w->part_fns[0]));
    w->part_fns[w->n_part] = fn;
    w->part_args[w->n_part] = arg;
    w->n_part++;
}

/* A change of the cut layer: mode and sides (NULL: heal the cut of
 * generation gen, if it is still the one in force). */
typedef struct deja__cut_change {
    int mode;
    uint64_t gen;
    uint32_t n; /* sides given (nodes added since: side 0) */
    uint8_t side[];
} deja__cut_change;

static void deja__cut_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__cut_change *c = arg;
    deja__net *n = w->net;
    if (!drop) {
        if (c->mode == DEJA__CUT_NONE) {
            if (n->cut_active == c->gen) {
                n->cut_mode = DEJA__CUT_NONE;
                deja__trace(w, DEJA__TK_NOTE, -1, c->gen, 0, "cut healed");
            }
        } else {
            if (n->cut_n != w->n_nodes) {
                free(n->cut);
                n->cut_n = w->n_nodes;
                n->cut = calloc(n->cut_n, 1);
                assert(n->cut);
            }
            uint64_t sig = 0;
            for (uint32_t i = 0; i < w->n_nodes; i++) {
                n->cut[i] = i < c->n ? c->side[i] : 0;
                sig = sig * 31 + n->cut[i];
            }
            n->cut_mode = c->mode;
            n->cut_active = c->gen;
            deja__trace(w, DEJA__TK_NOTE, -1, c->gen, sig, c->mode == DEJA__CUT_ONEWAY ? "one-way cut" : "bridge cut");
        }
    }
    free(c);
}

/* Schedules a cut of the given mode from at for len ns (side: 0, 1 or 2
 * per node). */
static void deja__cut(deja_world *w, int mode, int64_t at_ns, int64_t len_ns, const uint8_t *side) {
    assert(len_ns >= 0);
    deja__net *n = deja__net_get(w);
    if (at_ns < w->now) at_ns = w->now;
    uint64_t gen = ++n->cut_gen; /* the heal below ends this cut only if no other took its place */
    deja__cut_change *on = calloc(1, sizeof *on + w->n_nodes);
    deja__cut_change *off = calloc(1, sizeof *off);
    assert(on && off);
    on->mode = mode;
    on->gen = gen;
    on->n = w->n_nodes;
    memcpy(on->side, side, w->n_nodes);
    off->mode = DEJA__CUT_NONE;
    off->gen = gen;
    deja__schedule(w, at_ns, deja__cut_ev, on, 0);
    deja__schedule(w, at_ns + len_ns, deja__cut_ev, off, 0);
}

/* Injects a cut as one plan entry: kind, the bridge node (or -1), start,
 * a = length, groups = one side digit per node. */
static void deja__cut_inject(deja_world *w, const char *kind, int32_t node, int64_t at_ns, int64_t len_ns,
                             const uint8_t *side) {
    assert(len_ns >= 0);
    char *g = malloc(w->n_nodes + 1);
    assert(g);
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        assert(side[i] <= 1);
        g[i] = (char)('0' + side[i]);
    }
    g[w->n_nodes] = 0;
    deja_plan_entry e = {.node = node, .at_ns = at_ns, .a = len_ns, .groups = g};
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    deja_plan_inject(w, &e);
    free(g);
}

/* The sides of a cut entry (n_nodes bytes, freed by the caller). */
static uint8_t *deja__cut_sides(deja_world *w, const deja_plan_entry *e) {
    assert(e->groups && strlen(e->groups) >= w->n_nodes);
    uint8_t *side = malloc(w->n_nodes ? w->n_nodes : 1);
    assert(side);
    for (uint32_t i = 0; i < w->n_nodes; i++) side[i] = e->groups[i] == '1';
    return side;
}

void deja_net_oneway(deja_world *w, int64_t at_ns, int64_t len_ns, const uint8_t *side) {
    deja__cut_inject(w, "oneway", -1, at_ns, len_ns, side);
}

void deja__oneway_schedule(deja_world *w, const deja_plan_entry *e) {
    uint8_t *side = deja__cut_sides(w, e);
    deja__cut(w, DEJA__CUT_ONEWAY, e->at_ns, e->a, side);
    free(side);
}

void deja_net_bridge(deja_world *w, int64_t at_ns, int64_t len_ns, const uint8_t *side, uint32_t bridge) {
    assert(bridge < w->n_nodes);
    deja__cut_inject(w, "bridge", (int32_t)bridge, at_ns, len_ns, side);
}

void deja__bridge_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes);
    uint8_t *side = deja__cut_sides(w, e);
    side[e->node] = 2;
    deja__cut(w, DEJA__CUT_BRIDGE, e->at_ns, e->a, side);
    free(side);
}

static void deja__clog_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__clog *c = arg;
    if (!drop) {
        deja__net *n = w->net;
        if (n->n_clogs == n->cap_clogs) {
            n->cap_clogs = n->cap_clogs ? 2 * n->cap_clogs : 8;
            n->clogs = realloc(n->clogs, (size_t)n->cap_clogs * sizeof *n->clogs);
            assert(n->clogs);
        }
        n->clogs[n->n_clogs++] = *c;
        deja__trace(w, DEJA__TK_NOTE, c->node, (uint64_t)(int64_t)c->peer, (uint64_t)c->until, "clog");
    }
    free(c);
}

void deja_net_clog(deja_world *w, int64_t at_ns, int64_t len_ns, uint32_t node, int32_t peer) {
    assert(node < w->n_nodes && peer < (int32_t)w->n_nodes && len_ns >= 0);
    deja_plan_inject(w, &(deja_plan_entry){.kind = "clog", .node = (int32_t)node, .at_ns = at_ns, .a = len_ns,
                                           .b = peer < 0 ? -1 : peer});
}

void deja__clog_schedule(deja_world *w, const deja_plan_entry *e) {
    assert(e->node >= 0 && (uint32_t)e->node < w->n_nodes && e->b < (int64_t)w->n_nodes && e->a >= 0);
    (void)deja__net_get(w);
    int64_t at = e->at_ns < w->now ? w->now : e->at_ns;
    deja__clog *c = malloc(sizeof *c);
    assert(c);
    c->until = at + e->a;
    c->node = e->node;
    c->peer = e->b < 0 ? -1 : (int32_t)e->b;
    deja__schedule(w, at, deja__clog_ev, c, 0);
}
