/*
 * net.c -- the simulated network: message send, delivery into each node's
 * inbox channel, latency with jitter, loss and partitions.
 *
 * A message in flight is an event at its delivery time; the latency and the
 * loss draws come from the world's "net" stream, so the network's choices
 * never shift another model's numbers. A partition puts each node in a
 * group; messages cross only within a group, checked both when sent and
 * when delivered (a message in flight when a partition starts is lost).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct deja__flight {
    uint32_t from, to, len;
    uint8_t data[];
} deja__flight;

static void deja__deliver(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__flight *f = arg;
    if (drop) {
        free(f);
        return;
    }
    deja__node *dst = w->nodes[f->to];
    if (dst->down) {
        deja__trace(w, DEJA__TK_DROP, (int)f->to, f->from, f->len, "node down");
        free(f);
        return;
    }
    if (w->nodes[f->from]->group != dst->group) {
        deja__trace(w, DEJA__TK_DROP, (int)f->to, f->from, f->len, "partition");
        free(f);
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
        deja__trace(w, DEJA__TK_DELIVER, (int)f->to, f->from, XXH3_64bits(f->data, f->len), NULL);
    }
    free(f);
}

int rt_send(uint32_t to, const void *data, size_t len) {
    deja_world *w = deja__w;
    deja__node *self = deja__self_node();
    if (to >= w->n_nodes || len > (1u << 24)) return RT_EINVAL;
    deja__trace(w, DEJA__TK_SEND, (int)self->id, to, XXH3_64bits(data, len), NULL);
    if (w->nodes[to]->group != self->group) {
        deja__trace(w, DEJA__TK_DROP, (int)to, self->id, len, "partition");
        return RT_OK;
    }
    if (to != self->id && deja_prng_chance_ppm(w->net_rng, w->net_loss_ppm)) {
        deja__trace(w, DEJA__TK_DROP, (int)to, self->id, len, "loss");
        return RT_OK;
    }
    int64_t lat = 0;
    if (to != self->id) {
        lat = w->net_latency;
        if (w->net_jitter > 0) lat += deja_prng_range(w->net_rng, -w->net_jitter, w->net_jitter);
        if (lat < 0) lat = 0;
    }
    deja__flight *f = malloc(sizeof *f + len);
    assert(f);
    f->from = self->id;
    f->to = to;
    f->len = (uint32_t)len;
    memcpy(f->data, data, len);
    deja__schedule(w, w->now + lat, deja__deliver, f, 0);
    return RT_OK;
}

rt_chan *rt_inbox(void) { return deja__self_node()->inbox; }

void rt_msg_free(rt_msg *m) { rt_free(m); }

void deja_net_config(deja_world *w, int64_t latency_ns, int64_t jitter_ns, uint32_t loss_ppm) {
    assert(latency_ns >= 0 && jitter_ns >= 0 && loss_ppm <= 1000000);
    w->net_latency = latency_ns;
    w->net_jitter = jitter_ns;
    w->net_loss_ppm = loss_ppm;
}

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
