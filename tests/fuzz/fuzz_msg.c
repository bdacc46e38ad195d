/*
 * fuzz_msg.c -- libFuzzer target for the reference node's gossip messages
 * (node/msg.c: blocks, block requests, transactions) and the block encoding
 * under them (node/block.c).
 *
 * Whatever the bytes, msg_decode must not read past them or crash; and what
 * it accepts (the input, and the input sealed) must be canonical: re-encoding the decoded message gives back
 * exactly the input bytes (the same for block_decode on the raw input).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deja/rt.h"
#include "codec.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes one message and, when accepted, checks it re-encodes to itself. */
static void check_msg(const uint8_t *data, size_t size) {
    static uint8_t out[MSG_MAX + 16];
    msg m;
    if (msg_decode(data, size, &m) == RT_OK) {
        size_t n = 0;
        if (m.tag == MSG_BLOCK) n = msg_encode_block(&m.b, out, sizeof out);
        else if (m.tag == MSG_GET_BLOCK) n = msg_encode_get_block(m.hash, out, sizeof out);
        else if (m.tag == MSG_TX) n = msg_encode_tx(m.tx, out, sizeof out);
        else abort(); /* accepted a tag this check does not know: teach it */
        if (n != size || memcmp(out, data, size)) abort(); /* accepted but not canonical */
    }
}

/* The input as a message as it came (the seal almost never holds), as a
 * body with its seal appended (so the checks past the seal get covered),
 * and as a raw block. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t out[MSG_MAX + 16], sealed[MSG_MAX + 16];
    check_msg(data, size);
    if (size + NODE_SEAL_LEN <= sizeof sealed) {
        memcpy(sealed, data, size);
        check_msg(sealed, node_seal(sealed, size, sizeof sealed));
    }
    block b;
    if (block_decode(data, size, &b)) {
        size_t n = block_encode(&b, out, sizeof out);
        if (n != size || memcmp(out, data, size)) abort();
        uint8_t h[BLOCK_HASH_LEN];
        block_hash(&b, h);
    }
    return 0;
}
