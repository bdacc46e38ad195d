/*
 * plan.c -- fault plans: every fault a run injects is one entry of its plan
 * (deja/world.h), with an id in injection order.
 *
 * The public functions that schedule a fault (crash, pause, clock step and
 * slew, partition) and any registered kind go through deja_plan_inject,
 * which records the entry and asks the run's plan filter whether to
 * schedule it: a mask leaves entries out by id, a given plan keeps only
 * the drawn entries it holds (matched by content, in place, so the full
 * plan replays the same trace hash) and adds the rest at the start of the
 * run. Draws happen exactly as without a plan: leaving an entry out never
 * shifts a PRNG stream. Plans are also the unit `deja shrink` minimises.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct deja_plan {
    deja_plan_entry *e;
    size_t n, cap;
};

/* The plan filter and record of one world. */
typedef struct deja__plan_state {
    deja_plan *run;   /* every injected entry */
    deja_plan *given; /* NULL: the drawn plan */
    bool *used;       /* given entries matched so far */
    uint8_t *mask;    /* ids left out (bitmap) */
    size_t mask_bits;
} deja__plan_state;

/* ---- kinds ----------------------------------------------------------------- */

#define DEJA__PLAN_KINDS 32

static deja_plan_kind deja__kinds[DEJA__PLAN_KINDS] = {
    {"crash", deja__crash_schedule}, {"pause", deja__pause_schedule},         {"step", deja__step_schedule},
    {"slew", deja__slew_schedule},   {"partition", deja__partition_schedule},
    {"oneway", deja__oneway_schedule}, {"bridge", deja__bridge_schedule},     {"clog", deja__clog_schedule},
    {"flood", deja__flood_schedule},
};
static int deja__nkinds = 9;

static const deja_plan_kind *deja__kind(const char *name) {
    for (int i = 0; i < deja__nkinds; i++)
        if (!strcmp(deja__kinds[i].name, name)) return &deja__kinds[i];
    return NULL;
}

void deja_plan_kind_register(const deja_plan_kind *k) {
    assert(k && k->name && k->schedule && strlen(k->name) < sizeof((deja_plan_entry *)0)->kind);
    for (int i = 0; i < deja__nkinds; i++)
        if (!strcmp(deja__kinds[i].name, k->name)) {
            deja__kinds[i] = *k;
            return;
        }
    assert(deja__nkinds < DEJA__PLAN_KINDS);
    deja__kinds[deja__nkinds++] = *k;
}

/* ---- plans as values ------------------------------------------------------- */

deja_plan *deja_plan_new(void) {
    deja_plan *p = calloc(1, sizeof *p);
    assert(p);
    return p;
}

void deja_plan_free(deja_plan *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free((char *)p->e[i].groups);
    free(p->e);
    free(p);
}

void deja_plan_add(deja_plan *p, const deja_plan_entry *e) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->e = realloc(p->e, p->cap * sizeof *p->e);
        assert(p->e);
    }
    deja_plan_entry *d = &p->e[p->n++];
    *d = *e;
    d->kind[sizeof d->kind - 1] = 0;
    if (e->groups) {
        d->groups = strdup(e->groups);
        assert(d->groups);
    }
}

deja_plan *deja_plan_clone(const deja_plan *p) {
    deja_plan *c = deja_plan_new();
    for (size_t i = 0; p && i < p->n; i++) deja_plan_add(c, &p->e[i]);
    return c;
}

size_t deja_plan_count(const deja_plan *p) { return p ? p->n : 0; }

const deja_plan_entry *deja_plan_get(const deja_plan *p, size_t i) {
    assert(p && i < p->n);
    return &p->e[i];
}

size_t deja_plan_enabled(const deja_plan *p) {
    size_t k = 0;
    for (size_t i = 0; p && i < p->n; i++) k += p->e[i].enabled;
    return k;
}

void deja_plan_format(const deja_plan_entry *e, char *buf, size_t len) {
    int off = snprintf(buf, len, "%s at_ns=%" PRId64 " node=%d a=%" PRId64 " b=%" PRId64, e->kind, e->at_ns,
                       (int)e->node, e->a, e->b);
    if (e->groups && off >= 0 && (size_t)off < len) off += snprintf(buf + off, len - (size_t)off, " groups=%s", e->groups);
    if (off >= 0 && (size_t)off < len) snprintf(buf + off, len - (size_t)off, " id=%u", e->id);
}

/* Parses a signed decimal field value; 0 or 2. */
static int deja__plan_i64(const char *s, int64_t *out) { return deja_parse_i64(s, out); }

int deja_plan_parse_add(deja_plan *p, const char *text, char *err, size_t errlen) {
    char buf[8192];
    if (strlen(text) >= sizeof buf) {
        snprintf(err, errlen, "fault entry too long");
        return 2;
    }
    snprintf(buf, sizeof buf, "%s", text);
    deja_plan_entry e = {.node = -1, .parent = -1, .enabled = true};
    int have_at = 0;
    char *save = NULL;
    char *tok = strtok_r(buf, " \t", &save);
    if (!tok || strlen(tok) >= sizeof e.kind || !deja__kind(tok)) {
        snprintf(err, errlen, "unknown fault kind '%s'", tok ? tok : "");
        return 2;
    }
    snprintf(e.kind, sizeof e.kind, "%s", tok);
    while ((tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        int64_t v = 0;
        if (!eq) {
            snprintf(err, errlen, "fault field '%s': expected name=value", tok);
            return 2;
        }
        *eq = 0;
        const char *val = eq + 1;
        if (!strcmp(tok, "groups")) {
            for (const char *c = val; *c; c++)
                if (!isdigit((unsigned char)*c)) {
                    snprintf(err, errlen, "fault field groups=%s: expected one digit per node", val);
                    return 2;
                }
            if (!*val) {
                snprintf(err, errlen, "fault field groups: empty");
                return 2;
            }
            e.groups = val;
            continue;
        }
        if (deja__plan_i64(val, &v)) {
            snprintf(err, errlen, "fault field %s=%s: expected an integer", tok, val);
            return 2;
        }
        if (!strcmp(tok, "at_ns") && v >= 0) {
            e.at_ns = v;
            have_at = 1;
        } else if (!strcmp(tok, "node") && v >= -1 && v < INT32_MAX) {
            e.node = (int32_t)v;
        } else if (!strcmp(tok, "a")) {
            e.a = v;
        } else if (!strcmp(tok, "b")) {
            e.b = v;
        } else if (!strcmp(tok, "id") && v >= 0 && v <= UINT32_MAX) {
            e.id = (uint32_t)v;
        } else {
            snprintf(err, errlen, "fault field %s=%s: unknown field or value out of range", tok, val);
            return 2;
        }
    }
    if (!have_at) {
        snprintf(err, errlen, "fault entry without at_ns=");
        return 2;
    }
    bool is_part = !strcmp(e.kind, "partition") || !strcmp(e.kind, "oneway") || !strcmp(e.kind, "bridge");
    bool per_node = !strcmp(e.kind, "crash") || !strcmp(e.kind, "pause") || !strcmp(e.kind, "step") ||
                    !strcmp(e.kind, "slew") || !strcmp(e.kind, "bridge") || !strcmp(e.kind, "clog");
    if (is_part != (e.groups != NULL) || (per_node && e.node < 0)) {
        snprintf(err, errlen, "fault entry '%s': %s", text,
                 per_node && e.node < 0 ? "needs node=N"
                                        : "partition, oneway and bridge need groups= and only they have them");
        return 2;
    }
    deja_plan_add(p, &e);
    return 0;
}

void deja_plan_write(const deja_plan *p, FILE *out) {
    char line[8192];
    fprintf(out, "# deja fault plan: %zu entries, %zu injected. Comment a line out to leave a fault out;\n"
                 "# run it with --use-plan FILE (see docs/debugging.md).\n",
            deja_plan_count(p), deja_plan_enabled(p));
    for (size_t i = 0; i < deja_plan_count(p); i++) {
        deja_plan_format(&p->e[i], line, sizeof line);
        fprintf(out, "%sfault = %s\n", p->e[i].enabled ? "" : "# (left out) ", line);
    }
}

int deja_plan_load(const char *path, deja_plan **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return 2;
    }
    deja_plan *p = deja_plan_new();
    char line[8192], perr[256];
    int lineno = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
        if (!*s || *s == '#') continue;
        if (strncmp(s, "fault", 5) != 0) {
            snprintf(err, errlen, "%s:%d: expected 'fault = KIND at_ns=...'", path, lineno);
            rc = 2;
            break;
        }
        s += 5;
        while (isspace((unsigned char)*s)) s++;
        if (*s != '=') {
            snprintf(err, errlen, "%s:%d: expected 'fault = KIND at_ns=...'", path, lineno);
            rc = 2;
            break;
        }
        s++;
        while (isspace((unsigned char)*s)) s++;
        if (deja_plan_parse_add(p, s, perr, sizeof perr)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, perr);
            rc = 2;
        }
    }
    fclose(f);
    if (rc) {
        deja_plan_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- the plan of a world ---------------------------------------------------- */

static deja__plan_state *deja__pstate(deja_world *w) {
    if (!w->plan) {
        w->plan = calloc(1, sizeof *w->plan);
        assert(w->plan);
        w->plan->run = deja_plan_new();
    }
    return w->plan;
}

void deja__plan_free(deja_world *w) {
    if (!w->plan) return;
    deja_plan_free(w->plan->run);
    deja_plan_free(w->plan->given);
    free(w->plan->used);
    free(w->plan->mask);
    free(w->plan);
    w->plan = NULL;
}

const deja_plan *deja_world_plan(const deja_world *w) {
    static deja_plan empty;
    return w->plan ? w->plan->run : &empty;
}

static bool deja__masked(const deja__plan_state *ps, uint32_t id) {
    return id < ps->mask_bits && (ps->mask[id / 8] >> (id % 8)) & 1;
}

/* Parses a mask spec into ps (NULL: only checks it). 0 or 2. */
static int deja__mask_parse(deja__plan_state *ps, const char *spec, char *err, size_t errlen) {
    const char *s = spec;
    if (!*s) goto bad;
    while (*s) {
        char *end;
        errno = 0;
        unsigned long lo = strtoul(s, &end, 10), hi = lo;
        if (end == s || !isdigit((unsigned char)*s) || errno) goto bad;
        s = end;
        if (*s == '-') {
            s++;
            if (!isdigit((unsigned char)*s)) goto bad;
            hi = strtoul(s, &end, 10);
            if (errno || hi < lo) goto bad;
            s = end;
        }
        if (hi >= (1ul << 24)) goto bad;
        if (!ps) {
            /* only checking */
        } else if (hi + 1 > ps->mask_bits) {
            size_t nb = (hi + 8) / 8;
            ps->mask = realloc(ps->mask, nb);
            assert(ps->mask);
            memset(ps->mask + (ps->mask_bits + 7) / 8, 0, nb - (ps->mask_bits + 7) / 8);
            ps->mask_bits = nb * 8;
        }
        for (unsigned long i = lo; ps && i <= hi; i++) ps->mask[i / 8] |= (uint8_t)(1u << (i % 8));
        if (*s == ',') {
            s++;
            if (!*s) goto bad;
        } else if (*s) {
            goto bad;
        }
    }
    return 0;
bad:
    snprintf(err, errlen, "plan mask '%s': expected fault ids and ranges such as 3,5-9", spec);
    return 2;
}

int deja_plan_mask_check(const char *spec, char *err, size_t errlen) { return deja__mask_parse(NULL, spec, err, errlen); }

int deja_world_plan_mask(deja_world *w, const char *spec, char *err, size_t errlen) {
    if (deja__mask_parse(NULL, spec, err, errlen)) return 2;
    return deja__mask_parse(deja__pstate(w), spec, err, errlen);
}

void deja_world_plan_use(deja_world *w, const deja_plan *given) {
    deja__plan_state *ps = deja__pstate(w);
    assert(!ps->given);
    ps->given = deja_plan_clone(given);
    ps->used = calloc(deja_plan_count(given) + 1, sizeof *ps->used);
    assert(ps->used);
}

static bool deja__same(const deja_plan_entry *a, const deja_plan_entry *b) {
    if (strcmp(a->kind, b->kind) || a->node != b->node || a->at_ns != b->at_ns || a->a != b->a || a->b != b->b)
        return false;
    if (!a->groups || !b->groups) return a->groups == b->groups;
    return !strcmp(a->groups, b->groups);
}

/* The parent of a new entry: a heal (a partition whose groups are all
 * '0') undoes the latest partition that has no heal yet. */
static int32_t deja__parent(const deja_plan *run, const deja_plan_entry *e) {
    if (strcmp(e->kind, "partition") || !e->groups || strspn(e->groups, "0") != strlen(e->groups)) return -1;
    for (size_t i = run->n; i-- > 0;) {
        const deja_plan_entry *x = &run->e[i];
        if (strcmp(x->kind, "partition")) continue;
        if (x->parent >= 0) return -1; /* the latest change is a heal */
        if (strspn(x->groups, "0") != strlen(x->groups)) {
            for (size_t j = i + 1; j < run->n; j++)
                if (run->e[j].parent == (int32_t)x->id) return -1;
            return (int32_t)x->id;
        }
    }
    return -1;
}

int deja_plan_inject(deja_world *w, const deja_plan_entry *e) {
    deja__plan_state *ps = deja__pstate(w);
    const deja_plan_kind *k = deja__kind(e->kind);
    assert(k && "fault kind not registered (deja_plan_kind_register)");
    deja_plan_entry r = *e;
    r.id = (uint32_t)ps->run->n;
    r.parent = deja__parent(ps->run, e);
    r.enabled = !deja__masked(ps, r.id);
    if (r.enabled && ps->given) {
        r.enabled = false;
        for (size_t i = 0; i < ps->given->n; i++)
            if (!ps->used[i] && deja__same(&ps->given->e[i], e)) {
                ps->used[i] = true;
                r.enabled = true;
                break;
            }
    }
    deja_plan_add(ps->run, &r);
    if (!r.enabled) return -1;
    if (r.at_ns < w->now) r.at_ns = w->now;
    k->schedule(w, &r);
    return (int)r.id;
}

void deja_plan_inject_rest(deja_world *w) {
    deja__plan_state *ps = w->plan;
    if (!ps || !ps->given) return;
    deja_plan *given = ps->given;
    ps->given = NULL; /* what follows is injected as is */
    for (size_t i = 0; i < given->n; i++) {
        if (ps->used[i]) continue;
        deja_plan_entry e = given->e[i];
        if (e.node >= (int32_t)w->n_nodes) continue;
        char *g = NULL;
        if (e.groups) {
            g = calloc(w->n_nodes + 1, 1);
            assert(g);
            size_t have = strlen(e.groups);
            for (uint32_t j = 0; j < w->n_nodes; j++) g[j] = j < have ? e.groups[j] : '0';
            e.groups = g;
        }
        deja_plan_inject(w, &e);
        free(g);
    }
    /* entries drawn from now on are left out: the given plan is the whole plan */
    ps->given = deja_plan_new();
    free(ps->used);
    ps->used = calloc(1, sizeof *ps->used);
    assert(ps->used);
    deja_plan_free(given);
}
