/*
 * diff.c -- deja_diff_traces (deja/debug.h): the first event where two
 * runs part ways, from their text traces.
 *
 * Both traces are read a line at a time, side by side; the only state is
 * the current pair of lines and a ring of the last few equal ones, so a
 * million-event trace costs what a ten-event one does. A line is
 *   #N TIME nNODE[/tTASK] KIND A B [TEXT]
 * (sim/world/trace.c); lines without the leading #N (notes of detectors,
 * the violation marker) are compared as they are.
 */
#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "deja/debug.h"

#define DEJA__DIFF_CTX_MAX 64

/* Reads one line (any length) into *buf; 0 at the end, -1 on error. */
static int deja__getline(FILE *f, char **buf, size_t *cap) {
    ssize_t n = getline(buf, cap, f);
    if (n < 0) return ferror(f) ? -1 : 0;
    if (n > 0 && (*buf)[n - 1] == '\n') (*buf)[n - 1] = 0;
    return 1;
}

/* The parts of an event line. */
typedef struct deja__ev {
    uint64_t n;
    int64_t t;
    int node;
    uint64_t task;
    char kind[24];
    const char *spawn_b; /* a spawn's B field (its source line), to skip */
    size_t spawn_b_len;
} deja__ev;

/* Parses an event line; 0 when it is not one. */
static int deja__parse(const char *s, deja__ev *e) {
    memset(e, 0, sizeof *e);
    e->t = -1;
    e->node = -1;
    if (*s != '#') return 0;
    char *end;
    e->n = strtoull(s + 1, &end, 10);
    if (*end != ' ') return 0;
    e->t = strtoll(end + 1, &end, 10);
    if (*end != ' ' || end[1] != 'n') return 0;
    e->node = (int)strtol(end + 2, &end, 10);
    if (*end == '/' && end[1] == 't') e->task = strtoull(end + 2, &end, 10);
    if (*end != ' ') return 0;
    const char *k = end + 1;
    size_t kl = strcspn(k, " ");
    if (kl >= sizeof e->kind) kl = sizeof e->kind - 1;
    memcpy(e->kind, k, kl);
    if (!strcmp(e->kind, "spawn")) {
        /* #N T nX spawn A B NAME: B is the source line */
        const char *p = k + strcspn(k, " ");
        if (*p) p++;
        p += strcspn(p, " "); /* past A */
        if (*p) {
            p++;
            e->spawn_b = p;
            e->spawn_b_len = strcspn(p, " ");
        }
    }
    return 1;
}

/* Lines equal for the digest: spawn lines compare without their B. */
static int deja__same(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    deja__ev ea, eb;
    if (!deja__parse(a, &ea) || !deja__parse(b, &eb) || !ea.spawn_b || !eb.spawn_b) return 0;
    size_t pa = (size_t)(ea.spawn_b - a), pb = (size_t)(eb.spawn_b - b);
    return pa == pb && !strncmp(a, b, pa) && !strcmp(ea.spawn_b + ea.spawn_b_len, eb.spawn_b + eb.spawn_b_len);
}

int deja_diff_traces(FILE *a, FILE *b, int context, FILE *out, deja_diff_result *res) {
    assert(a && b && res);
    if (context < 0) context = 0;
    if (context > DEJA__DIFF_CTX_MAX) context = DEJA__DIFF_CTX_MAX;
    memset(res, 0, sizeof *res);
    res->t = -1;
    res->node = -1;
    char *la = NULL, *lb = NULL;
    size_t ca = 0, cb = 0;
    char *ring[DEJA__DIFF_CTX_MAX] = {0};
    size_t ring_cap[DEJA__DIFF_CTX_MAX] = {0};
    uint64_t nring = 0;
    int rc = 0;
    for (;;) {
        int ra = deja__getline(a, &la, &ca), rb = deja__getline(b, &lb, &cb);
        if (ra < 0 || rb < 0) {
            rc = 2;
            break;
        }
        res->lines_a += ra == 1;
        res->lines_b += rb == 1;
        if (ra == 0 && rb == 0) break;
        if (ra == 1 && rb == 1 && deja__same(la, lb)) {
            if (context > 0) {
                size_t slot = nring % (uint64_t)context, len = strlen(la) + 1;
                if (ring_cap[slot] < len) {
                    ring[slot] = realloc(ring[slot], len);
                    assert(ring[slot]);
                    ring_cap[slot] = len;
                }
                memcpy(ring[slot], la, len);
                nring++;
            }
            continue;
        }
        /* the first difference */
        res->differ = 1;
        res->line = (ra ? res->lines_a : res->lines_b);
        deja__ev e;
        if ((ra == 1 && deja__parse(la, &e)) || (rb == 1 && deja__parse(lb, &e))) {
            res->event = e.n;
            res->t = e.t;
            res->node = e.node;
            res->task = e.task;
            snprintf(res->kind, sizeof res->kind, "%s", e.kind);
        }
        if (out) {
            fprintf(out, "first difference: line %" PRIu64, res->line);
            if (res->event) fprintf(out, ", event #%" PRIu64, res->event);
            if (res->t >= 0)
                fprintf(out, ", t=%" PRId64 ".%09" PRId64 " s (%" PRId64 " ns)", res->t / 1000000000,
                        res->t % 1000000000, res->t);
            if (res->node >= 0) fprintf(out, ", node %d", res->node);
            if (res->task) fprintf(out, ", task %" PRIu64, res->task);
            if (res->kind[0]) fprintf(out, ", %s", res->kind);
            fprintf(out, "\n  A: %s\n  B: %s\n", ra == 1 ? la : "(ends here)", rb == 1 ? lb : "(ends here)");
            uint64_t shown = nring < (uint64_t)context ? nring : (uint64_t)context;
            if (shown) fprintf(out, "the %" PRIu64 " events before it (the same in both):\n", shown);
            for (uint64_t i = nring - shown; i < nring; i++) fprintf(out, "  %s\n", ring[i % (uint64_t)context]);
        }
        rc = 1;
        break;
    }
    for (int i = 0; i < DEJA__DIFF_CTX_MAX; i++) free(ring[i]);
    free(la);
    free(lb);
    return rc;
}
