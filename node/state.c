/*
 * state.c -- the account -> balance state machine and its Merkle tree (see
 * state.h): hashing, incremental path updates on apply, and the range roots
 * snapshot sync uses to verify a chunk against the root.
 */
#include "state.h"

#include <assert.h>
#include <string.h>

#include "codec.h"

#include <xxhash.h>

static void state__canon(XXH128_hash_t h, uint8_t out[STATE_HASH_LEN]) {
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    memcpy(out, c.digest, STATE_HASH_LEN);
}

void state_hash_leaf(uint32_t account, uint64_t balance, uint8_t out[STATE_HASH_LEN]) {
    uint8_t buf[12];
    node_put_u32(buf, account);
    node_put_u64(buf + 4, balance);
    state__canon(XXH3_128bits(buf, sizeof buf), out);
}

void state_hash_pair(const uint8_t l[STATE_HASH_LEN], const uint8_t r[STATE_HASH_LEN], uint8_t out[STATE_HASH_LEN]) {
    uint8_t buf[2 * STATE_HASH_LEN];
    memcpy(buf, l, STATE_HASH_LEN);
    memcpy(buf + STATE_HASH_LEN, r, STATE_HASH_LEN);
    state__canon(XXH3_128bits(buf, sizeof buf), out);
}

/* Recomputes the leaf of account a and every inner node above it. */
static void state__update_path(state_t *s, uint32_t a) {
    uint32_t k = STATE_ACCOUNTS + a;
    state_hash_leaf(a, s->bal[a], s->tree[k]);
    for (k /= 2; k >= 1; k /= 2) state_hash_pair(s->tree[2 * k], s->tree[2 * k + 1], s->tree[k]);
}

/* Rebuilds the whole tree from the balances. */
static void state__rebuild(state_t *s) {
    for (uint32_t a = 0; a < STATE_ACCOUNTS; a++) state_hash_leaf(a, s->bal[a], s->tree[STATE_ACCOUNTS + a]);
    for (uint32_t k = STATE_ACCOUNTS - 1; k >= 1; k--) state_hash_pair(s->tree[2 * k], s->tree[2 * k + 1], s->tree[k]);
}

void state_init(state_t *s) {
    assert(s != NULL);
    memset(s, 0, sizeof *s);
    state__rebuild(s);
}

void state_load(state_t *s, const uint64_t bal[STATE_ACCOUNTS]) {
    assert(s != NULL && bal != NULL);
    memcpy(s->bal, bal, sizeof s->bal);
    state__rebuild(s);
}

void state_apply(state_t *s, const uint8_t *payload, uint32_t len) {
    assert(s != NULL);
    if (len < 8) return;
    uint64_t tx = node_get_u64(payload);
    uint32_t from = (uint32_t)(tx & 0xff), to = (uint32_t)((tx >> 8) & 0xff);
    uint64_t amount = (tx >> 16) % 1000 + 1;
    if (s->bal[from] >= amount) {
        s->bal[from] -= amount;
        s->bal[to] += amount;
        state__update_path(s, from);
    } else {
        s->bal[to] += amount; /* minted: a block reward */
    }
    state__update_path(s, to);
}

const uint8_t *state_root(const state_t *s) { return s->tree[1]; }

uint32_t state_range_node(uint32_t first, uint32_t count) {
    assert(count >= 1 && count <= STATE_ACCOUNTS && (count & (count - 1)) == 0 && first % count == 0);
    return (STATE_ACCOUNTS + first) / count;
}

void state_range_root(uint32_t first, uint32_t count, const uint64_t *bal, uint8_t out[STATE_HASH_LEN]) {
    assert(count >= 1 && count <= STATE_ACCOUNTS && (count & (count - 1)) == 0 && first % count == 0);
    uint8_t h[STATE_ACCOUNTS][STATE_HASH_LEN];
    for (uint32_t i = 0; i < count; i++) state_hash_leaf(first + i, bal[i], h[i]);
    for (uint32_t n = count; n > 1; n /= 2)
        for (uint32_t i = 0; i < n / 2; i++) state_hash_pair(h[2 * i], h[2 * i + 1], h[i]);
    memcpy(out, h[0], STATE_HASH_LEN);
}
