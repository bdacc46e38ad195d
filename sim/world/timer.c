/*
 * timer.c -- timers and tickers in the simulator.
 *
 * A timer owns a one-slot channel; each firing offers the node's monotonic
 * time to it (dropped when the previous firing was not taken, as Go's
 * tickers do). Firings are events at the true time where the node's drifting
 * monotonic clock reaches the next deadline. A stopped timer's pending event
 * finds its record detached and only frees it.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct deja__timer_rec {
    rt_timer *timer; /* NULL once stopped */
    deja__node *node;
    uint32_t incarnation; /* a crash since makes the record stale */
} deja__timer_rec;

struct rt_timer {
    deja__owned own; /* creation site and creator, for the lost-timer check */
    char name[32];
    deja__node *node;
    rt_chan *ch;
    int64_t period;
    int64_t next_mono;
    deja__timer_rec *rec;
};

static void deja__timer_ev(deja_world *w, void *arg, uint64_t u, int drop) {
    (void)u;
    deja__timer_rec *rec = arg;
    rt_timer *t = rec->node->incarnation == rec->incarnation ? rec->timer : NULL;
    if (drop || !t) {
        if (t) t->rec = NULL;
        free(rec);
        return;
    }
    int64_t now_mono = deja__mono(t->node, w->now);
    int r = deja__chan_offer(t->ch, &now_mono);
    deja__trace(w, DEJA__TK_TIMER, (int)t->node->id, (uint64_t)now_mono, (uint64_t)(r == RT_OK), t->name);
    if (t->period > 0) {
        t->next_mono += t->period;
        if (t->next_mono <= now_mono) t->next_mono = now_mono + t->period;
        deja__schedule(w, deja__true_at_mono(t->node, t->next_mono), deja__timer_ev, rec, 0);
    } else {
        t->rec = NULL;
        t->own.settled = true;
        free(rec);
    }
}

rt_timer *rt_timer_new_at(const char *name, int64_t first_ns, int64_t period_ns, const char *file, int line) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    assert(period_ns >= 0);
    rt_timer *t = deja__node_alloc_as(n, sizeof *t, sizeof *t - sizeof t->own);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name ? name : "timer");
    t->node = n;
    t->ch = deja__chan_new(n, t->name, sizeof(int64_t), 1);
    t->period = period_ns;
    if (first_ns < 0) first_ns = 0;
    t->next_mono = deja__mono(n, w->now) + first_ns;
    t->rec = malloc(sizeof *t->rec);
    assert(t->rec);
    t->rec->timer = t;
    t->rec->node = n;
    t->rec->incarnation = n->incarnation;
    deja__schedule(w, deja__true_at_mono(n, t->next_mono), deja__timer_ev, t->rec, 0);
    t->own.periodic = period_ns > 0;
    if (w->det) deja__owned_add(w, &t->own, DEJA__OWN_TIMER, t->name, t->ch, file, line);
    return t;
}

rt_chan *rt_timer_chan(rt_timer *t) { return t->ch; }

void rt_timer_stop(rt_timer *t) {
    if (!t) return;
    if (t->rec) t->rec->timer = NULL;
    deja__owned_del(&t->own);
    rt_chan_free(t->ch);
    deja__node_free(t->node, t);
}
