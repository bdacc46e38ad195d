/*
 * sweep_db.c -- the results database of sweeps (SQLite), and merging.
 *
 * One table, `runs`, one row per (scenario, seed, params_key):
 *   id INTEGER PRIMARY KEY, scenario TEXT, seed INTEGER, params_key TEXT,
 *   verdict TEXT, trace_hash TEXT, created_at INTEGER (unix seconds),
 *   then one column per scenario parameter, named exactly by its key
 *   ("clock.offset_ms"), and one per summary key (events, sim_ns, forks...),
 *   both added with ALTER TABLE the first time they appear.
 * Values that look like numbers are stored as INTEGER or REAL so that SQL
 * can aggregate them; the rest as TEXT. Every insert is its own transaction
 * (autocommit, WAL, synchronous=NORMAL): a sweep killed at any moment leaves
 * only whole rows, and UNIQUE(scenario, seed, params_key) lets a rerun skip
 * them. Only the sweep's parent process touches the database, but several
 * sweeps (shards) may share one file: the busy timeout is set before the
 * first statement, and every schema change (journal mode, the table, new
 * columns) runs in an immediate transaction retried while another process
 * holds the lock, so shards starting together on a new file never fail.
 * Errors carry SQLite's own message (disk full, read-only, locked).
 *
 * A second table, `meta` (key TEXT PRIMARY KEY, value TEXT), says which deja
 * wrote the database: created_version and created_build (the deja that made
 * it), deja_version and deja_build (the last deja that opened it to write
 * rows); build as deja_build_info (deja/version.h) gives it.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deja/sweep.h"
#include "deja/version.h"

#define SWEEPDB__SQL_MAX 16384
#define SWEEPDB__BUSY_MS 30000 /* how long a locked database is waited for */

struct deja_sweepdb {
    sqlite3 *db;
    char *path;
    char **cols; /* columns of runs, as in the table */
    int ncols, capcols;
    sqlite3_stmt *has;
    sqlite3_stmt *stale; /* deletes an unverified crash row before its rerun is stored */
    sqlite3_stmt *ins;
    char *ins_sql; /* the SQL ins was prepared from */
};

/* Keys of a summary that are stored in their own fixed columns. */
static const char *const sweepdb__fixed[] = {"id", "scenario", "seed", "params_key", "verdict", "trace_hash",
                                             "created_at", NULL};

static const char *sweepdb__schema =
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  scenario TEXT NOT NULL,\n"
    "  seed INTEGER NOT NULL,\n"
    "  params_key TEXT NOT NULL,\n"
    "  verdict TEXT NOT NULL,\n"
    "  trace_hash TEXT,\n"
    "  created_at INTEGER,\n"
    "  UNIQUE(scenario, seed, params_key)\n"
    ")";

static const char *sweepdb__meta_schema = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)";

/* Records in meta which deja made the database (once) and which opened it
 * last. SQLite's result code; *msg (sqlite3_free it) says why. */
static int sweepdb__exec_locked(sqlite3 *db, const char *sql, int in_txn, char **msg);
static int sweepdb__meta_write(sqlite3 *db, char **msg) {
    char *sql = sqlite3_mprintf("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_version', %Q);"
                                "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_build', %Q);"
                                "INSERT OR REPLACE INTO meta (key, value) VALUES ('deja_version', %Q);"
                                "INSERT OR REPLACE INTO meta (key, value) VALUES ('deja_build', %Q);",
                                deja_version(), deja_build_info(), deja_version(), deja_build_info());
    if (!sql) return SQLITE_NOMEM;
    int rc = sweepdb__exec_locked(db, sql, 1, msg);
    sqlite3_free(sql);
    return rc;
}

/* Appends "ident" (SQL-quoted identifier) to buf at *pos. */
static void sweepdb__ident(char *buf, size_t len, size_t *pos, const char *id) {
    if (*pos < len) buf[(*pos)++] = '"';
    for (const char *c = id; *c && *pos + 2 < len; c++) {
        if (*c == '"') buf[(*pos)++] = '"';
        buf[(*pos)++] = *c;
    }
    if (*pos < len) buf[(*pos)++] = '"';
    if (*pos < len) buf[*pos] = 0;
    else buf[len - 1] = 0;
}

/* Appends printf text to buf at *pos. */
__attribute__((format(printf, 4, 5))) static void sweepdb__cat(char *buf, size_t len, size_t *pos,
                                                               const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (*pos < len) {
        int n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
        if (n > 0) *pos += (size_t)n;
    }
    va_end(ap);
}

static int sweepdb__busy(int rc) {
    rc &= 0xff;
    return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* Runs sql (one or more statements) in an immediate transaction, retrying
 * for up to SWEEPDB__BUSY_MS while another process holds the database (the
 * busy handler is not called in every case, e.g. a lock upgrade). SQLITE_OK
 * or SQLite's error code; *msg (sqlite3_free it) says why. */
static int sweepdb__exec_locked(sqlite3 *db, const char *sql, int in_txn, char **msg) {
    struct timespec nap = {0, 5 * 1000 * 1000};
    long waited_ms = 0;
    for (;;) {
        sqlite3_free(*msg);
        *msg = NULL;
        int rc = in_txn ? sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg) : SQLITE_OK;
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, msg);
        if (rc == SQLITE_OK && in_txn) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, msg);
        if (rc == SQLITE_OK) return rc;
        if (in_txn && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        if (!sweepdb__busy(rc) || waited_ms >= SWEEPDB__BUSY_MS) {
            if (!*msg) *msg = sqlite3_mprintf("%s", sqlite3_errstr(rc));
            if (sweepdb__busy(rc)) {
                char *m = sqlite3_mprintf("%s (locked by another process for more than %d s)", *msg,
                                          SWEEPDB__BUSY_MS / 1000);
                sqlite3_free(*msg);
                *msg = m;
            }
            return rc;
        }
        nanosleep(&nap, NULL);
        waited_ms += nap.tv_nsec / 1000000;
        if (nap.tv_nsec < 100 * 1000 * 1000) nap.tv_nsec *= 2;
    }
}

/* Reloads the column list of runs from `schema`.runs. 0 or -1. */
static int sweepdb__load_cols(sqlite3 *db, const char *schema, char ***cols, int *ncols, int *capcols) {
    for (int i = 0; i < *ncols; i++) free((*cols)[i]);
    *ncols = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA %s.table_info(runs)", schema);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*ncols == *capcols) {
            *capcols = *capcols ? 2 * *capcols : 32;
            *cols = realloc(*cols, (size_t)*capcols * sizeof **cols);
            assert(*cols);
        }
        (*cols)[(*ncols)++] = strdup((const char *)sqlite3_column_text(st, 1));
    }
    return sqlite3_finalize(st) == SQLITE_OK ? 0 : -1;
}

static int sweepdb__has_col(const deja_sweepdb *d, const char *name) {
    for (int i = 0; i < d->ncols; i++)
        if (!strcmp(d->cols[i], name)) return 1;
    return 0;
}

/* Adds column name to runs unless it is there. 0, or -1 with err. */
static int sweepdb__ensure_col(deja_sweepdb *d, const char *name, char *err, size_t errlen) {
    if (sweepdb__has_col(d, name)) return 0;
    char sql[512];
    size_t pos = 0;
    sweepdb__cat(sql, sizeof sql, &pos, "ALTER TABLE runs ADD COLUMN ");
    sweepdb__ident(sql, sizeof sql, &pos, name);
    char *msg = NULL;
    if (sweepdb__exec_locked(d->db, sql, 1, &msg) != SQLITE_OK) {
        /* Another process (a shard) may have added it meanwhile. */
        char why[256];
        snprintf(why, sizeof why, "%s", msg ? msg : "?");
        sqlite3_free(msg);
        sweepdb__load_cols(d->db, "main", &d->cols, &d->ncols, &d->capcols);
        if (sweepdb__has_col(d, name)) return 0;
        snprintf(err, errlen, "%s: cannot add column '%s': %s", d->path, name, why);
        return -1;
    }
    sqlite3_free(msg);
    sweepdb__load_cols(d->db, "main", &d->cols, &d->ncols, &d->capcols);
    assert(sweepdb__has_col(d, name));
    return 0;
}

/* Binds value text as INTEGER when it is one, REAL when it is a finite
 * decimal number, TEXT otherwise. */
static void sweepdb__bind_value(sqlite3_stmt *st, int i, const char *v) {
    const char *p = v;
    if (*p == '-' || *p == '+') p++;
    if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
        char *end;
        errno = 0;
        long long ll = strtoll(v, &end, 10);
        if (!*end && !errno) {
            sqlite3_bind_int64(st, i, ll);
            return;
        }
        errno = 0;
        double d = strtod(v, &end);
        if (!*end && !errno && isfinite(d)) {
            sqlite3_bind_double(st, i, d);
            return;
        }
    }
    sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

int deja_sweepdb_open(const char *path, deja_sweepdb **out, char *err, size_t errlen) {
    assert(path && out);
    *out = NULL;
    deja_sweepdb *d = calloc(1, sizeof *d);
    assert(d);
    d->path = strdup(path);
    if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "unix") != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot open database: %s", path, d->db ? sqlite3_errmsg(d->db) : "?");
        deja_sweepdb_close(d);
        return 2;
    }
    sqlite3_busy_timeout(d->db, SWEEPDB__BUSY_MS);
    sqlite3_extended_result_codes(d->db, 1);
    char *msg = NULL;
    if (sweepdb__exec_locked(d->db, "PRAGMA journal_mode=WAL", 0, &msg) != SQLITE_OK ||
        sweepdb__exec_locked(d->db, "PRAGMA synchronous=NORMAL", 0, &msg) != SQLITE_OK ||
        sweepdb__exec_locked(d->db, sweepdb__schema, 1, &msg) != SQLITE_OK ||
        sweepdb__exec_locked(d->db, sweepdb__meta_schema, 1, &msg) != SQLITE_OK ||
        sweepdb__meta_write(d->db, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: not a usable sweep database: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        deja_sweepdb_close(d);
        return 2;
    }
    sqlite3_free(msg);
    if (sweepdb__load_cols(d->db, "main", &d->cols, &d->ncols, &d->capcols) ||
        !sweepdb__has_col(d, "params_key") || !sweepdb__has_col(d, "verdict")) {
        snprintf(err, errlen, "%s: its table runs is not a sweep table", path);
        deja_sweepdb_close(d);
        return 2;
    }
    char cerr[512];
    if (sweepdb__ensure_col(d, "crash_command", cerr, sizeof cerr)) {
        snprintf(err, errlen, "%s", cerr);
        deja_sweepdb_close(d);
        return 2;
    }
    if (sqlite3_prepare_v2(d->db,
                           "SELECT 1 FROM runs WHERE scenario=?1 AND seed=?2 AND params_key=?3 AND NOT "
                           "(verdict = 'crash' AND coalesce(crash_command, '') = '')",
                           -1, &d->has, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(d->db,
                           "DELETE FROM runs WHERE scenario=?1 AND seed=?2 AND params_key=?3 AND "
                           "verdict = 'crash' AND coalesce(crash_command, '') = ''",
                           -1, &d->stale, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(d->db));
        deja_sweepdb_close(d);
        return 2;
    }
    *out = d;
    return 0;
}

void deja_sweepdb_close(deja_sweepdb *d) {
    if (!d) return;
    sqlite3_finalize(d->has);
    sqlite3_finalize(d->stale);
    sqlite3_finalize(d->ins);
    sqlite3_close(d->db);
    for (int i = 0; i < d->ncols; i++) free(d->cols[i]);
    free(d->cols);
    free(d->ins_sql);
    free(d->path);
    free(d);
}

const char *deja_sweepdb_errmsg(deja_sweepdb *d) { return d && d->db ? sqlite3_errmsg(d->db) : "no database"; }

static int sweepdb__cmp_idx(const void *a, const void *b, void *ctx) {
    const deja_params *p = ctx;
    return strcmp(deja_params_key(p, *(const int *)a), deja_params_key(p, *(const int *)b));
}

/* Tiny insertion sort with a context (qsort_r differs between libcs). */
static void sweepdb__sort(int *idx, int n, const deja_params *p) {
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sweepdb__cmp_idx(&idx[j - 1], &idx[j], (void *)p) > 0; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
}

void deja_sweep_params_key(const deja_params *all, char *buf, size_t len) {
    assert(buf && len);
    int n = deja_params_count(all);
    int *idx = malloc(((size_t)n + 1) * sizeof *idx);
    assert(idx);
    for (int i = 0; i < n; i++) idx[i] = i;
    sweepdb__sort(idx, n, all);
    size_t pos = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++)
        sweepdb__cat(buf, len, &pos, "%s%s=%s", i ? ";" : "", deja_params_key(all, idx[i]),
                     deja_params_val(all, idx[i]));
    free(idx);
}

/* Binds a seed: INTEGER when it fits (every practical seed), else TEXT. */
static void sweepdb__bind_seed(sqlite3_stmt *st, int i, uint64_t seed) {
    if (seed <= (uint64_t)INT64_MAX) {
        sqlite3_bind_int64(st, i, (sqlite3_int64)seed);
    } else {
        char b[24];
        snprintf(b, sizeof b, "%llu", (unsigned long long)seed);
        sqlite3_bind_text(st, i, b, -1, SQLITE_TRANSIENT);
    }
}

int deja_sweepdb_has(deja_sweepdb *d, const char *scenario, uint64_t seed, const char *params_key) {
    sqlite3_reset(d->has);
    sqlite3_bind_text(d->has, 1, scenario, -1, SQLITE_TRANSIENT);
    sweepdb__bind_seed(d->has, 2, seed);
    sqlite3_bind_text(d->has, 3, params_key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(d->has);
    sqlite3_reset(d->has);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int deja_sweepdb_count(deja_sweepdb *d, const char *scenario) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "SELECT count(*) FROM runs WHERE scenario = ?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_int64 n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n < 0 ? -1 : n > 0;
}

static int sweepdb__is_fixed(const char *k) {
    for (int i = 0; sweepdb__fixed[i]; i++)
        if (!strcmp(sweepdb__fixed[i], k)) return 1;
    return 0;
}

int deja_sweepdb_insert(deja_sweepdb *d, const char *scenario, uint64_t seed, const deja_params *all,
                        const char *params_key, const deja_summary *s, char *err, size_t errlen) {
    assert(d && scenario && params_key && s);
    const char *verdict = deja_summary_get(s, "verdict");
    if (!verdict) verdict = "none";
    /* Columns: the fixed ones, every parameter, then every other summary key
     * that is not a parameter name. */
    int np = deja_params_count(all);
    for (int i = 0; i < np; i++)
        if (sweepdb__ensure_col(d, deja_params_key(all, i), err, errlen)) return -1;
    int keep[DEJA_SUMMARY_MAX];
    int nk = 0;
    for (int i = 0; i < s->n; i++) {
        const char *k = s->key[i];
        if (!k[0] || sweepdb__is_fixed(k) || deja_params_get(all, k)) continue;
        if (sweepdb__ensure_col(d, k, err, errlen)) return -1;
        keep[nk++] = i;
    }
    char *sql = malloc(SWEEPDB__SQL_MAX);
    assert(sql);
    size_t pos = 0;
    sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos,
                 "INSERT OR IGNORE INTO runs (scenario, seed, params_key, verdict, trace_hash, created_at");
    for (int i = 0; i < np; i++) {
        sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos, ", ");
        sweepdb__ident(sql, SWEEPDB__SQL_MAX, &pos, deja_params_key(all, i));
    }
    for (int i = 0; i < nk; i++) {
        sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos, ", ");
        sweepdb__ident(sql, SWEEPDB__SQL_MAX, &pos, s->key[keep[i]]);
    }
    sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos, ") VALUES (?, ?, ?, ?, ?, ?");
    for (int i = 0; i < np + nk; i++) sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos, ", ?");
    sweepdb__cat(sql, SWEEPDB__SQL_MAX, &pos, ")");
    if (pos >= SWEEPDB__SQL_MAX - 1) {
        snprintf(err, errlen, "%s: too many columns", d->path);
        free(sql);
        return -1;
    }
    if (!d->ins_sql || strcmp(d->ins_sql, sql)) {
        sqlite3_finalize(d->ins);
        d->ins = NULL;
        free(d->ins_sql);
        d->ins_sql = NULL;
        if (sqlite3_prepare_v2(d->db, sql, -1, &d->ins, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", d->path, sqlite3_errmsg(d->db));
            free(sql);
            return -1;
        }
        d->ins_sql = sql;
    } else {
        free(sql);
    }
    sqlite3_stmt *st = d->ins;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    int b = 1;
    sqlite3_bind_text(st, b++, scenario, -1, SQLITE_TRANSIENT);
    sweepdb__bind_seed(st, b++, seed);
    sqlite3_bind_text(st, b++, params_key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, b++, verdict, -1, SQLITE_TRANSIENT);
    const char *hash = deja_summary_get(s, "trace_hash");
    if (hash) sqlite3_bind_text(st, b++, hash, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, b++);
    sqlite3_bind_int64(st, b++, (sqlite3_int64)time(NULL));
    for (int i = 0; i < np; i++) sweepdb__bind_value(st, b++, deja_params_val(all, i));
    for (int i = 0; i < nk; i++) sweepdb__bind_value(st, b++, s->val[keep[i]]);
    /* One immediate transaction: drop an unverified crash row of this run,
     * then insert. Retried while another process holds the lock. */
    char *msg = NULL;
    int rc = sweepdb__exec_locked(d->db, "BEGIN IMMEDIATE", 0, &msg);
    sqlite3_free(msg);
    int added = 0;
    if (rc == SQLITE_OK) {
        sqlite3_reset(d->stale);
        sqlite3_bind_text(d->stale, 1, scenario, -1, SQLITE_TRANSIENT);
        sweepdb__bind_seed(d->stale, 2, seed);
        sqlite3_bind_text(d->stale, 3, params_key, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(d->stale);
        sqlite3_reset(d->stale);
        if (rc == SQLITE_DONE) {
            rc = sqlite3_step(st);
            added = rc == SQLITE_DONE && sqlite3_changes(d->db) > 0;
            sqlite3_reset(st);
        }
        if (rc == SQLITE_DONE) rc = sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK ? SQLITE_DONE : -1;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: insert failed: %s", d->path, sqlite3_errmsg(d->db));
        if (!sqlite3_get_autocommit(d->db)) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return added;
}

/* Merges one attached database `src` into main.runs. 0, or 2 with err. */
static int sweepdb__merge_one(deja_sweepdb *d, const char *in, uint64_t *added, char *err, size_t errlen) {
    char **scols = NULL;
    int ns = 0, caps = 0, rc = 2;
    char *sql = NULL;
    if (sweepdb__load_cols(d->db, "src", &scols, &ns, &caps) || ns == 0) {
        snprintf(err, errlen, "%s: no table runs (not a sweep database)", in);
        goto out;
    }
    int has_pk = 0, has_verdict = 0;
    for (int i = 0; i < ns; i++) {
        has_pk |= !strcmp(scols[i], "params_key");
        has_verdict |= !strcmp(scols[i], "verdict");
    }
    if (!has_pk || !has_verdict) {
        snprintf(err, errlen, "%s: its table runs is not a sweep table", in);
        goto out;
    }
    for (int i = 0; i < ns; i++)
        if (strcmp(scols[i], "id") && sweepdb__ensure_col(d, scols[i], err, errlen)) goto out;
    sql = malloc(SWEEPDB__SQL_MAX * 2);
    assert(sql);
    size_t pos = 0, len = SWEEPDB__SQL_MAX * 2;
    sweepdb__cat(sql, len, &pos, "INSERT OR IGNORE INTO main.runs (");
    int first = 1;
    for (int i = 0; i < ns; i++) {
        if (!strcmp(scols[i], "id")) continue;
        if (!first) sweepdb__cat(sql, len, &pos, ", ");
        sweepdb__ident(sql, len, &pos, scols[i]);
        first = 0;
    }
    sweepdb__cat(sql, len, &pos, ") SELECT ");
    first = 1;
    for (int i = 0; i < ns; i++) {
        if (!strcmp(scols[i], "id")) continue;
        if (!first) sweepdb__cat(sql, len, &pos, ", ");
        sweepdb__ident(sql, len, &pos, scols[i]);
        first = 0;
    }
    sweepdb__cat(sql, len, &pos, " FROM src.runs ORDER BY id");
    char *msg = NULL;
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: merge failed: %s", in, msg ? msg : sqlite3_errmsg(d->db));
        sqlite3_free(msg);
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    uint64_t n = (uint64_t)sqlite3_changes(d->db);
    if (sqlite3_exec(d->db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: commit failed: %s", in, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    if (added) *added += n;
    rc = 0;
out:
    for (int i = 0; i < ns; i++) free(scols[i]);
    free(scols);
    free(sql);
    return rc;
}

int deja_sweep_merge(const char *out, const char *const *in, int n, uint64_t *added, char *err,
                     size_t errlen) {
    assert(out && (in || n == 0));
    if (added) *added = 0;
    struct stat so, si;
    for (int i = 0; i < n; i++) {
        if (stat(in[i], &si) != 0) {
            snprintf(err, errlen, "%s: %s", in[i], strerror(errno));
            return 2;
        }
        if (stat(out, &so) == 0 && so.st_dev == si.st_dev && so.st_ino == si.st_ino) {
            snprintf(err, errlen, "%s: is the output database itself", in[i]);
            return 2;
        }
    }
    deja_sweepdb *d;
    if (deja_sweepdb_open(out, &d, err, errlen)) return 2;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(d->db, "ATTACH DATABASE ?1 AS src", -1, &st, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", out, sqlite3_errmsg(d->db));
            rc = 2;
            break;
        }
        sqlite3_bind_text(st, 1, in[i], -1, SQLITE_TRANSIENT);
        int arc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (arc != SQLITE_DONE) {
            snprintf(err, errlen, "%s: cannot open database: %s", in[i], sqlite3_errmsg(d->db));
            rc = 2;
            break;
        }
        rc = sweepdb__merge_one(d, in[i], added, err, errlen);
        sqlite3_exec(d->db, "DETACH DATABASE src", NULL, NULL, NULL);
    }
    deja_sweepdb_close(d);
    return rc;
}
