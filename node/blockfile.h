/*
 * blockfile.h -- the node's received-block file: every block a node
 * receives from a peer is appended, as a record of a fixed size (the
 * block's canonical encoding, then its body: the transactions and receipts
 * the toy block stands for), to a mapped file it serves peers from. The
 * mapping is the habit that leaks (failure 8 of the field report): every
 * record touches new pages, which count in the node's resident size until
 * they are released.
 *
 *   store.block_file=1    the file is kept: the pages of all but the last
 *                         store.block_keep records are released
 *                         (RT_MADV_DONTNEED) as records are appended, and
 *                         a full file is unmapped before the next is mapped;
 *   node.leak=map         the same file, never released: resident size grows
 *                         by a record per block until the OOM kill.
 *   store.block_kb        size of one record (KiB; 256 by default);
 *   store.block_file_mb   length of one mapped file (MiB; 256 by default,
 *                         reserved, not resident).
 *
 * Off by default (no file, no mapping): the node then runs as without it.
 */
#ifndef NODE_BLOCKFILE_H
#define NODE_BLOCKFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"

typedef struct blockfile blockfile;

/* Maps a block file of file_len bytes holding records of record bytes
 * (record >= BLOCK_ENCODED_MAX, file_len >= record); release: keep only the
 * last keep records resident (false: never release, the bug). NULL when the
 * file cannot be mapped or there is no memory. */
blockfile *blockfile_open(size_t record, size_t file_len, uint32_t keep, bool release);
/* Appends b as one record; starts a new file when this one is full. */
void blockfile_append(blockfile *bf, const block *b);
/* Records appended so far (every file). */
uint64_t blockfile_records(const blockfile *bf);
/* Unmaps the file and frees bf. NULL is a no-op. */
void blockfile_close(blockfile *bf);

#endif /* NODE_BLOCKFILE_H */
