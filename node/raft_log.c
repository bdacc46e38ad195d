/*
 * raft_log.c -- the durable term, vote and log of a Raft node (see
 * raft_log.h): record formats, loading with validation, appends,
 * truncation and syncs over the rt_file_* calls of the seam.
 */
#include "raft_log.h"

#include <assert.h>
#include <string.h>

#include "codec.h"

#include <xxhash.h>

#define RAFT_STATE_FILE "raft.state"
#define RAFT_LOG_FILE "raft.log"
#define RAFT_LOG_TMP "raft.log.tmp"
#define RAFT__STATE_MAGIC 0x53544652u /* "RFTS" */
#define RAFT__ENTRY_MAGIC 0x45544652u /* "RFTE" */
#define RAFT__STATE_LEN 40
#define RAFT__REC_HDR 16
#define RAFT__REC_MAX (RAFT__REC_HDR + BLOCK_ENCODED_MAX + 8)

/* Makes room for one more in-memory entry. RT_OK or RT_ENOMEM. */
static int raft__reserve(raft_log *l) {
    if (l->n < l->cap) return RT_OK;
    uint64_t cap = l->cap ? 2 * l->cap : 64;
    raft_entry *e = l->e ? rt_realloc(l->e, cap * sizeof *e) : rt_malloc(cap * sizeof *e);
    if (e == NULL) return RT_ENOMEM;
    l->e = e;
    l->cap = cap;
    return RT_OK;
}

/* Adds an entry in memory only (the caller checked it links). */
static int raft__push(raft_log *l, uint64_t term, const block *b, int64_t off) {
    int rc = raft__reserve(l);
    if (rc != RT_OK) return rc;
    raft_entry *e = &l->e[l->n++];
    e->term = term;
    e->b = *b;
    e->off = off;
    block_hash(b, e->hash);
    return RT_OK;
}

/* True when (term, b) may follow the last in-memory entry: the next
 * height, linked by hash, with the state root that follows, and a term
 * neither below the previous entry's nor above max_term. */
static bool raft__links(const raft_log *l, uint64_t term, const block *b, uint64_t max_term) {
    const raft_entry *prev = &l->e[l->n - 1];
    if (b->height != l->base + l->n || memcmp(b->parent, prev->hash, BLOCK_HASH_LEN) != 0) return false;
    if (term < prev->term || term > max_term || term == 0) return false;
    uint8_t root[BLOCK_HASH_LEN];
    block_state_root(prev->b.state_root, b->height, b->payload, b->payload_len, root);
    return memcmp(root, b->state_root, BLOCK_HASH_LEN) == 0;
}

/* Parses one state record; true when it checks out. */
static bool raft__state_parse(const uint8_t *p, uint64_t *seq, uint64_t *term, uint32_t *vote) {
    if (node_get_u32(p) != RAFT__STATE_MAGIC) return false;
    if (XXH3_64bits(p, 32) != node_get_u64(p + 32)) return false;
    uint64_t v = node_get_u64(p + 24);
    if (v > RAFT_VOTE_NONE) return false;
    *seq = node_get_u64(p + 8);
    *term = node_get_u64(p + 16);
    *vote = (uint32_t)v;
    return true;
}

/* Loads the newest valid copy of the state (none: term 0, no vote). */
static void raft__state_load(raft_log *l) {
    l->term = 0;
    l->vote = RAFT_VOTE_NONE;
    l->state_seq = 0;
    bool any = false;
    for (int slot = 0; slot < 2; slot++) {
        uint8_t buf[RAFT__STATE_LEN];
        size_t got = 0;
        if (rt_file_read(l->state_f, slot * l->sector, buf, sizeof buf, &got) != RT_OK || got != sizeof buf)
            continue;
        uint64_t seq, term;
        uint32_t vote;
        if (!raft__state_parse(buf, &seq, &term, &vote)) continue;
        if (!any || seq > l->state_seq) {
            l->state_seq = seq;
            l->term = term;
            l->vote = vote;
            any = true;
        }
    }
}

/* Loads the longest valid prefix of raft.log, and cuts (and syncs) the rest. */
static int raft__log_load(raft_log *l) {
    int64_t size = rt_file_size(l->log_f);
    int64_t off = 0;
    uint8_t buf[RAFT__REC_MAX];
    while (size - off >= RAFT__REC_HDR + BLOCK_HEADER_LEN + 8) {
        size_t got = 0;
        int rc = rt_file_read(l->log_f, off, buf, RAFT__REC_HDR, &got);
        if (rc != RT_OK || got != RAFT__REC_HDR || node_get_u32(buf) != RAFT__ENTRY_MAGIC) break;
        uint32_t blen = node_get_u32(buf + 4);
        if (blen < BLOCK_HEADER_LEN || blen > BLOCK_ENCODED_MAX || size - off < RAFT__REC_HDR + blen + 8) break;
        rc = rt_file_read(l->log_f, off + RAFT__REC_HDR, buf + RAFT__REC_HDR, blen + 8, &got);
        if (rc != RT_OK || got != blen + 8) break;
        if (XXH3_64bits(buf, RAFT__REC_HDR + blen) != node_get_u64(buf + RAFT__REC_HDR + blen)) break;
        uint64_t term = node_get_u64(buf + 8);
        block b;
        if (!block_decode(buf + RAFT__REC_HDR, blen, &b)) break;
        if (off == 0 && b.height > 1 && term <= l->term) { /* a compacted file: its anchor entry */
            assert(l->n == 1 && l->base == 0);
            l->n = 0;
            l->base = b.height;
            rc = raft__push(l, term, &b, off);
            if (rc != RT_OK) return rc;
            off += RAFT__REC_HDR + blen + 8;
            continue;
        }
        if (!raft__links(l, term, &b, l->term)) break;
        rc = raft__push(l, term, &b, off);
        if (rc != RT_OK) return rc;
        off += RAFT__REC_HDR + blen + 8;
    }
    l->end = off;
    if (off < size) {
        l->dropped = 1;
        int rc = rt_file_truncate(l->log_f, off);
        if (rc == RT_OK && l->sync) rc = rt_file_sync(l->log_f);
        if (rc != RT_OK) return rc;
    }
    return RT_OK;
}

int raft_log_open(raft_log *l, bool sync, const raft_entry *start, uint64_t start_index) {
    assert(l != NULL);
    memset(l, 0, sizeof *l);
    l->sync = sync;
    l->found = rt_file_exists(RAFT_STATE_FILE);
    block g;
    block_genesis(&g);
    int rc = raft__push(l, 0, &g, -1);
    if (rc == RT_OK) rc = rt_file_open(RAFT_STATE_FILE, RT_O_CREATE, &l->state_f);
    if (rc == RT_OK) rc = rt_file_open(RAFT_LOG_FILE, RT_O_CREATE, &l->log_f);
    if (rc == RT_OK) {
        l->sector = rt_file_sector_size(l->state_f);
        if (l->sector < RAFT__STATE_LEN) l->sector = RAFT__STATE_LEN;
        raft__state_load(l);
        rc = raft__log_load(l);
    }
    if (rc == RT_OK && start != NULL) {
        /* the log must cover the snapshot's entry; else it restarts there */
        assert(start->b.height == start_index);
        bool covered = start_index >= l->base && start_index <= raft_log_last(l) &&
                       memcmp(raft_log_at(l, start_index)->hash, start->hash, BLOCK_HASH_LEN) == 0;
        if (!covered) rc = raft_log_reset(l, start_index, start->term, &start->b);
    }
    if (rc != RT_OK) raft_log_close(l);
    return rc;
}

void raft_log_close(raft_log *l) {
    if (l == NULL) return;
    if (l->state_f != NULL) rt_file_close(l->state_f);
    if (l->log_f != NULL) rt_file_close(l->log_f);
    if (l->e != NULL) rt_free(l->e);
    memset(l, 0, sizeof *l);
}

int raft_log_save_state(raft_log *l, uint64_t term, uint32_t vote) {
    assert(term >= l->term);
    uint8_t buf[RAFT__STATE_LEN];
    uint64_t seq = l->state_seq + 1;
    node_put_u32(buf, RAFT__STATE_MAGIC);
    node_put_u32(buf + 4, 0);
    node_put_u64(buf + 8, seq);
    node_put_u64(buf + 16, term);
    node_put_u64(buf + 24, vote);
    node_put_u64(buf + 32, XXH3_64bits(buf, 32));
    int rc = rt_file_write(l->state_f, (int64_t)(seq % 2) * l->sector, buf, sizeof buf);
    if (rc == RT_OK && l->sync) rc = rt_file_sync(l->state_f);
    if (rc != RT_OK) return rc;
    l->state_seq = seq;
    l->term = term;
    l->vote = vote;
    return RT_OK;
}

/* Writes (term, b)'s record at the end of raft.log and pushes it. */
static int raft__record(raft_log *l, uint64_t term, const block *b) {
    uint8_t buf[RAFT__REC_MAX];
    size_t blen = block_encode(b, buf + RAFT__REC_HDR, BLOCK_ENCODED_MAX);
    assert(blen >= BLOCK_HEADER_LEN);
    node_put_u32(buf, RAFT__ENTRY_MAGIC);
    node_put_u32(buf + 4, (uint32_t)blen);
    node_put_u64(buf + 8, term);
    node_put_u64(buf + RAFT__REC_HDR + blen, XXH3_64bits(buf, RAFT__REC_HDR + blen));
    size_t len = RAFT__REC_HDR + blen + 8;
    int rc = raft__reserve(l);
    if (rc == RT_OK) rc = rt_file_write(l->log_f, l->end, buf, len);
    if (rc != RT_OK) return rc;
    rc = raft__push(l, term, b, l->end);
    assert(rc == RT_OK); /* reserved above */
    l->end += (int64_t)len;
    return RT_OK;
}

int raft_log_append(raft_log *l, uint64_t term, const block *b) {
    assert(raft__links(l, term, b, l->term));
    return raft__record(l, term, b);
}

int raft_log_truncate(raft_log *l, uint64_t from) {
    assert(from > l->base && from <= raft_log_last(l));
    int64_t off = l->e[from - l->base].off;
    int rc = rt_file_truncate(l->log_f, off);
    if (rc != RT_OK) return rc;
    l->n = from - l->base;
    l->end = off;
    return RT_OK;
}

int raft_log_sync(raft_log *l) { return l->sync ? rt_file_sync(l->log_f) : RT_OK; }

/* Copies the records of entries from `from` on into a new file, synced,
 * and renames it over raft.log. RT_OK and *shift (how far records moved). */
static int raft__rewrite(raft_log *l, uint64_t from, int64_t *shift) {
    int64_t start = from <= raft_log_last(l) ? l->e[from - l->base].off : l->end;
    rt_file *f = NULL;
    (void)rt_file_delete(RAFT_LOG_TMP);
    int rc = rt_file_open(RAFT_LOG_TMP, RT_O_CREATE, &f);
    if (rc != RT_OK) return rc;
    uint8_t buf[4096];
    for (int64_t off = start; off < l->end && rc == RT_OK;) {
        size_t want = (size_t)(l->end - off < (int64_t)sizeof buf ? l->end - off : (int64_t)sizeof buf), got = 0;
        rc = rt_file_read(l->log_f, off, buf, want, &got);
        if (rc == RT_OK && got != want) rc = RT_EIO;
        if (rc == RT_OK) rc = rt_file_write(f, off - start, buf, want);
        off += (int64_t)want;
    }
    if (rc == RT_OK && l->sync) rc = rt_file_sync(f);
    rt_file_close(f);
    if (rc == RT_OK) rc = rt_file_rename(RAFT_LOG_TMP, RAFT_LOG_FILE);
    if (rc != RT_OK) {
        (void)rt_file_delete(RAFT_LOG_TMP);
        return rc;
    }
    rt_file_close(l->log_f);
    l->log_f = NULL;
    rc = rt_file_open(RAFT_LOG_FILE, RT_O_CREATE, &l->log_f);
    *shift = start;
    return rc;
}

int raft_log_compact(raft_log *l, uint64_t upto) {
    assert(upto > l->base && upto <= raft_log_last(l));
    int64_t shift = 0;
    int rc = raft__rewrite(l, upto, &shift); /* entry upto stays as the file's anchor record */
    if (rc != RT_OK) return rc;
    uint64_t drop = upto - l->base;
    memmove(l->e, l->e + drop, (size_t)(l->n - drop) * sizeof *l->e);
    l->n -= drop;
    l->base = upto;
    for (uint64_t i = 0; i < l->n; i++) l->e[i].off -= shift;
    l->end -= shift;
    return RT_OK;
}

int raft_log_reset(raft_log *l, uint64_t index, uint64_t term, const block *b) {
    assert(b->height == index && index > 0);
    int rc = rt_file_truncate(l->log_f, 0);
    if (rc != RT_OK) return rc;
    l->n = 0;
    l->base = index;
    l->end = 0;
    if (index == 1) { /* a file starting at height 1 reads as genesis + entry 1 */
        block g;
        block_genesis(&g);
        l->base = 0;
        rc = raft__push(l, 0, &g, -1);
        if (rc != RT_OK) return rc;
    }
    rc = raft__record(l, term, b); /* the anchor record */
    if (rc == RT_OK && l->sync) rc = rt_file_sync(l->log_f);
    return rc;
}
