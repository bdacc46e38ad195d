/*
 * net_latency.c -- how long a message takes on one link: the base latency
 * (net.latency_ms, or a matrix of latencies between regions), the uniform
 * jitter, a long Pareto tail computed in fixed point, and the bandwidth of
 * the link (a message waits for the link's wire to be free, then takes
 * len * 8 / bandwidth on it).
 *
 * No floating point: the tail is 2^(-log2(U) / alpha) with log2 and 2^x in
 * Q32 integer arithmetic, so every compiler and optimisation level draws
 * the same latencies from the same seed.
 */
#include <assert.h>
#include <stdlib.h>

#include "net.h"

uint64_t deja__log2_q32(uint64_t k) {
    assert(k >= 1);
    int ip = 63 - __builtin_clzll(k);
    /* x = k / 2^ip in [1, 2), as Q31 */
    uint64_t x = ip <= 31 ? k << (31 - ip) : k >> (ip - 31);
    uint64_t frac = 0;
    for (int i = 0; i < 32; i++) {
        x = (x * x) >> 31; /* x < 2^32: the square fits */
        if (x >= (1ull << 32)) {
            x >>= 1;
            frac |= 1ull << (31 - i);
        }
    }
    return ((uint64_t)ip << 32) | frac;
}

uint64_t deja__exp2_q32(uint64_t y) {
    uint64_t ip = y >> 32, f = y & 0xffffffffull;
    assert(ip <= 30);
    /* 2^f = e^(f ln 2), its series to the 7th power (error < 2e-6 on [0, 1)) */
    static const uint64_t c[7] = {2977044472u, 1031764991u, 238388332u, 41309550u, 5726720u, 661577u, 65510u};
    uint64_t p = c[6];
    for (int i = 5; i >= 0; i--) p = c[i] + ((p * f) >> 32);
    uint64_t r = (1ull << 32) + ((p * f) >> 32);
    return r << ip;
}

/* The Pareto tail added to a link whose base latency is base: base * (X - 1)
 * with X = U^(-1/alpha) (X >= 1, so the tail is >= 0), capped. */
static int64_t deja__tail(deja__net *n, int64_t base) {
    uint64_t k = (deja_prng_next(n->lat_rng) >> 32) + 1; /* U = k / 2^32 in (0, 1] */
    uint64_t neglog = (32ull << 32) - deja__log2_q32(k); /* -log2(U), Q32, <= 32 */
    uint64_t alpha = (uint64_t)n->tail_alpha9 / 1000000; /* alpha in thousandths, >= 100 */
    uint64_t y = neglog / 1000 * 1000000 / alpha;        /* -log2(U) / alpha, Q32 */
    if (y >= (30ull << 32)) return n->tail_max_ns;
    uint64_t m = deja__exp2_q32(y) - (1ull << 32); /* X - 1, Q32 */
    uint64_t base_us = (uint64_t)base / 1000;
    uint64_t tail_us = (m >> 32) * base_us + (((m & 0xffffffffull) * base_us) >> 32);
    if (tail_us >= (uint64_t)n->tail_max_ns / 1000) return n->tail_max_ns;
    return (int64_t)tail_us * 1000;
}

int64_t deja__net_latency(deja_world *w, uint32_t from, uint32_t to, size_t len) {
    assert(from != to);
    deja__net *n = w->net;
    int64_t base = w->net_latency;
    if (n && n->regions) base = n->region_ns[(from % n->regions) * n->regions + to % n->regions];
    int64_t lat = base;
    if (w->net_jitter > 0) lat += deja_prng_range(w->net_rng, -w->net_jitter, w->net_jitter);
    if (lat < 0) lat = 0;
    if (!n) return lat;
    if (n->tail) lat += deja__tail(n, base);
    if (n->bandwidth_kbps > 0) {
        if (n->busy_n != w->n_nodes) {
            free(n->busy_until);
            n->busy_n = w->n_nodes;
            n->busy_until = calloc((size_t)n->busy_n * n->busy_n, sizeof *n->busy_until);
            assert(n->busy_until);
        }
        int64_t *busy = &n->busy_until[(size_t)from * n->busy_n + to];
        int64_t wire = (int64_t)len * 8000000 / n->bandwidth_kbps; /* ns on the wire */
        int64_t start = *busy > w->now ? *busy : w->now;
        *busy = start + wire;
        lat += *busy - w->now;
    }
    return lat;
}
