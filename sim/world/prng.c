/*
 * prng.c -- the simulator's pseudo-random streams.
 *
 * xoshiro256** seeded through splitmix64 from (master seed, stream name):
 * every subsystem (clock, net, node i, ...) draws from its own stream, so
 * adding a draw in one model never shifts the numbers another one sees.
 */
#include <assert.h>
#include <string.h>
#include <xxhash.h>

#include "deja/world.h"

static uint64_t deja__splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void deja_prng_init(deja_prng *r, uint64_t seed, const char *name) {
    uint64_t x = seed ^ XXH3_64bits(name, strlen(name));
    for (int i = 0; i < 4; i++) r->s[i] = deja__splitmix(&x);
    assert(r->s[0] | r->s[1] | r->s[2] | r->s[3]);
}

static inline uint64_t deja__rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t deja_prng_next(deja_prng *r) {
    uint64_t *s = r->s;
    uint64_t out = deja__rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = deja__rotl(s[3], 45);
    return out;
}

uint64_t deja_prng_below(deja_prng *r, uint64_t n) {
    assert(n > 0);
    /* rejection sampling: the zone is the largest multiple of n below 2^64 */
    uint64_t limit = -n % n; /* (2^64 - n) mod n == 2^64 mod n */
    for (;;) {
        uint64_t x = deja_prng_next(r);
        if (x >= limit) return x % n;
    }
}

int64_t deja_prng_range(deja_prng *r, int64_t lo, int64_t hi) {
    assert(lo <= hi);
    uint64_t span = (uint64_t)hi - (uint64_t)lo;
    if (span == UINT64_MAX) return (int64_t)deja_prng_next(r);
    return (int64_t)((uint64_t)lo + deja_prng_below(r, span + 1));
}

int deja_prng_chance_ppm(deja_prng *r, uint32_t ppm) {
    if (ppm == 0) return 0;
    if (ppm >= 1000000) return 1;
    return deja_prng_below(r, 1000000) < ppm;
}
