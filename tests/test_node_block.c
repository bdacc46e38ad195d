/*
 * test_node_block.c -- the reference node's pure data: the canonical block
 * encoding (round trip, every accepted buffer re-encodes to itself, refusal
 * of truncated, extended and garbled input), pinned hashes (a change to the
 * encoding or the hash function must be deliberate: it forks every stored
 * chain), message framing, and the AuRa engine's stateless rules. Nothing
 * here allocates or needs the simulator running.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "aura.h"
#include "block.h"
#include "codec.h"
#include "msg.h"

/* A block with every field set to something distinct. */
static block sample_block(uint32_t payload_len) {
    block b;
    memset(&b, 0, sizeof b);
    b.height = 0x0102030405060708ull;
    b.slot = 0x1112131415161718ull;
    for (int i = 0; i < BLOCK_HASH_LEN; i++) b.parent[i] = (uint8_t)(0xa0 + i);
    b.proposer = 0xdeadbeef;
    b.timestamp = -1234567890123456789ll;
    for (int i = 0; i < BLOCK_HASH_LEN; i++) b.state_root[i] = (uint8_t)(0x30 + i);
    b.payload_len = payload_len;
    for (uint32_t i = 0; i < payload_len; i++) b.payload[i] = (uint8_t)(i * 7 + 1);
    return b;
}

static void assert_block_equal(const block *a, const block *b) {
    assert_true(a->height == b->height);
    assert_true(a->slot == b->slot);
    assert_memory_equal(a->parent, b->parent, BLOCK_HASH_LEN);
    assert_int_equal(a->proposer, b->proposer);
    assert_true(a->timestamp == b->timestamp);
    assert_memory_equal(a->state_root, b->state_root, BLOCK_HASH_LEN);
    assert_int_equal(a->payload_len, b->payload_len);
    if (a->payload_len) assert_memory_equal(a->payload, b->payload, a->payload_len);
}

static void hex32(const uint8_t h[16], char out[33]) {
    for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

/* ---- encoding ----------------------------------------------------------- */

static void test_round_trip(void **state) {
    (void)state;
    static const uint32_t lens[] = {0, 1, 8, 100, BLOCK_PAYLOAD_MAX};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        block b = sample_block(lens[k]), d;
        uint8_t buf[BLOCK_ENCODED_MAX], again[BLOCK_ENCODED_MAX];
        size_t n = block_encode(&b, buf, sizeof buf);
        assert_int_equal(n, BLOCK_HEADER_LEN + lens[k]);
        assert_true(block_decode(buf, n, &d));
        assert_block_equal(&b, &d);
        assert_int_equal(block_encode(&d, again, sizeof again), n);
        assert_memory_equal(buf, again, n);
        /* too small a buffer is refused, not overrun */
        assert_int_equal(block_encode(&b, buf, n - 1), 0);
    }
}

static void test_layout_is_little_endian(void **state) {
    (void)state;
    block b = sample_block(2);
    uint8_t buf[BLOCK_ENCODED_MAX];
    size_t n = block_encode(&b, buf, sizeof buf);
    assert_int_equal(n, 66);
    static const uint8_t height[8] = {8, 7, 6, 5, 4, 3, 2, 1};
    assert_memory_equal(buf + 0, height, 8);
    assert_int_equal(buf[8], 0x18);
    assert_memory_equal(buf + 16, b.parent, 16);
    static const uint8_t prop[4] = {0xef, 0xbe, 0xad, 0xde};
    assert_memory_equal(buf + 32, prop, 4);
    assert_memory_equal(buf + 44, b.state_root, 16);
    static const uint8_t plen[4] = {2, 0, 0, 0};
    assert_memory_equal(buf + 60, plen, 4);
    assert_int_equal(buf[64], 1);
    assert_int_equal(buf[65], 8);
}

static void test_decode_rejects_malformed(void **state) {
    (void)state;
    block b = sample_block(10), d;
    uint8_t buf[BLOCK_ENCODED_MAX + 8];
    size_t n = block_encode(&b, buf, sizeof buf);
    /* every truncation */
    for (size_t len = 0; len < n; len++) assert_false(block_decode(buf, len, &d));
    /* trailing garbage */
    buf[n] = 0;
    assert_false(block_decode(buf, n + 1, &d));
    assert_false(block_decode(NULL, n, &d));
    /* a payload length that disagrees with the buffer, either way */
    uint8_t g[BLOCK_ENCODED_MAX + 8];
    memcpy(g, buf, n);
    g[60] = 11;
    assert_false(block_decode(g, n, &d));
    g[60] = 9;
    assert_false(block_decode(g, n, &d));
    /* a payload length beyond the maximum, or with high bytes set */
    g[60] = 0;
    g[61] = 0x10; /* 4096 */
    assert_false(block_decode(g, n, &d));
    memcpy(g, buf, n);
    g[63] = 0x80; /* 2^31 + 10: no overflow into a "valid" length */
    assert_false(block_decode(g, n, &d));
    /* the maximum payload still decodes, one more byte does not */
    block m = sample_block(BLOCK_PAYLOAD_MAX);
    size_t mn = block_encode(&m, g, sizeof g);
    assert_true(block_decode(g, mn, &d));
    g[60] = (uint8_t)(BLOCK_PAYLOAD_MAX + 1);
    g[61] = (uint8_t)((BLOCK_PAYLOAD_MAX + 1) >> 8);
    assert_false(block_decode(g, mn + 1, &d));
}

/* xorshift for the fuzz loop (tests may use their own PRNG) */
static uint64_t fuzz_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_decode_fuzz_canonical(void **state) {
    (void)state;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    uint8_t buf[BLOCK_ENCODED_MAX + 16], again[BLOCK_ENCODED_MAX];
    int accepted = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(fuzz_next(&s) % sizeof buf);
        for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)fuzz_next(&s);
        if (len >= BLOCK_HEADER_LEN && (iter & 1)) {
            /* half the time make the length field plausible */
            uint32_t pl = (uint32_t)(len - BLOCK_HEADER_LEN);
            buf[60] = (uint8_t)pl;
            buf[61] = (uint8_t)(pl >> 8);
            buf[62] = buf[63] = 0;
        }
        block d;
        if (!block_decode(buf, len, &d)) continue;
        accepted++;
        /* one byte form: whatever decodes re-encodes to exactly the input */
        size_t n = block_encode(&d, again, sizeof again);
        assert_int_equal(n, len);
        assert_memory_equal(buf, again, len);
    }
    assert_true(accepted > 1000);
}

/* ---- hashes ------------------------------------------------------------- */

static void test_hash_pinned(void **state) {
    (void)state;
    char hex[33];
    uint8_t h[16];
    block g;
    block_genesis(&g);
    block_hash(&g, h);
    hex32(h, hex);
    assert_string_equal(hex, "b388416ffd4823362ffb6918c12c256e");
    /* genesis encodes to 64 zero bytes; the hash is XXH3-128 of them with
     * the high 64 bits first, each half big-endian (the canonical form) */
    uint8_t zeros[BLOCK_HEADER_LEN] = {0};
    XXH128_hash_t raw = XXH3_128bits(zeros, sizeof zeros);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(h[i], (uint8_t)(raw.high64 >> (56 - 8 * i)));
        assert_int_equal(h[8 + i], (uint8_t)(raw.low64 >> (56 - 8 * i)));
    }
    block b = sample_block(8);
    block_hash(&b, h);
    hex32(h, hex);
    assert_string_equal(hex, "9f9db83b7abbb7869a6703596e1814ed");
    uint8_t root[16];
    block_state_root(g.state_root, 1, b.payload, b.payload_len, root);
    hex32(root, hex);
    assert_string_equal(hex, "4052888377aae748d517de9284ec327c");
    char short_hex[17];
    assert_int_equal(strlen(block_hash_hex(h, short_hex)), 16);
}

static void test_hash_covers_every_field(void **state) {
    (void)state;
    block base = sample_block(8);
    uint8_t h0[16], h[16];
    block_hash(&base, h0);
    uint8_t again[16];
    block_hash(&base, again);
    assert_memory_equal(h0, again, 16); /* stable */
    for (int f = 0; f < 8; f++) {
        block b = base;
        switch (f) {
        case 0: b.height++; break;
        case 1: b.slot++; break;
        case 2: b.parent[15] ^= 1; break;
        case 3: b.proposer++; break;
        case 4: b.timestamp++; break;
        case 5: b.state_root[0] ^= 1; break;
        case 6: b.payload[7] ^= 1; break;
        case 7: b.payload_len--; break;
        }
        block_hash(&b, h);
        assert_true(memcmp(h, h0, 16) != 0);
    }
}

static void test_genesis(void **state) {
    (void)state;
    block g;
    memset(&g, 0xff, sizeof g);
    block_genesis(&g);
    assert_true(g.height == 0 && g.slot == 0 && g.proposer == 0 && g.timestamp == 0);
    assert_true(block_hash_is_zero(g.parent));
    assert_int_equal(g.payload_len, 0);
    uint8_t z[16] = {0}, one[16] = {0};
    one[15] = 1;
    assert_true(block_hash_cmp(z, one) < 0);
    assert_false(block_hash_is_zero(one));
}

/* ---- messages ----------------------------------------------------------- */

static void test_msg_framing(void **state) {
    (void)state;
    uint8_t buf[MSG_MAX + 4];
    block b = sample_block(8);
    size_t n = msg_encode_block(&b, buf, sizeof buf);
    assert_int_equal(n, 1 + BLOCK_HEADER_LEN + 8 + NODE_SEAL_LEN);
    assert_int_equal(buf[0], MSG_BLOCK);
    msg m;
    assert_int_equal(msg_decode(buf, n, &m), 0);
    assert_int_equal(m.tag, MSG_BLOCK);
    assert_block_equal(&b, &m.b);
    assert_int_equal(msg_decode(buf, n - 1, &m), RT_EIO); /* truncated: the seal fails */
    assert_int_equal(msg_encode_block(&b, buf, n - 1), 0);
    /* every single bit flipped anywhere is caught by the seal */
    for (size_t bit = 0; bit < n * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(msg_decode(buf, n, &m), RT_EIO);
        assert_int_equal(m.tag, 0);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(msg_decode(buf, n, &m), 0);
    /* sealed, but not a canonical block: refused as malformed, tag kept */
    assert_int_equal(node_seal(buf, n - NODE_SEAL_LEN - 1, sizeof buf), n - 1);
    assert_int_equal(msg_decode(buf, n - 1, &m), RT_EINVAL);
    assert_int_equal(m.tag, MSG_BLOCK); /* says what it claimed to be */

    uint8_t h[16];
    block_hash(&b, h);
    n = msg_encode_get_block(h, buf, sizeof buf);
    assert_int_equal(n, 17 + NODE_SEAL_LEN);
    assert_int_equal(msg_decode(buf, n, &m), 0);
    assert_int_equal(m.tag, MSG_GET_BLOCK);
    assert_memory_equal(m.hash, h, 16);
    assert_int_not_equal(msg_decode(buf, n - 1, &m), 0);
    assert_int_not_equal(msg_decode(buf, n + 1, &m), 0);
    assert_int_equal(msg_encode_get_block(h, buf, n - 1), 0);

    buf[0] = 0x7f; /* an unknown tag, sealed: malformed */
    node_seal(buf, 17, sizeof buf);
    assert_int_equal(msg_decode(buf, n, &m), RT_EINVAL);
    assert_int_not_equal(msg_decode(buf, 0, &m), 0);
    assert_int_equal(m.tag, 0);
}

/* ---- the engine's stateless rules --------------------------------------- */

static void test_aura_rules(void **state) {
    (void)state;
    aura_config cfg = {.self = 0, .n = 4, .slot_ns = RT_SEC, .tolerance_ns = 500 * RT_MS,
                       .confirm_depth = 3, .orphan_max = 8, .defer_max = 8};
    assert_true(aura_slot_at(0, RT_SEC) == 0);
    assert_true(aura_slot_at(RT_SEC - 1, RT_SEC) == 0);
    assert_true(aura_slot_at(RT_SEC, RT_SEC) == 1);
    assert_true(aura_slot_at(-1, RT_SEC) == -1);
    assert_true(aura_slot_at(-RT_SEC, RT_SEC) == -1);
    assert_true(aura_slot_at(-RT_SEC - 1, RT_SEC) == -2);

    block b;
    memset(&b, 0, sizeof b);
    b.height = 5;
    b.slot = 10;
    b.proposer = 2; /* 10 % 4 */
    b.timestamp = 10 * RT_SEC + 250 * RT_MS;
    int64_t wall = 10 * RT_SEC + 300 * RT_MS;
    assert_int_equal(aura_check(&cfg, &b, wall), NODE_REJ_NONE);
    /* within tolerance ahead: accepted here, the caller defers it */
    assert_int_equal(aura_check(&cfg, &b, b.timestamp - 500 * RT_MS), NODE_REJ_NONE);
    assert_int_equal(aura_check(&cfg, &b, b.timestamp - 500 * RT_MS - 1), NODE_REJ_FUTURE);
    assert_int_equal(aura_check(&cfg, &b, INT64_MAX), NODE_REJ_NONE);
    block x = b;
    x.proposer = 3;
    assert_int_equal(aura_check(&cfg, &x, wall), NODE_REJ_PROPOSER);
    x = b;
    x.timestamp = 11 * RT_SEC;
    assert_int_equal(aura_check(&cfg, &x, 20 * RT_SEC), NODE_REJ_SLOT_TIME);
    x = b;
    x.timestamp = -5;
    assert_int_equal(aura_check(&cfg, &x, wall), NODE_REJ_SLOT_TIME);
    x = b;
    x.height = 0;
    assert_int_equal(aura_check(&cfg, &x, wall), NODE_REJ_HEIGHT);

    block parent = b;
    parent.slot = 9;
    assert_int_equal(aura_check_parent(NULL, &b, &parent), NODE_REJ_NONE);
    parent.slot = 10;
    assert_int_equal(aura_check_parent(NULL, &b, &parent), NODE_REJ_PARENT_SLOT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_layout_is_little_endian),
        cmocka_unit_test(test_decode_rejects_malformed),
        cmocka_unit_test(test_decode_fuzz_canonical),
        cmocka_unit_test(test_hash_pinned),
        cmocka_unit_test(test_hash_covers_every_field),
        cmocka_unit_test(test_genesis),
        cmocka_unit_test(test_msg_framing),
        cmocka_unit_test(test_aura_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
