/*
 * store_sqlite.c -- the durable store (store.h) in one SQLite database on
 * the node's disk: the simulator's virtual disk through the seam's VFS
 * "deja", or a file in the data directory in production. The same code runs
 * in both; it reaches files only through SQLite and rt_file_delete.
 *
 * Schema (user_version 1):
 *
 *   blocks(hash BLOB PRIMARY KEY, height INTEGER, body BLOB, sum INTEGER)
 *          WITHOUT ROWID, plus the index blocks_by_height(height)
 *     body: the block's canonical encoding (block.h);
 *     sum:  XXH3-64 of hash || height (u64 LE) || body, as a signed integer.
 *   state(key TEXT PRIMARY KEY, val BLOB, sum INTEGER) WITHOUT ROWID
 *     "head" -> the head's 16-byte hash; "m:NAME" -> meta integer NAME as
 *     8 bytes LE; sum: XXH3-64 of key (with its NUL) || val.
 *
 * Settings: PRAGMA locking_mode=EXCLUSIVE before journal_mode=WAL (so the
 * WAL index lives in heap memory, no shared-memory file), synchronous=FULL
 * (every commit fsyncs the WAL: durable when it returns) or OFF with
 * store.sync=0, and cell_size_check=ON (SQLite checks b-tree cells as it
 * reads them, to notice damage earlier). SQLite reads through the
 * read-verifying VFS of store_vfs.c unless store.verify_reads=0. The store
 * checkpoints the WAL itself, every STORE_SQLITE_WAL_PAGES frames (see
 * store_sqlite__checkpoint).
 *
 * Reading verifies every record: the checksum, the body's decoding, its
 * height and its hash. A record that fails is reported (RT_FACT_CORRUPTION),
 * deleted and treated as missing; the hashes of deleted blocks queue up for
 * take_corrupt so the engine fetches them again. A missing or corrupt head
 * record falls back to the best block of the height index (greatest height,
 * lowest hash: the fork-choice rule), so the chain never restarts from
 * genesis while blocks remain.
 *
 * Errors: SQLITE_FULL maps to RT_ENOSPC, SQLITE_NOMEM to RT_ENOMEM, every
 * other failure (SQLITE_IOERR_*, SQLITE_CORRUPT, SQLITE_NOTADB, ...) to
 * RT_EIO. Any error inside begin/commit makes the commit fail and undo the
 * group. A failed fsync (SQLITE_IOERR_FSYNC) needs nothing more: SQLite's
 * WAL index never took in the frames whose sync failed, and the next commit
 * writes over them. After other errors (a read that failed or found damage,
 * a failed write) the connection is closed and opened again at the next
 * rollback or begin, so SQLite reads the database afresh, and the reopened
 * store first settles the WAL (store_sqlite__settle). While the database
 * cannot be opened, every call fails and begin retries the open.
 *
 * No call here switches tasks (the VFS guarantees it for SQLite's I/O), so
 * a simulated crash always finds the database between two calls. In the
 * simulator SQLite's allocations are charged to the running node and vanish
 * with it at a crash: the connection is gone, as a killed process's is, and
 * the restarted node simply opens the database again.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>
#include <xxhash.h>

#include "block.h"
#include "deja/rt.h"
#include "store.h"

#define STORE_SQLITE_PATH_MAX 64
#define STORE_SQLITE_CORRUPT_RING 8 /* dropped block hashes waiting for take_corrupt */
#define STORE_SQLITE_HEAD_SCAN 8    /* blocks tried when the head record is lost */
#define STORE_SQLITE_STATE_KEY_MAX (2 + STORE_META_KEY_MAX)
#define STORE_SQLITE_VERSION 1
#define STORE_SQLITE_WAL_PAGES 16 /* checkpoint once the WAL holds this many frames */

static const char store_sqlite__schema[] =
    "CREATE TABLE IF NOT EXISTS blocks("
    " hash BLOB PRIMARY KEY NOT NULL, height INTEGER NOT NULL,"
    " body BLOB NOT NULL, sum INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS blocks_by_height ON blocks(height);"
    "CREATE TABLE IF NOT EXISTS state("
    " key TEXT PRIMARY KEY NOT NULL, val BLOB NOT NULL, sum INTEGER NOT NULL) WITHOUT ROWID;"
    "PRAGMA user_version=1;";

/* The prepared statements, kept for the life of a connection. */
enum {
    SQ_PUT,
    SQ_GET,
    SQ_DEL,
    SQ_STATE_SET,
    SQ_STATE_GET,
    SQ_STATE_DEL,
    SQ_COUNT,
    SQ_BEST,
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_N
};

static const char *const store_sqlite__sql[SQ_N] = {
    [SQ_PUT] = "INSERT OR REPLACE INTO blocks(hash, height, body, sum) VALUES(?1, ?2, ?3, ?4)",
    [SQ_GET] = "SELECT height, body, sum FROM blocks WHERE hash = ?1",
    [SQ_DEL] = "DELETE FROM blocks WHERE hash = ?1",
    [SQ_STATE_SET] = "INSERT OR REPLACE INTO state(key, val, sum) VALUES(?1, ?2, ?3)",
    [SQ_STATE_GET] = "SELECT val, sum FROM state WHERE key = ?1",
    [SQ_STATE_DEL] = "DELETE FROM state WHERE key = ?1",
    [SQ_COUNT] = "SELECT count(*) FROM blocks",
    [SQ_BEST] = "SELECT hash FROM blocks ORDER BY height DESC, hash ASC LIMIT ?1",
    [SQ_BEGIN] = "BEGIN",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
};

typedef struct store_sqlite {
    store base; /* first: a store* is a store_sqlite* */
    char path[STORE_SQLITE_PATH_MAX];
    store_sqlite_cfg cfg;
    sqlite3 *db; /* NULL while disconnected (after a failed reopen) */
    sqlite3_stmt *st[SQ_N];
    bool in_txn;
    int txn_err;  /* the first error inside the current group, RT_OK if none */
    bool reopen;  /* an error calls for a fresh connection */
    int wal_frames; /* frames in the WAL after the last commit (the WAL hook) */
    uint8_t corrupt[STORE_SQLITE_CORRUPT_RING][BLOCK_HASH_LEN];
    uint32_t corrupt_first, corrupt_n;
} store_sqlite;

/* ---- errors and corruption ---------------------------------------------- */

/* Records a failed SQLite call (rc): logs it, reports corruption SQLite
 * found itself, fails the open group and marks the connection for a reopen
 * (unless the disk is full, memory ran out or an fsync failed: see the top
 * of the file). Returns the RT_E* code. */
static int store_sqlite__fail(store_sqlite *s, int rc, const char *what) {
    int prim = rc & 0xff;
    int rt = prim == SQLITE_FULL ? RT_ENOSPC : prim == SQLITE_NOMEM ? RT_ENOMEM : RT_EIO;
    rt_log(RT_LOG_WARN, "store: %s: %s (%d)", what, sqlite3_errstr(rc), rc);
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB) {
        rt_fact f;
        memset(&f, 0, sizeof f);
        f.kind = RT_FACT_CORRUPTION;
        f.value = STORE_CORRUPT_SQLITE;
        rt_fact_report(&f);
    }
    if (prim != SQLITE_FULL && prim != SQLITE_NOMEM && rc != SQLITE_IOERR_FSYNC) s->reopen = true;
    if (s->in_txn && s->txn_err == RT_OK) s->txn_err = rt;
    return rt;
}

/* Steps a look-up statement to its row: RT_OK with the row ready (the caller
 * resets q), RT_ENOENT when there is none, or the failure (q reset). */
static int store_sqlite__step_row(store_sqlite *s, sqlite3_stmt *q, const char *what) {
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) return RT_OK;
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? RT_ENOENT : store_sqlite__fail(s, rc, what);
}


/* Reports a record that failed verification (height as the row claims). */
static void store_sqlite__report(const uint8_t *hash, uint64_t height, int where) {
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = RT_FACT_CORRUPTION;
    f.height = height;
    if (hash != NULL) memcpy(f.hash, hash, BLOCK_HASH_LEN);
    f.value = where;
    rt_fact_report(&f);
}

/* Steps a statement that returns no row, then resets it: RT_OK or the
 * mapped error. */
static int store_sqlite__run(store_sqlite *s, sqlite3_stmt *q, const char *what) {
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return RT_OK;
    return store_sqlite__fail(s, rc, what);
}

/* Drops the corrupt block record h (reported, deleted, queued for a refetch). */
static void store_sqlite__drop_block(store_sqlite *s, const uint8_t h[BLOCK_HASH_LEN], uint64_t height) {
    char hex[17];
    rt_log(RT_LOG_WARN, "store: block %s (height %llu) failed its checksum: dropped",
           block_hash_hex(h, hex), (unsigned long long)height);
    store_sqlite__report(h, height, STORE_CORRUPT_BLOCK);
    uint32_t slot = (s->corrupt_first + s->corrupt_n) % STORE_SQLITE_CORRUPT_RING;
    if (s->corrupt_n == STORE_SQLITE_CORRUPT_RING) /* full: forget the oldest */
        s->corrupt_first = (s->corrupt_first + 1) % STORE_SQLITE_CORRUPT_RING;
    else
        s->corrupt_n++;
    memcpy(s->corrupt[slot], h, BLOCK_HASH_LEN);
    sqlite3_stmt *q = s->st[SQ_DEL];
    sqlite3_bind_blob(q, 1, h, BLOCK_HASH_LEN, SQLITE_STATIC);
    (void)store_sqlite__run(s, q, "delete corrupt block");
}

/* ---- checksums ---------------------------------------------------------- */

/* The checksum of a block record. */
static uint64_t store_sqlite__block_sum(const uint8_t h[BLOCK_HASH_LEN], uint64_t height,
                                        const uint8_t *body, size_t len) {
    assert(len <= BLOCK_ENCODED_MAX);
    uint8_t buf[BLOCK_HASH_LEN + 8 + BLOCK_ENCODED_MAX];
    memcpy(buf, h, BLOCK_HASH_LEN);
    for (int i = 0; i < 8; i++) buf[BLOCK_HASH_LEN + i] = (uint8_t)(height >> (8 * i));
    if (len > 0) memcpy(buf + BLOCK_HASH_LEN + 8, body, len);
    return XXH3_64bits(buf, BLOCK_HASH_LEN + 8 + len);
}

/* The checksum of a state record (key with its NUL, then the value). */
static uint64_t store_sqlite__state_sum(const char *key, const uint8_t *val, size_t len) {
    size_t klen = strlen(key) + 1;
    assert(klen <= STORE_SQLITE_STATE_KEY_MAX && len <= BLOCK_HASH_LEN);
    uint8_t buf[STORE_SQLITE_STATE_KEY_MAX + BLOCK_HASH_LEN];
    memcpy(buf, key, klen);
    if (len > 0) memcpy(buf + klen, val, len);
    return XXH3_64bits(buf, klen + len);
}

/* ---- the connection ----------------------------------------------------- */

/* Finalizes the statements and closes the connection (rolling back any
 * open group). */
static void store_sqlite__disconnect(store_sqlite *s) {
    for (int i = 0; i < SQ_N; i++) {
        if (s->st[i] != NULL) sqlite3_finalize(s->st[i]);
        s->st[i] = NULL;
    }
    if (s->db != NULL) {
        int rc = sqlite3_close_v2(s->db);
        if (rc != SQLITE_OK) rt_log(RT_LOG_WARN, "store: close: %s", sqlite3_errstr(rc));
    }
    s->db = NULL;
    s->in_txn = false;
    s->txn_err = RT_OK;
}

/* Runs one SQL text (pragmas, schema) on the connection. */
static int store_sqlite__exec(store_sqlite *s, const char *sql) {
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? RT_OK : store_sqlite__fail(s, rc, sql);
}

/* Reads the single integer or text row of a pragma: into *num and/or
 * text (cap bytes). */
static int store_sqlite__pragma(store_sqlite *s, const char *sql, int64_t *num, char *text,
                                size_t cap) {
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) return store_sqlite__fail(s, rc, sql);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        if (num != NULL) *num = sqlite3_column_int64(q, 0);
        if (text != NULL) {
            const unsigned char *t = sqlite3_column_text(q, 0);
            snprintf(text, cap, "%s", t != NULL ? (const char *)t : "");
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        if (num != NULL) *num = 0;
        if (text != NULL && cap > 0) text[0] = '\0';
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? RT_OK : store_sqlite__fail(s, rc, sql);
}

/* SQLite's WAL hook: remembers how long the log is (checkpoints are the
 * store's own business, see store_sqlite__checkpoint). */
static int store_sqlite__wal_hook(void *arg, sqlite3 *db, const char *name, int frames) {
    (void)db, (void)name;
    ((store_sqlite *)arg)->wal_frames = frames;
    return SQLITE_OK;
}

/* Makes everything SQLite now reads as committed durable in the database
 * file, and the log empty on the disk, before a reopened store is used.
 * After a failed fsync the page cache still shows the WAL frames the disk
 * never got; the connection that wrote them ignores them (its WAL index
 * ends before them, so its next commit overwrites them), but a new
 * connection would take them for committed, and later commits appended
 * behind them would be lost with them at the next crash. So the whole WAL
 * is checkpointed (the database file synced) and truncated, and the
 * truncation synced too: SQLite leaves it unsynced, and the older frames a
 * crash would bring back would override newer database pages. Not needed
 * at a first open: after a crash the page cache is what the disk holds. */
static int store_sqlite__settle(store_sqlite *s) {
    int rc = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc == SQLITE_IOERR_READ || rc == SQLITE_IOERR_SHORT_READ || (rc & 0xff) == SQLITE_CORRUPT) {
        /* a bad sector or page: the reason for this reopen, not a sync that failed */
        rt_log(RT_LOG_WARN, "store: checkpoint at reopen: %s (%d)", sqlite3_errstr(rc), rc);
        return RT_OK;
    }
    if (rc != SQLITE_OK) return store_sqlite__fail(s, rc, "checkpoint at reopen");
    sqlite3_file *wal = NULL;
    rc = sqlite3_file_control(s->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
    if (rc == SQLITE_OK && wal != NULL && wal->pMethods != NULL) {
        rc = wal->pMethods->xSync(wal, SQLITE_SYNC_FULL);
        if (rc != SQLITE_OK) return store_sqlite__fail(s, rc, "sync of the emptied WAL");
    }
    s->wal_frames = 0;
    return RT_OK;
}

/* Opens the database with the store's settings, creates the schema in a
 * fresh one, prepares the statements and (settle: a reopen) settles the
 * WAL: RT_OK, or an error with the store disconnected. */
static int store_sqlite__connect(store_sqlite *s, bool settle) {
    assert(s->db == NULL);
    s->reopen = false;
    if (store_vfs_register() != RT_OK) return RT_EIO;
    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                             s->cfg.verify_reads ? STORE_VFS_NAME : NULL);
    if (rc != SQLITE_OK) {
        int e = store_sqlite__fail(s, rc, "open");
        store_sqlite__disconnect(s);
        return e;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_wal_hook(s->db, store_sqlite__wal_hook, s); /* replaces the autocheckpoint */
    s->wal_frames = 0;
    char mode[16];
    int64_t version = 0;
    int e = store_sqlite__exec(s, "PRAGMA locking_mode=EXCLUSIVE");
    if (e == RT_OK) e = store_sqlite__pragma(s, "PRAGMA journal_mode=WAL", NULL, mode, sizeof mode);
    if (e == RT_OK && strcmp(mode, "wal") != 0) {
        rt_log(RT_LOG_ERROR, "store: %s: journal_mode is %s, not wal", s->path, mode);
        e = RT_EIO;
    }
    if (e == RT_OK)
        e = store_sqlite__exec(s, s->cfg.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
    if (e == RT_OK) e = store_sqlite__exec(s, "PRAGMA cell_size_check=ON");
    if (e == RT_OK) e = store_sqlite__pragma(s, "PRAGMA user_version", &version, NULL, 0);
    if (e == RT_OK && version == 0) {
        e = store_sqlite__exec(s, "BEGIN");
        if (e == RT_OK) e = store_sqlite__exec(s, store_sqlite__schema);
        if (e == RT_OK) e = store_sqlite__exec(s, "COMMIT");
        version = STORE_SQLITE_VERSION;
    }
    if (e == RT_OK && version != STORE_SQLITE_VERSION) {
        rt_log(RT_LOG_ERROR, "store: %s: schema version %lld, expected %d", s->path,
               (long long)version, STORE_SQLITE_VERSION);
        e = RT_EIO;
    }
    for (int i = 0; e == RT_OK && i < SQ_N; i++) {
        rc = sqlite3_prepare_v3(s->db, store_sqlite__sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                NULL);
        if (rc != SQLITE_OK) e = store_sqlite__fail(s, rc, store_sqlite__sql[i]);
    }
    if (e == RT_OK && settle && s->cfg.sync) e = store_sqlite__settle(s);
    if (e != RT_OK) {
        store_sqlite__disconnect(s);
        return e;
    }
    s->reopen = false;
    return RT_OK;
}

/* Replaces the connection by a fresh one (see the top of the file). */
static void store_sqlite__reopen(store_sqlite *s) {
    rt_log(RT_LOG_INFO, "store: reopening %s after an error", s->path);
    store_sqlite__disconnect(s);
    if (store_sqlite__connect(s, true) != RT_OK)
        rt_log(RT_LOG_ERROR, "store: cannot reopen %s: every call fails until it can", s->path);
}

/* ---- blocks ------------------------------------------------------------- */

static int store_sqlite__get(store *st, const uint8_t h[BLOCK_HASH_LEN], block *out) {
    store_sqlite *s = (store_sqlite *)st;
    assert(h != NULL && out != NULL);
    if (s->db == NULL) return RT_EIO;
    sqlite3_stmt *q = s->st[SQ_GET];
    sqlite3_bind_blob(q, 1, h, BLOCK_HASH_LEN, SQLITE_STATIC);
    int rc = store_sqlite__step_row(s, q, "get block");
    if (rc != RT_OK) return rc;
    uint64_t height = (uint64_t)sqlite3_column_int64(q, 0);
    const uint8_t *body = sqlite3_column_blob(q, 1);
    size_t len = (size_t)sqlite3_column_bytes(q, 1);
    uint64_t sum = (uint64_t)sqlite3_column_int64(q, 2);
    bool ok = len >= BLOCK_HEADER_LEN && len <= BLOCK_ENCODED_MAX && body != NULL &&
              store_sqlite__block_sum(h, height, body, len) == sum && block_decode(body, len, out) &&
              out->height == height;
    sqlite3_reset(q);
    if (ok) {
        uint8_t again[BLOCK_HASH_LEN];
        block_hash(out, again);
        ok = memcmp(again, h, BLOCK_HASH_LEN) == 0;
    }
    if (!ok) {
        store_sqlite__drop_block(s, h, height);
        return RT_ENOENT;
    }
    return RT_OK;
}

static bool store_sqlite__has(store *st, const uint8_t h[BLOCK_HASH_LEN]) {
    block b;
    return store_sqlite__get(st, h, &b) == RT_OK;
}

static int store_sqlite__put(store *st, const uint8_t h[BLOCK_HASH_LEN], const block *b) {
    store_sqlite *s = (store_sqlite *)st;
    assert(h != NULL && b != NULL);
    if (s->db == NULL) return RT_EIO;
    /* the first copy stays; a corrupt one was just dropped, so it is replaced */
    if (store_sqlite__has(st, h)) return RT_OK;
    uint8_t body[BLOCK_ENCODED_MAX];
    size_t len = block_encode(b, body, sizeof body);
    assert(len >= BLOCK_HEADER_LEN);
    sqlite3_stmt *q = s->st[SQ_PUT];
    sqlite3_bind_blob(q, 1, h, BLOCK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)b->height);
    sqlite3_bind_blob(q, 3, body, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)store_sqlite__block_sum(h, b->height, body, len));
    return store_sqlite__run(s, q, "put block");
}

static uint64_t store_sqlite__count(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    if (s->db == NULL) return 0;
    sqlite3_stmt *q = s->st[SQ_COUNT];
    int rc = sqlite3_step(q);
    uint64_t n = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    if (rc != SQLITE_ROW) (void)store_sqlite__fail(s, rc, "count");
    return n;
}

/* ---- state records ------------------------------------------------------ */

/* Writes state record key = val (len bytes). */
static int store_sqlite__state_set(store_sqlite *s, const char *key, const uint8_t *val, size_t len) {
    if (s->db == NULL) return RT_EIO;
    sqlite3_stmt *q = s->st[SQ_STATE_SET];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, val, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)store_sqlite__state_sum(key, val, len));
    return store_sqlite__run(s, q, "set state");
}

/* Reads state record key, exactly len bytes, into val: RT_OK, RT_ENOENT
 * (absent, or dropped as corrupt) or an error. */
static int store_sqlite__state_get(store_sqlite *s, const char *key, uint8_t *val, size_t len) {
    if (s->db == NULL) return RT_EIO;
    sqlite3_stmt *q = s->st[SQ_STATE_GET];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = store_sqlite__step_row(s, q, "get state");
    if (rc != RT_OK) return rc;
    const uint8_t *v = sqlite3_column_blob(q, 0);
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    uint64_t sum = (uint64_t)sqlite3_column_int64(q, 1);
    bool ok = n == len && v != NULL && store_sqlite__state_sum(key, v, n) == sum;
    if (ok) memcpy(val, v, len);
    sqlite3_reset(q);
    if (ok) return RT_OK;
    rt_log(RT_LOG_WARN, "store: state record %s failed its checksum: dropped", key);
    store_sqlite__report(NULL, 0, STORE_CORRUPT_STATE);
    q = s->st[SQ_STATE_DEL];
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    (void)store_sqlite__run(s, q, "delete corrupt state");
    return RT_ENOENT;
}

static int store_sqlite__set_head(store *st, const uint8_t h[BLOCK_HASH_LEN]) {
    assert(h != NULL);
    return store_sqlite__state_set((store_sqlite *)st, "head", h, BLOCK_HASH_LEN);
}

/* The head record; when it is missing or corrupt while blocks remain, the
 * best intact block of the height index stands in for it. */
static int store_sqlite__get_head(store *st, uint8_t out[BLOCK_HASH_LEN]) {
    store_sqlite *s = (store_sqlite *)st;
    int rc = store_sqlite__state_get(s, "head", out, BLOCK_HASH_LEN);
    if (rc != RT_ENOENT) return rc;
    uint8_t cand[STORE_SQLITE_HEAD_SCAN][BLOCK_HASH_LEN];
    int n = 0;
    sqlite3_stmt *q = s->st[SQ_BEST];
    sqlite3_bind_int(q, 1, STORE_SQLITE_HEAD_SCAN);
    int src;
    while ((src = sqlite3_step(q)) == SQLITE_ROW && n < STORE_SQLITE_HEAD_SCAN) {
        if (sqlite3_column_bytes(q, 0) != BLOCK_HASH_LEN) continue; /* get() would drop it */
        memcpy(cand[n++], sqlite3_column_blob(q, 0), BLOCK_HASH_LEN);
    }
    sqlite3_reset(q);
    if (src != SQLITE_DONE && src != SQLITE_ROW) return store_sqlite__fail(s, src, "find best block");
    for (int i = 0; i < n; i++) {
        if (!store_sqlite__has(st, cand[i])) continue;
        char hex[17];
        rt_log(RT_LOG_WARN, "store: no intact head record: resuming from best block %s",
               block_hash_hex(cand[i], hex));
        memcpy(out, cand[i], BLOCK_HASH_LEN);
        return RT_OK;
    }
    return RT_ENOENT;
}

/* The state key of meta integer key ("m:" + key), or false when key is
 * empty or too long. */
static bool store_sqlite__meta_key(const char *key, char out[STORE_SQLITE_STATE_KEY_MAX]) {
    assert(key != NULL);
    size_t klen = strlen(key);
    if (klen == 0 || klen >= STORE_META_KEY_MAX) return false;
    memcpy(out, "m:", 2);
    memcpy(out + 2, key, klen + 1);
    return true;
}

static int store_sqlite__set_meta(store *st, const char *key, int64_t val) {
    char k[STORE_SQLITE_STATE_KEY_MAX];
    if (!store_sqlite__meta_key(key, k)) return RT_EINVAL;
    uint8_t v[8];
    for (int i = 0; i < 8; i++) v[i] = (uint8_t)((uint64_t)val >> (8 * i));
    return store_sqlite__state_set((store_sqlite *)st, k, v, sizeof v);
}

static int store_sqlite__get_meta(store *st, const char *key, int64_t *val) {
    assert(val != NULL);
    char k[STORE_SQLITE_STATE_KEY_MAX];
    if (!store_sqlite__meta_key(key, k)) return RT_ENOENT;
    uint8_t v[8];
    int rc = store_sqlite__state_get((store_sqlite *)st, k, v, sizeof v);
    if (rc != RT_OK) return rc;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u |= (uint64_t)v[i] << (8 * i);
    *val = (int64_t)u;
    return RT_OK;
}

/* ---- groups of writes --------------------------------------------------- */

static void store_sqlite__rollback(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    if (s->db != NULL && !sqlite3_get_autocommit(s->db)) {
        int rc = sqlite3_step(s->st[SQ_ROLLBACK]);
        sqlite3_reset(s->st[SQ_ROLLBACK]);
        if (rc != SQLITE_DONE) {
            rt_log(RT_LOG_WARN, "store: rollback: %s (%d)", sqlite3_errstr(rc), rc);
            s->reopen = true;
        }
    }
    s->in_txn = false;
    s->txn_err = RT_OK;
    if (s->reopen) store_sqlite__reopen(s);
}

static int store_sqlite__begin(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    assert(!s->in_txn && "store groups do not nest");
    if (s->reopen && s->db != NULL) store_sqlite__reopen(s);
    if (s->db == NULL) {
        int rc = store_sqlite__connect(s, true);
        if (rc != RT_OK) return rc;
    }
    int rc = store_sqlite__run(s, s->st[SQ_BEGIN], "begin");
    if (rc != RT_OK) return rc;
    s->in_txn = true;
    s->txn_err = RT_OK;
    return RT_OK;
}

/* One passive checkpoint: SQLite's result code. */
static int store_sqlite__checkpoint_once(store_sqlite *s) {
    int rc = sqlite3_wal_checkpoint_v2(s->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if (rc == SQLITE_OK) s->wal_frames = 0;
    return rc;
}

/* Copies the WAL into the database once it holds STORE_SQLITE_WAL_PAGES
 * frames, so the log the next crash recovery must read stays short and is
 * soon overwritten (a WAL sector that went bad is rewritten, not read
 * again). SQLite's own autocheckpoint ignores failures, and one unreadable
 * frame would then stop every later checkpoint while the log grows; here a
 * failed checkpoint is healed by VACUUM, which writes every page again from
 * the page cache, so the bad frame is no longer the newest copy of any
 * page. The commit is durable either way: failures here are only logged. */
static void store_sqlite__checkpoint(store_sqlite *s) {
    if (s->wal_frames < STORE_SQLITE_WAL_PAGES) return;
    int rc = store_sqlite__checkpoint_once(s);
    if (rc == SQLITE_OK || (rc & 0xff) == SQLITE_BUSY) return;
    if (rc == SQLITE_IOERR_FSYNC) { /* nothing was lost: the WAL holds it all; next commit retries */
        rt_log(RT_LOG_WARN, "store: checkpoint: %s (%d)", sqlite3_errstr(rc), rc);
        return;
    }
    rt_log(RT_LOG_WARN, "store: checkpoint: %s (%d): rewriting the database", sqlite3_errstr(rc), rc);
    rc = sqlite3_exec(s->db, "VACUUM", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = store_sqlite__checkpoint_once(s);
    if (rc != SQLITE_OK) (void)store_sqlite__fail(s, rc, "checkpoint after VACUUM");
}

static int store_sqlite__commit(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    assert(s->in_txn);
    int rc = s->txn_err;
    if (rc == RT_OK) rc = store_sqlite__run(s, s->st[SQ_COMMIT], "commit");
    if (rc != RT_OK) {
        store_sqlite__rollback(st);
        return rc;
    }
    s->in_txn = false;
    store_sqlite__checkpoint(s);
    return RT_OK;
}

/* ---- integrity ---------------------------------------------------------- */

/* One PRAGMA integrity_check: RT_OK when SQLite answers "ok". */
static int store_sqlite__integrity(store_sqlite *s) {
    if (s->db == NULL) return RT_EIO;
    char res[128];
    int rc = store_sqlite__pragma(s, "PRAGMA integrity_check", NULL, res, sizeof res);
    if (rc != RT_OK) return rc;
    if (strcmp(res, "ok") == 0) return RT_OK;
    rt_log(RT_LOG_WARN, "store: %s: integrity_check: %s", s->path, res);
    return RT_EIO;
}

/* Runs the check; on a failure runs it again on a fresh connection, so a
 * read that returned flipped bits once (now in the page cache) is not
 * taken for damage on the disk. */
static int store_sqlite__check(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    assert(!s->in_txn);
    int rc = store_sqlite__integrity(s);
    if (rc == RT_OK) return RT_OK;
    store_sqlite__reopen(s);
    rc = store_sqlite__integrity(s);
    return rc == RT_OK ? RT_OK : RT_EIO;
}

static int store_sqlite__take_corrupt(store *st, uint8_t out[BLOCK_HASH_LEN]) {
    store_sqlite *s = (store_sqlite *)st;
    if (s->corrupt_n == 0) return RT_ENOENT;
    memcpy(out, s->corrupt[s->corrupt_first], BLOCK_HASH_LEN);
    s->corrupt_first = (s->corrupt_first + 1) % STORE_SQLITE_CORRUPT_RING;
    s->corrupt_n--;
    return RT_OK;
}

static void store_sqlite__close(store *st) {
    store_sqlite *s = (store_sqlite *)st;
    store_sqlite__disconnect(s);
    rt_free(s);
}

/* ---- opening ------------------------------------------------------------ */

int store_sqlite_open(const char *path, const store_sqlite_cfg *cfg, store **out) {
    assert(path != NULL && cfg != NULL && out != NULL);
    *out = NULL;
    if (strlen(path) == 0 || strlen(path) >= STORE_SQLITE_PATH_MAX) return RT_EINVAL;
    store_sqlite *s = rt_calloc(1, sizeof *s);
    if (s == NULL) return RT_ENOMEM;
    memcpy(s->path, path, strlen(path) + 1);
    s->cfg = *cfg;
    s->base = (store){
        .kind = "sqlite",
        .durable = true,
        .put = store_sqlite__put,
        .get = store_sqlite__get,
        .has = store_sqlite__has,
        .set_head = store_sqlite__set_head,
        .get_head = store_sqlite__get_head,
        .set_meta = store_sqlite__set_meta,
        .get_meta = store_sqlite__get_meta,
        .count = store_sqlite__count,
        .begin = store_sqlite__begin,
        .commit = store_sqlite__commit,
        .rollback = store_sqlite__rollback,
        .check = store_sqlite__check,
        .take_corrupt = store_sqlite__take_corrupt,
        .close = store_sqlite__close,
    };
    int rc = store_sqlite__connect(s, false);
    if (rc != RT_OK) {
        rt_free(s);
        return rc;
    }
    *out = &s->base;
    return RT_OK;
}

int store_sqlite_wipe(const char *path) {
    assert(path != NULL);
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    int result = RT_OK;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        char name[STORE_SQLITE_PATH_MAX + 16];
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        int rc = rt_file_delete(name);
        if (rc != RT_OK && rc != RT_ENOENT) result = RT_EIO;
    }
    return result;
}
