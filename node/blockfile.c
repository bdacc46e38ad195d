/*
 * blockfile.c -- the node's received-block file, a mapped file of
 * fixed-size records (see blockfile.h).
 *
 * A record is the block's canonical encoding followed by its body, filled
 * with bytes drawn from the block's hash (so every page of it is touched).
 * With release on, once more than keep records are in the file the
 * pages before the oldest kept record are dropped after each append; a
 * full file is unmapped and a fresh one mapped. Without release, nothing is
 * dropped: the whole file stays resident until the next one replaces it.
 */
#include "blockfile.h"

#include <assert.h>
#include <string.h>

#include "deja/rt.h"

struct blockfile {
    uint8_t *file;
    size_t file_len, record, off;
    uint32_t keep;
    bool release;
    uint64_t in_file, records;
};

blockfile *blockfile_open(size_t record, size_t file_len, uint32_t keep, bool release) {
    assert(record >= BLOCK_ENCODED_MAX && file_len >= record && keep >= 1);
    blockfile *bf = rt_calloc(1, sizeof *bf);
    if (bf == NULL) return NULL;
    bf->file = rt_map("blocks.dat", file_len);
    if (bf->file == NULL) {
        rt_free(bf);
        return NULL;
    }
    bf->file_len = file_len;
    bf->record = record;
    bf->keep = keep;
    bf->release = release;
    return bf;
}

void blockfile_append(blockfile *bf, const block *b) {
    assert(bf != NULL && b != NULL);
    if (bf->file == NULL) return; /* the last file could not be mapped */
    if (bf->off + bf->record > bf->file_len) { /* full: the next file */
        rt_unmap(bf->file, bf->file_len);
        bf->file = rt_map("blocks.dat", bf->file_len);
        bf->off = 0;
        bf->in_file = 0;
        if (bf->file == NULL) {
            rt_log(RT_LOG_ERROR, "blockfile: cannot map the next block file: no more records");
            return;
        }
    }
    uint8_t *rec = bf->file + bf->off;
    size_t len = block_encode(b, rec, bf->record);
    assert(len > 0);
    uint8_t h[BLOCK_HASH_LEN];
    block_hash(b, h);
    memset(rec + len, h[0] | 1, bf->record - len); /* the body: touches every page of the record */
    bf->off += bf->record;
    bf->in_file++;
    bf->records++;
    if (bf->release && bf->in_file > bf->keep) /* drop all but the last keep records */
        (void)rt_map_advise(bf->file, 0, (size_t)(bf->in_file - bf->keep) * bf->record, RT_MADV_DONTNEED);
}

uint64_t blockfile_records(const blockfile *bf) { return bf == NULL ? 0 : bf->records; }

void blockfile_close(blockfile *bf) {
    if (bf == NULL) return;
    if (bf->file != NULL) rt_unmap(bf->file, bf->file_len);
    rt_free(bf);
}
