/*
 * judge.c -- judging a production cluster with a scenario's own oracles
 * (deja_judge_facts, deja/deja.h): the scenario's world is built but never
 * run, the nodes' facts files (DIR/node-I/facts, written by the production
 * backend) are read, merged in wall-time order and fed to the world's
 * oracles, whose finish then fills the summary as after a simulated run.
 *
 * Facts file lines: "WALL_NS KIND HEIGHT SLOT HASH PARENT VALUE [ROOT]"
 * (ROOT is absent from files written before it was added); KIND is a
 * well-known name, a name of the node's own (rt_fact_kind_named) or
 * "kind-N". A malformed line is bad input: its file and line are named.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deja/world.h"

#define DEJA__JUDGE_KNOWN_MAX 1024 /* well-known kinds are numbered below this */

/* One line of a facts file. */
typedef struct deja__jfact {
    int64_t wall;
    bool start;
    rt_fact f;
} deja__jfact;

/* One node's facts, in file order. */
typedef struct deja__jnode {
    deja__jfact *v;
    size_t n, cap, next;
} deja__jnode;

/* Parses 32 hex digits into 16 bytes; 0, or -1 when s is not that. */
static int deja__judge_hex(const char *s, uint8_t out[16]) {
    if (strlen(s) != 32) return -1;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        if (i % 2 == 0)
            out[i / 2] = (uint8_t)(d << 4);
        else
            out[i / 2] |= (uint8_t)d;
    }
    return 0;
}

static int deja__judge_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+') return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int deja__judge_i64(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

/* The kind a facts file names: a well-known name, "kind-N", or a name of
 * the node's own (1 to 47 bytes of [A-Za-z0-9._-]). 0, or -1. */
static int deja__judge_kind(const char *name, rt_fact_kind *out) {
    for (int k = 0; k < DEJA__JUDGE_KNOWN_MAX; k++) {
        const char *n = rt_fact_kind_name(k);
        if (n && !strcmp(n, name)) {
            *out = k;
            return 0;
        }
    }
    uint64_t k;
    if (!strncmp(name, "kind-", 5) && !deja__judge_u64(name + 5, &k) && k <= INT_MAX) {
        *out = (rt_fact_kind)k;
        return 0;
    }
    size_t len = strlen(name);
    if (len == 0 || len > 47) return -1;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return -1;
    }
    *out = rt_fact_kind_named(name);
    return 0;
}

/* Parses one line (without its newline) into *jf; NULL, or what is wrong. */
static const char *deja__judge_line(char *line, deja__jfact *jf) {
    char *tok[8];
    int nt = 0;
    for (char *save = NULL, *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (nt == 8) return "more than 8 fields";
        tok[nt++] = t;
    }
    if (nt < 7) return "fewer than 7 fields (WALL_NS KIND HEIGHT SLOT HASH PARENT VALUE [ROOT])";
    memset(jf, 0, sizeof *jf);
    if (deja__judge_i64(tok[0], &jf->wall)) return "WALL_NS is not a number";
    jf->start = !strcmp(tok[1], "start");
    if (!jf->start && deja__judge_kind(tok[1], &jf->f.kind)) return "KIND is not a fact kind";
    if (deja__judge_u64(tok[2], &jf->f.height)) return "HEIGHT is not a number";
    if (deja__judge_u64(tok[3], &jf->f.slot)) return "SLOT is not a number";
    if (deja__judge_hex(tok[4], jf->f.hash)) return "HASH is not 32 hex digits";
    if (deja__judge_hex(tok[5], jf->f.parent)) return "PARENT is not 32 hex digits";
    if (deja__judge_i64(tok[6], &jf->f.value)) return "VALUE is not a number";
    if (nt == 8 && deja__judge_hex(tok[7], jf->f.root)) return "ROOT is not 32 hex digits";
    return NULL;
}

/* Reads path into *nd (a missing file is empty), skew_ns taken off every
 * wall time. 0, or 2 with err naming the file and line. */
static int deja__judge_read(const char *path, int node, int64_t skew_ns, deja__jnode *nd, char *err,
                            size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    for (long lineno = 1; (len = getline(&line, &cap, f)) >= 0; lineno++) {
        if (len == 0 || line[len - 1] != '\n') break; /* the last line, torn by a SIGKILL */
        line[len - 1] = 0;
        deja__jfact jf;
        const char *bad = deja__judge_line(line, &jf);
        if (!bad && jf.start && jf.f.value != node) bad = "a start line of another node (VALUE is the node id)";
        if (!bad && nd->n == 0 && !jf.start) bad = "the first line is not a start line";
        if (bad) {
            snprintf(err, errlen, "%s:%ld: %s", path, lineno, bad);
            rc = 2;
            break;
        }
        if (nd->n == nd->cap) {
            size_t c = nd->cap ? 2 * nd->cap : 256;
            deja__jfact *v = realloc(nd->v, c * sizeof *v);
            if (!v) abort();
            nd->v = v;
            nd->cap = c;
        }
        jf.wall -= skew_ns;
        nd->v[nd->n++] = jf;
    }
    free(line);
    fclose(f);
    return rc;
}

/* The scenario's node-count parameter: "sim.nodes" when it declares it,
 * else its one parameter whose name ends in ".nodes" (e.g. "kv.nodes"),
 * else NULL. */
static const char *deja__judge_nodes_param(const deja_scenario *sc) {
    const char *found = NULL;
    int n = 0;
    for (const deja_param_def *d = sc->params; d && d->key; d++) {
        if (!strcmp(d->key, "sim.nodes")) return d->key;
        size_t len = strlen(d->key);
        if (len > 6 && !strcmp(d->key + len - 6, ".nodes")) {
            found = d->key;
            n++;
        }
    }
    return n == 1 ? found : NULL;
}

/* The scenario's parameters: its defaults, then the overrides it knows;
 * its node-count parameter, when the overrides leave it out, is the
 * cluster's node count. */
static int deja__judge_params(const deja_scenario *sc, const deja_params *overrides, int nodes, deja_params **out,
                              char *err, size_t errlen) {
    deja_params *known = deja_params_new(), *dflt = NULL, *none = deja_params_new();
    int rc = deja_scenario_params(sc, none, &dflt, err, errlen);
    for (int i = 0; !rc && overrides && i < deja_params_count(overrides); i++)
        if (deja_params_get(dflt, deja_params_key(overrides, i)))
            deja_params_set(known, deja_params_key(overrides, i), deja_params_val(overrides, i));
    const char *np = deja__judge_nodes_param(sc);
    if (!rc && np && !deja_params_get(known, np)) {
        char v[16];
        snprintf(v, sizeof v, "%d", nodes);
        deja_params_set(known, np, v);
    }
    if (!rc) rc = deja_scenario_params(sc, known, out, err, errlen);
    deja_params_free(known);
    deja_params_free(none);
    if (dflt) deja_params_free(dflt);
    return rc;
}

int deja_judge_facts(const deja_scenario *sc, const deja_params *overrides, const char *dir, int nodes,
                     deja_summary *out, char *err, size_t errlen) {
    return deja_judge_facts_skewed(sc, overrides, dir, nodes, NULL, out, err, errlen);
}

int deja_judge_facts_skewed(const deja_scenario *sc, const deja_params *overrides, const char *dir, int nodes,
                            const int64_t *skew_ns, deja_summary *out, char *err, size_t errlen) {
    assert(sc && out && nodes >= 0);
    struct stat sb;
    if (dir && (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        snprintf(err, errlen, "%s: not a cluster directory", dir);
        return 2;
    }
    deja_params *p = NULL;
    int rc = deja__judge_params(sc, overrides, nodes, &p, err, errlen);
    if (rc) return rc;
    deja_world *w = deja_world_new(1, p);
    rc = sc->setup(w, p, err, errlen);
    if (!rc && deja_world_nodes(w) != (uint32_t)nodes) {
        const char *np = deja__judge_nodes_param(sc);
        if (np)
            snprintf(err, errlen, "--set %s=%s: scenario %s builds %u nodes, the cluster has %d (leave it out: it "
                     "follows the cluster)", np, deja_params_get(p, np), sc->name, deja_world_nodes(w), nodes);
        else
            snprintf(err, errlen, "scenario %s builds %u nodes, the cluster has %d (set the scenario's node count)",
                     sc->name, deja_world_nodes(w), nodes);
        rc = 2;
    }
    deja__jnode *nd = calloc((size_t)(nodes ? nodes : 1), sizeof *nd);
    if (!nd) abort();
    char path[PATH_MAX];
    for (int i = 0; i < nodes && !rc && dir; i++) {
        snprintf(path, sizeof path, "%s/node-%d/facts", dir, i);
        rc = deja__judge_read(path, i, skew_ns ? skew_ns[i] : 0, &nd[i], err, errlen);
    }
    uint64_t fed = 0, restarts = 0;
    int64_t t0 = INT64_MAX, last = 0;
    for (int i = 0; i < nodes && !rc; i++)
        if (nd[i].n && nd[i].v[0].wall < t0) t0 = nd[i].v[0].wall;
    /* merge: the earliest next line of any node; a node's own lines keep their order */
    for (;;) {
        if (rc) break;
        int best = -1;
        for (int i = 0; i < nodes; i++)
            if (nd[i].next < nd[i].n && (best < 0 || nd[i].v[nd[i].next].wall < nd[best].v[nd[best].next].wall))
                best = i;
        if (best < 0) break;
        deja__jfact *jf = &nd[best].v[nd[best].next++];
        int64_t now = jf->wall - t0;
        if (now < last) now = last; /* a node's clock stepped back: time never does */
        last = now;
        if (!jf->start) {
            deja_world_feed_oracles(w, (uint32_t)best, now, &jf->f);
            fed++;
        } else if (nd[best].next > 1) { /* a restart: the simulator's node events */
            rt_fact ev = {.kind = DEJA_FACT_CRASH};
            deja_world_feed_oracles(w, (uint32_t)best, now, &ev);
            ev.kind = DEJA_FACT_RESTART;
            deja_world_feed_oracles(w, (uint32_t)best, now, &ev);
            restarts++;
        } else {
            deja_world_feed_oracles(w, (uint32_t)best, now, NULL);
        }
    }
    if (!rc) {
        deja_summary_clear(out);
        deja_summary_set(out, "scenario", "%s", sc->name);
        deja_summary_set(out, "verdict", "ok");
        deja_summary_set(out, "facts", "%" PRIu64, fed);
        deja_summary_set(out, "restarts", "%" PRIu64, restarts);
        deja_summary_set(out, "span_ms", "%" PRId64, last / RT_MS);
        deja_world_finish_oracles(w, out);
        rc = strcmp(deja_summary_get(out, "verdict"), "ok") ? 1 : 0;
    }
    for (int i = 0; i < nodes; i++) free(nd[i].v);
    free(nd);
    deja_world_free(w);
    deja_params_free(p);
    return rc;
}
