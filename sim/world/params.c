/*
 * params.c -- ordered key=value parameter sets and the number parsers that
 * every scenario and command shares (integers, and decimals as fixed point
 * so no floating point reaches the simulation).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/deja.h"

#define DEJA__PKEY 64
#define DEJA__PVAL 128

typedef struct deja__param {
    char key[DEJA__PKEY];
    char val[DEJA__PVAL];
} deja__param;

struct deja_params {
    deja__param *v;
    int n, cap;
};

deja_params *deja_params_new(void) {
    deja_params *p = calloc(1, sizeof *p);
    assert(p);
    return p;
}

void deja_params_free(deja_params *p) {
    if (!p) return;
    free(p->v);
    free(p);
}

/* Room for at least n entries. */
static void deja__params_reserve(deja_params *p, int n) {
    if (n <= p->cap) return;
    while (p->cap < n) p->cap = p->cap ? 2 * p->cap : 16;
    p->v = realloc(p->v, (size_t)p->cap * sizeof *p->v);
    assert(p->v);
}

int deja_params_set(deja_params *p, const char *key, const char *val) {
    size_t klen = strlen(key), vlen = strlen(val);
    if (klen >= DEJA__PKEY || vlen >= DEJA__PVAL) return -1;
    for (int i = 0; i < p->n; i++)
        if (p->v[i].key[0] == key[0] && !strcmp(p->v[i].key, key)) {
            memmove(p->v[i].val, val, vlen + 1);
            return 0;
        }
    deja__params_reserve(p, p->n + 1);
    memcpy(p->v[p->n].key, key, klen + 1);
    memcpy(p->v[p->n].val, val, vlen + 1);
    p->n++;
    return 0;
}

int deja_params_parse(deja_params *p, const char *kv, char *err, size_t errlen) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errlen, "'%s' is not of the form key=value", kv);
        return 2;
    }
    char key[DEJA__PKEY];
    size_t klen = (size_t)(eq - kv);
    if (klen >= sizeof key || strlen(eq + 1) >= DEJA__PVAL) {
        snprintf(err, errlen, "'%s' is too long", kv);
        return 2;
    }
    memcpy(key, kv, klen);
    key[klen] = 0;
    deja_params_set(p, key, eq + 1);
    return 0;
}

const char *deja_params_get(const deja_params *p, const char *key) {
    if (!p) return NULL;
    for (int i = 0; i < p->n; i++) /* the first byte first: most keys differ there */
        if (p->v[i].key[0] == key[0] && !strcmp(p->v[i].key, key)) return p->v[i].val;
    return NULL;
}

int deja_params_count(const deja_params *p) { return p ? p->n : 0; }

const char *deja_params_key(const deja_params *p, int i) {
    assert(i >= 0 && i < p->n);
    return p->v[i].key;
}

const char *deja_params_val(const deja_params *p, int i) {
    assert(i >= 0 && i < p->n);
    return p->v[i].val;
}

deja_params *deja_params_clone(const deja_params *p) {
    deja_params *c = deja_params_new();
    if (p && p->n > 0) { /* its keys are distinct already: the entries as they are */
        deja__params_reserve(c, p->n);
        memcpy(c->v, p->v, (size_t)p->n * sizeof *p->v);
        c->n = p->n;
    }
    return c;
}

int deja_parse_i64(const char *s, int64_t *out) {
    if (!s || !*s || isspace((unsigned char)*s)) return 2;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return 2;
    *out = (int64_t)v;
    return 0;
}

int deja_parse_fixed9(const char *s, int64_t *out) {
    if (!s || !*s) return 2;
    int neg = 0;
    if (*s == '-' || *s == '+') neg = (*s++ == '-');
    if (!isdigit((unsigned char)*s) && *s != '.') return 2;
    int64_t whole = 0, frac = 0;
    int fdigits = 0, any = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (whole > (INT64_MAX / 1000000000 - 9) / 10) return 2;
        whole = whole * 10 + (*s - '0');
        any = 1;
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++) {
            if (fdigits == 9) return 2; /* finer than a nanounit: refuse, never round */
            frac = frac * 10 + (*s - '0');
            fdigits++;
            any = 1;
        }
    }
    if (*s || !any) return 2;
    while (fdigits++ < 9) frac *= 10;
    int64_t v = whole * 1000000000 + frac;
    *out = neg ? -v : v;
    return 0;
}

int deja_params_i64(const deja_params *p, const char *key, int64_t lo, int64_t hi, int64_t *out,
                    char *err, size_t errlen) {
    const char *v = deja_params_get(p, key);
    if (!v || deja_parse_i64(v, out) != 0 || *out < lo || *out > hi) {
        snprintf(err, errlen, "parameter %s=%s: expected an integer in [%lld, %lld]", key, v ? v : "(unset)",
                 (long long)lo, (long long)hi);
        return 2;
    }
    return 0;
}

int deja_params_fixed9(const deja_params *p, const char *key, int64_t lo, int64_t hi, int64_t *out,
                       char *err, size_t errlen) {
    const char *v = deja_params_get(p, key);
    if (!v || deja_parse_fixed9(v, out) != 0 || *out < lo * 1000000000 || *out > hi * 1000000000) {
        snprintf(err, errlen, "parameter %s=%s: expected a number in [%lld, %lld]", key, v ? v : "(unset)",
                 (long long)lo, (long long)hi);
        return 2;
    }
    return 0;
}
