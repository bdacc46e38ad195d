/*
 * sweep_grid.c -- the parameter grid of a sweep: axes given as value lists
 * ("key=a,b,c") or inclusive ranges ("key=lo:hi:step"), and the points of
 * their cartesian product.
 *
 * Ranges are computed in fixed point (10^-9 units, deja_parse_fixed9) as
 * lo + i*step, so decimal steps never accumulate rounding error, and every
 * value is printed in its shortest exact form ("0.5", "2", "-1.25").
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/sweep.h"

void deja_grid_init(deja_grid *g) { memset(g, 0, sizeof *g); }

void deja_grid_free(deja_grid *g) {
    if (!g) return;
    for (int a = 0; a < g->n; a++) {
        for (size_t i = 0; i < g->axis[a].n; i++) free(g->axis[a].vals[i]);
        free(g->axis[a].vals);
    }
    memset(g, 0, sizeof *g);
}

/* Prints fixed-point v (units of 10^-9) in its shortest exact form. */
static void grid__fmt(int64_t v, char *buf, size_t len) {
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t whole = mag / 1000000000u, frac = mag % 1000000000u;
    if (!frac) {
        snprintf(buf, len, "%s%llu", v < 0 ? "-" : "", (unsigned long long)whole);
        return;
    }
    char f[16];
    snprintf(f, sizeof f, "%09llu", (unsigned long long)frac);
    size_t n = strlen(f);
    while (n > 1 && f[n - 1] == '0') f[--n] = 0;
    snprintf(buf, len, "%s%llu.%s", v < 0 ? "-" : "", (unsigned long long)whole, f);
}

/* Appends a value to an axis (the axis owns a copy). */
static void grid__push(deja_grid_axis *ax, const char *v, size_t *cap) {
    if (ax->n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        ax->vals = realloc(ax->vals, *cap * sizeof *ax->vals);
        assert(ax->vals);
    }
    ax->vals[ax->n] = strdup(v);
    assert(ax->vals[ax->n]);
    ax->n++;
}

/* Expands "lo:hi:step" into ax. 0, or 2 with err. */
static int grid__range(deja_grid_axis *ax, const char *spec, const char *rng, char *err, size_t errlen) {
    char a[64], b[64], c[64];
    const char *p1 = strchr(rng, ':');
    const char *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
    if (!p1 || !p2 || strchr(p2 + 1, ':')) {
        snprintf(err, errlen, "--grid '%s': a range is lo:hi:step (three numbers)", spec);
        return 2;
    }
    size_t la = (size_t)(p1 - rng), lb = (size_t)(p2 - p1 - 1);
    if (la >= sizeof a || lb >= sizeof b || strlen(p2 + 1) >= sizeof c) {
        snprintf(err, errlen, "--grid '%s': number too long", spec);
        return 2;
    }
    memcpy(a, rng, la);
    a[la] = 0;
    memcpy(b, p1 + 1, lb);
    b[lb] = 0;
    snprintf(c, sizeof c, "%s", p2 + 1);
    int64_t lo, hi, step;
    const char *bad = deja_parse_fixed9(a, &lo) ? a : deja_parse_fixed9(b, &hi) ? b
                                                  : deja_parse_fixed9(c, &step) ? c
                                                                                 : NULL;
    if (bad) {
        snprintf(err, errlen, "--grid '%s': '%s' is not a number (integer or decimal, up to 9 decimals)", spec,
                 bad);
        return 2;
    }
    if (step <= 0) {
        snprintf(err, errlen, "--grid '%s': step must be greater than 0", spec);
        return 2;
    }
    if (lo > hi) {
        snprintf(err, errlen, "--grid '%s': lo (%s) is greater than hi (%s)", spec, a, b);
        return 2;
    }
    /* hi - lo may overflow int64 when the signs differ: compute unsigned. */
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    uint64_t count = span / (uint64_t)step + 1;
    if (count > DEJA_GRID_MAX_VALUES) {
        snprintf(err, errlen, "--grid '%s': %llu values, more than the limit of %d", spec,
                 (unsigned long long)count, DEJA_GRID_MAX_VALUES);
        return 2;
    }
    size_t cap = 0;
    for (uint64_t i = 0; i < count; i++) {
        char buf[48];
        grid__fmt((int64_t)((uint64_t)lo + i * (uint64_t)step), buf, sizeof buf);
        grid__push(ax, buf, &cap);
    }
    return 0;
}

/* Splits "a,b,c" into ax. 0, or 2 with err. */
static int grid__list(deja_grid_axis *ax, const char *spec, const char *list, char *err, size_t errlen) {
    size_t cap = 0;
    const char *s = list;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n == 0) {
            snprintf(err, errlen, "--grid '%s': empty value in the list", spec);
            return 2;
        }
        char v[128];
        if (n >= sizeof v) {
            snprintf(err, errlen, "--grid '%s': value too long", spec);
            return 2;
        }
        memcpy(v, s, n);
        v[n] = 0;
        for (size_t i = 0; i < ax->n; i++)
            if (!strcmp(ax->vals[i], v)) {
                snprintf(err, errlen, "--grid '%s': value '%s' given twice", spec, v);
                return 2;
            }
        if (ax->n >= DEJA_GRID_MAX_VALUES) {
            snprintf(err, errlen, "--grid '%s': more than %d values", spec, DEJA_GRID_MAX_VALUES);
            return 2;
        }
        grid__push(ax, v, &cap);
        if (!e) break;
        s = e + 1;
    }
    return 0;
}

int deja_grid_add(deja_grid *g, const char *spec, char *err, size_t errlen) {
    assert(g && spec);
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec) {
        snprintf(err, errlen, "--grid '%s': expected key=a,b,c or key=lo:hi:step", spec);
        return 2;
    }
    if (!eq[1]) {
        snprintf(err, errlen, "--grid '%s': no values", spec);
        return 2;
    }
    if (g->n >= DEJA_GRID_MAX_AXES) {
        snprintf(err, errlen, "--grid '%s': more than %d axes", spec, DEJA_GRID_MAX_AXES);
        return 2;
    }
    deja_grid_axis ax;
    memset(&ax, 0, sizeof ax);
    size_t klen = (size_t)(eq - spec);
    if (klen >= sizeof ax.key) {
        snprintf(err, errlen, "--grid '%s': key too long", spec);
        return 2;
    }
    memcpy(ax.key, spec, klen);
    ax.key[klen] = 0;
    for (int a = 0; a < g->n; a++)
        if (!strcmp(g->axis[a].key, ax.key)) {
            snprintf(err, errlen, "--grid '%s': '%s' already has an axis", spec, ax.key);
            return 2;
        }
    int rc = strchr(eq + 1, ':') && !strchr(eq + 1, ',') ? grid__range(&ax, spec, eq + 1, err, errlen)
                                                         : grid__list(&ax, spec, eq + 1, err, errlen);
    if (rc == 0 && ax.n * (size_t)deja_grid_points(g) > DEJA_GRID_MAX_POINTS) {
        snprintf(err, errlen, "--grid '%s': the grid would have more than %d points", spec,
                 DEJA_GRID_MAX_POINTS);
        rc = 2;
    }
    if (rc) {
        for (size_t i = 0; i < ax.n; i++) free(ax.vals[i]);
        free(ax.vals);
        return rc;
    }
    assert(ax.n > 0);
    g->axis[g->n++] = ax;
    return 0;
}

size_t deja_grid_points(const deja_grid *g) {
    size_t n = 1;
    for (int a = 0; g && a < g->n; a++) n *= g->axis[a].n;
    return n;
}

void deja_grid_point(const deja_grid *g, size_t i, deja_params *into) {
    if (!g) return;
    assert(i < deja_grid_points(g));
    size_t idx[DEJA_GRID_MAX_AXES];
    for (int a = g->n - 1; a >= 0; a--) {
        idx[a] = i % g->axis[a].n;
        i /= g->axis[a].n;
    }
    for (int a = 0; a < g->n; a++) {
        int rc = deja_params_set(into, g->axis[a].key, g->axis[a].vals[idx[a]]);
        assert(rc == 0);
        (void)rc;
    }
}
