/*
 * summary.c -- a run's summary: ordered key=value pairs, printed one a line
 * by `deja run` and stored as a row by sweeps.
 */
#include <assert.h>
#include <stdarg.h>
#include <string.h>

#include "deja/deja.h"

void deja_summary_clear(deja_summary *s) { s->n = 0; }

void deja_summary_set(deja_summary *s, const char *key, const char *fmt, ...) {
    int i;
    for (i = 0; i < s->n; i++)
        if (!strcmp(s->key[i], key)) break;
    if (i == s->n) {
        assert(s->n < DEJA_SUMMARY_MAX);
        if (s->n >= DEJA_SUMMARY_MAX) return;
        snprintf(s->key[i], sizeof s->key[i], "%s", key);
        s->n++;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->val[i], sizeof s->val[i], fmt, ap);
    va_end(ap);
}

const char *deja_summary_get(const deja_summary *s, const char *key) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->key[i], key)) return s->val[i];
    return NULL;
}

void deja_summary_print(const deja_summary *s, FILE *out) {
    for (int i = 0; i < s->n; i++) fprintf(out, "%s=%s\n", s->key[i], s->val[i]);
}

void deja_summary_fail(deja_summary *s, const char *verdict) {
    assert(verdict && *verdict && strcmp(verdict, "ok"));
    const char *v = deja_summary_get(s, "verdict");
    if (!v || !strcmp(v, "ok")) deja_summary_set(s, "verdict", "%s", verdict);
}
