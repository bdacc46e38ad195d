/*
 * flood.c -- the flood fault (deja/world.h): one node sends every other
 * node messages at a fixed rate for a while, the payload written by the
 * scenario (deja_flood_payload_set), so a team's node can be flooded as
 * the reference node is.
 *
 * A flood is a fault-plan entry of kind "flood" (a built-in kind, plan.c):
 * a mask leaves it out, a given plan adds one, `deja shrink` cuts it. Its
 * ticks are world events (deja_world_at); each sends one message to every
 * other node through deja_net_inject, so the messages take the network's
 * latency, loss and faults. Gaps and payloads draw from the world's
 * "flood" stream, taken only when the first flood is scheduled: a world
 * without a flood draws as before. The state hangs off its world
 * (w->flood) and is freed with it; a summary oracle, attached with the
 * first flood, adds flood_sent and peak_tasks.
 */
#include <assert.h>
#include <stdlib.h>

#include "internal.h"

#define DEJA__FLOOD_MAX_RATE 1000000
#define DEJA__FLOOD_MAX_LEN ((size_t)16 << 20) /* deja_net_inject's limit */

/* One flood: a scheduled plan entry. */
typedef struct deja__flood_one {
    struct deja__flood *fs;
    uint32_t from;
    int64_t gap_ns, end_ns;
    struct deja__flood_one *next;
} deja__flood_one;

/* The floods of one world. */
struct deja__flood {
    deja_flood_payload pl; /* make == NULL: no payload, floods are ignored */
    void *arg;
    uint8_t *buf;          /* pl.cap bytes, for make */
    deja_prng *rng;        /* the "flood" stream; NULL until a flood is scheduled */
    deja__flood_one *floods;
    deja_flood_stat st;
};

void deja__flood_free(deja__flood *fs) {
    if (fs == NULL) return;
    while (fs->floods != NULL) {
        deja__flood_one *f = fs->floods;
        fs->floods = f->next;
        free(f);
    }
    free(fs->buf);
    free(fs);
}

void deja_flood_payload_set(deja_world *w, const deja_flood_payload *pl, void *arg) {
    assert(w != NULL && pl != NULL && pl->make != NULL);
    assert(pl->cap > 0 && pl->cap <= DEJA__FLOOD_MAX_LEN);
    assert(w->flood == NULL && "the flood payload is set once per world");
    deja__flood *fs = calloc(1, sizeof *fs);
    if (fs == NULL) abort();
    fs->pl = *pl;
    fs->arg = arg;
    fs->buf = malloc(pl->cap);
    if (fs->buf == NULL) abort();
    w->flood = fs;
}

/* One tick of a flood: a message from the flooder to every other node,
 * then the next tick after a gap uniform in [gap/2, 3*gap/2]; nothing once
 * the flood's time is up. */
static void deja__flood_tick(deja_world *w, void *arg) {
    deja__flood_one *f = arg;
    deja__flood *fs = f->fs;
    assert(fs == w->flood && fs->rng != NULL);
    int64_t now = deja_world_now(w);
    if (now >= f->end_ns) return;
    for (uint32_t to = 0; to < deja_world_nodes(w); to++) {
        if (to == f->from) continue;
        size_t len = fs->pl.make(fs->arg, fs->rng, f->from, to, fs->buf, fs->pl.cap);
        assert(len > 0 && len <= fs->pl.cap && "a flood payload is 1..cap bytes");
        (void)deja_net_inject(w, f->from, to, fs->buf, len);
    }
    fs->st.sent++;
    int live = deja_world_live_tasks(w, -1);
    if (live > fs->st.peak_tasks) fs->st.peak_tasks = live;
    int64_t g = f->gap_ns;
    deja_world_at(w, now + deja_prng_range(fs->rng, g / 2, g + g / 2), deja__flood_tick, f);
}

/* Adds flood_sent and peak_tasks to the run's summary. */
static void deja__flood_report(void *state, deja_world *w, deja_summary *s) {
    (void)w;
    const deja__flood *fs = state;
    deja_summary_set(s, "flood_sent", "%llu", (unsigned long long)fs->st.sent);
    deja_summary_set(s, "peak_tasks", "%d", fs->st.peak_tasks);
}

/* The state is the world's (freed with it), not the oracle's. */
static const deja_oracle_ops deja__flood_ops = {"flood", NULL, deja__flood_report, NULL};

/* Schedules the flood plan entry e describes: node e->node sends every
 * other node e->b messages a second from e->at_ns for e->a ns. Left alone
 * when the scenario set no payload and when a field is out of range (an
 * entry of a hand-written plan). */
void deja__flood_schedule(deja_world *w, const deja_plan_entry *e) {
    deja__flood *fs = w->flood;
    if (fs == NULL) return;
    if (e->node < 0 || (uint32_t)e->node >= deja_world_nodes(w) || e->a <= 0 || e->b <= 0 ||
        e->b > DEJA__FLOOD_MAX_RATE || e->at_ns > INT64_MAX - e->a)
        return;
    if (fs->rng == NULL) {
        fs->rng = deja_world_stream(w, "flood");
        deja_world_add_oracle(w, &deja__flood_ops, fs);
        if (fs->pl.start != NULL) fs->pl.start(fs->arg, w);
    }
    deja__flood_one *f = calloc(1, sizeof *f);
    if (f == NULL) abort();
    f->fs = fs;
    f->from = (uint32_t)e->node;
    f->gap_ns = RT_SEC / e->b;
    if (f->gap_ns < 2) f->gap_ns = 2;
    f->end_ns = e->at_ns + e->a;
    f->next = fs->floods;
    fs->floods = f;
    fs->st.floods++;
    deja_world_at(w, e->at_ns, deja__flood_tick, f);
}

int deja_flood_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    assert(w != NULL && w->flood != NULL && "set the flood payload (deja_flood_payload_set) first");
    int64_t nodes = (int64_t)deja_world_nodes(w);
    int64_t rate, from, at, len;
    if (deja_params_i64(p, "net.flood_rate", 0, DEJA__FLOOD_MAX_RATE, &rate, err, errlen) ||
        deja_params_i64(p, "net.flood_from", 0, nodes > 0 ? nodes - 1 : 0, &from, err, errlen) ||
        deja_params_i64(p, "net.flood_at_s", 0, 10000000, &at, err, errlen) ||
        deja_params_i64(p, "net.flood_s", 0, 10000000, &len, err, errlen))
        return 2;
    if (rate == 0 || len == 0 || nodes < 2) return 0;
    deja_plan_inject(w, &(deja_plan_entry){.kind = "flood", .node = (int32_t)from, .at_ns = at * RT_SEC,
                                           .a = len * RT_SEC, .b = rate});
    return 0;
}

void deja_flood_stats(const deja_world *w, deja_flood_stat *out) {
    assert(w != NULL && out != NULL);
    if (w->flood == NULL) {
        *out = (deja_flood_stat){0};
        return;
    }
    *out = w->flood->st;
}
