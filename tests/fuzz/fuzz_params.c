/*
 * fuzz_params.c -- libFuzzer target for the command-line value parsers:
 * --set key=value (deja_params_parse), --grid axes (deja_grid_add, lists and
 * lo:hi:step ranges), and the strict number parsers (deja_parse_u64,
 * deja_parse_fixed9).
 *
 * The input is split at newlines; each line is tried as an override, as a
 * grid axis (up to the axis limit) and as numbers. Nothing may crash, a
 * failure must leave a message, and a number that parses must print back
 * to a string that parses to the same value.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deja/deja.h"
#include "deja/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = 0;
    deja_params *p = deja_params_new();
    deja_grid g;
    deja_grid_init(&g);
    char err[512];
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        err[0] = 0;
        if (deja_params_parse(p, line, err, sizeof err) && !err[0]) abort();
        err[0] = 0;
        if (g.n < 3 && deja_grid_add(&g, line, err, sizeof err) && !err[0]) abort();
        uint64_t u, u2;
        if (deja_parse_u64(line, &u) == 0) {
            char b[32];
            snprintf(b, sizeof b, "%" PRIu64, u);
            if (deja_parse_u64(b, &u2) || u2 != u) abort();
        }
        int64_t f;
        (void)deja_parse_fixed9(line, &f);
    }
    size_t pts = deja_grid_points(&g);
    if (pts) {
        deja_params *q = deja_params_new();
        deja_grid_point(&g, pts - 1, q);
        deja_params_free(q);
    }
    char key[4096];
    deja_sweep_params_key(p, key, sizeof key);
    deja_params *c = deja_params_clone(p);
    deja_params_free(c);
    deja_grid_free(&g);
    deja_params_free(p);
    free(text);
    return 0;
}
