/*
 * node.c -- simulated nodes: the program registry, adding a node to a world
 * (its clock, inbox, root context and first task), and the rt_* calls that
 * answer from the node's own state: identity, parameters, randomness,
 * logging and facts.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- programs ------------------------------------------------------------- */

/* Registered once at start-up (configuration, not simulation state). */
static struct {
    const char *name;
    rt_main_fn fn;
    size_t stack; /* default stack bytes of its tasks; 0: the world's */
} deja__programs[32];
static int deja__n_programs;

void rt_program_register(const char *name, rt_main_fn fn) {
    for (int i = 0; i < deja__n_programs; i++)
        if (!strcmp(deja__programs[i].name, name)) {
            deja__programs[i].fn = fn;
            return;
        }
    assert(deja__n_programs < 32);
    deja__programs[deja__n_programs].name = name;
    deja__programs[deja__n_programs].fn = fn;
    deja__n_programs++;
}

void rt_program_stack(const char *name, size_t stack_bytes) {
    for (int i = 0; i < deja__n_programs; i++)
        if (!strcmp(deja__programs[i].name, name)) {
            deja__programs[i].stack = stack_bytes;
            return;
        }
    assert(!"rt_program_stack: no such program");
}

static rt_main_fn deja__program_find(const char *name, size_t *stack) {
    for (int i = 0; i < deja__n_programs; i++)
        if (!strcmp(deja__programs[i].name, name)) {
            *stack = deja__programs[i].stack;
            return deja__programs[i].fn;
        }
    return NULL;
}

int deja_node_add(deja_world *w, const char *program, int64_t offset_ns, int64_t drift_ppb) {
    size_t stack = 0;
    rt_main_fn fn = deja__program_find(program, &stack);
    if (!fn || w->n_nodes >= INT32_MAX) return -1; /* ids are ints */
    assert(drift_ppb > -1000000000 && drift_ppb < 1000000000);
    if (w->n_nodes == w->cap_nodes) {
        uint32_t cap = w->cap_nodes ? 2 * w->cap_nodes : 16;
        deja__node **grown = realloc(w->nodes, (size_t)cap * sizeof *grown);
        assert(grown);
        w->nodes = grown;
        w->cap_nodes = cap;
    }
    deja__node *n = calloc(1, sizeof *n);
    assert(n);
    n->id = w->n_nodes;
    n->program = program;
    n->main = fn;
    n->offset_ns = offset_ns;
    n->drift_ppb = drift_ppb;
    n->stack_default = stack;
    n->tasks.next = n->tasks.prev = &n->tasks;
    n->heap.next = n->heap.prev = &n->heap;
    char name[32];
    snprintf(name, sizeof name, "node.%u", n->id);
    deja_prng_init(&n->rng, w->seed, name);
    w->nodes[w->n_nodes++] = n;
    deja__node_start(w, n);
    return (int)n->id;
}

/* ---- identity, parameters, randomness --------------------------------------- */

uint32_t rt_node_id(void) { return deja__self_node()->id; }
uint32_t rt_node_count(void) { return deja__w->n_nodes; }

const char *rt_param_str(const char *key, const char *dflt) {
    const char *v = deja_params_get(deja__w->params, key);
    return v ? v : dflt;
}

int64_t rt_param_i64(const char *key, int64_t dflt) {
    const char *v = deja_params_get(deja__w->params, key);
    int64_t x;
    if (!v) return dflt;
    if (deja_parse_i64(v, &x) != 0) {
        rt_log(RT_LOG_WARN, "parameter %s=%s is not an integer; using %lld", key, v, (long long)dflt);
        return dflt;
    }
    return x;
}

uint64_t rt_rand_u64(void) { return deja_prng_next(&deja__self_node()->rng); }

/* ---- logging and facts ------------------------------------------------------ */

void rt_log(int level, const char *fmt, ...) {
    char buf[512];
    static const char *const lv[] = {"debug", "info", "warn", "error"};
    int k = level < 0 ? 0 : level > 3 ? 3 : level;
    deja_world *w = deja__w;
    if (!deja__trace_wants_text(w)) { /* the digest folds a log line's record, never its text */
        deja__trace(w, DEJA__TK_LOG, w->cur ? (int)w->cur->node->id : -1, (uint64_t)k, 0, NULL);
        return;
    }
    int off = snprintf(buf, sizeof buf, "%s: ", lv[k]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + off, sizeof buf - (size_t)off, fmt, ap);
    va_end(ap);
    deja__trace(w, DEJA__TK_LOG, w->cur ? (int)w->cur->node->id : -1, (uint64_t)k, 0, buf);
}

void deja_world_on_fact(deja_world *w, deja_fact_fn fn, void *arg) {
    assert(w->n_listeners < DEJA__MAX_LISTENERS);
    w->listeners[w->n_listeners] = fn;
    w->listener_args[w->n_listeners] = arg;
    w->n_listeners++;
}

void deja_world_add_oracle(deja_world *w, const deja_oracle_ops *ops, void *state) {
    assert(ops && w->n_oracles < DEJA__MAX_LISTENERS);
    w->oracles[w->n_oracles].ops = ops;
    w->oracles[w->n_oracles].state = state;
    w->n_oracles++;
    if (ops->on_fact) deja_world_on_fact(w, ops->on_fact, state);
}

void deja_world_feed_oracles(deja_world *w, uint32_t node, int64_t now, const rt_fact *f) {
    assert(w && node < w->n_nodes);
    if (now > w->now) w->now = now;
    if (!f) return;
    for (int i = 0; i < w->n_oracles; i++)
        if (w->oracles[i].ops->on_fact) w->oracles[i].ops->on_fact(w->oracles[i].state, node, w->now, f);
}

void deja_world_finish_oracles(deja_world *w, deja_summary *s) {
    for (int i = 0; i < w->n_oracles; i++)
        if (w->oracles[i].ops->finish) w->oracles[i].ops->finish(w->oracles[i].state, w, s);
}

void rt_fact_report(const rt_fact *f) {
    deja_world *w = deja__w;
    deja__node *n = deja__self_node();
    deja__trace_fact(w, (int)n->id, (uint64_t)f->kind, f->height, f->hash);
    for (int i = 0; i < w->n_listeners; i++) w->listeners[i](w->listener_args[i], n->id, w->now, f);
}
