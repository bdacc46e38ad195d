/*
 * maint.c -- the node's background work: compaction under the store's lock
 * table and the per-block audit, with their bug switches (maint.h).
 *
 * The lock table has two mutexes, "index" (the block index) and "state"
 * (the state the blocks build). The rule of the node is one order, index
 * then state; store.nested_tx=1 breaks it in the compactor only, as a
 * nested transaction does: it holds the state while it waits for the index.
 */
#include <assert.h>
#include <string.h>

#include "maint.h"

#include "blockfile.h"
#include "param.h"

#define MAINT_AUDIT_WORK_NS (2 * RT_MS) /* one audit's signature check */
#define MAINT_STOP_WAIT_NS RT_SEC       /* how long stop waits for its tasks */

enum { MAINT_LEAK_NONE = 0, MAINT_LEAK_CHAN, MAINT_LEAK_CTX, MAINT_LEAK_TICKER, MAINT_LEAK_TASK, MAINT_LEAK_MAP };

static const char *const maint__leak_names[] = {"none", "chan", "ctx", "ticker", "task", "map"};
#define MAINT_NLEAKS (sizeof maint__leak_names / sizeof maint__leak_names[0])

struct maint {
    rt_ctx *ctx; /* ours: cancelled by maint_stop */
    rt_wg *wg;   /* the compactor and every audit */
    rt_mutex *index, *state; /* NULL when compaction is off */
    int64_t compact_ns, work_ns;
    bool nested;
    bool audit;
    int leak;
    blockfile *bf; /* the received-block file (blockfile.h), NULL when off */
    size_t record; /* > 0: each audit copies the block's record of this many bytes */
    uint64_t audits, compactions;
};

typedef struct maint__audit_job {
    maint *m;
    uint8_t hash[16];
    uint8_t *copy; /* the block's record, when m->record > 0: freed when the audit is done */
} maint__audit_job;

/* ---- compaction --------------------------------------------------------- */

/* Every compact_ns: both locks, compact_ns of I/O with the first held. */
static void maint__compactor(void *arg) {
    maint *m = arg;
    rt_chan *done = rt_ctx_done(m->ctx);
    for (;;) {
        rt_case c = {done, RT_RECV, NULL, 0};
        if (rt_select(&c, 1, m->compact_ns) == 0) break;
        rt_mutex *first = m->nested ? m->state : m->index;
        rt_mutex *second = m->nested ? m->index : m->state;
        if (rt_mutex_lock(first, RT_FOREVER) != RT_OK) break;
        rt_sleep_ns(m->work_ns); /* reads the first table */
        int rc = rt_mutex_lock(second, RT_FOREVER); /* nested: the index inside the state */
        if (rc == RT_OK) {
            rt_sleep_ns(RT_MS); /* rewrites both */
            m->compactions++;
            rt_mutex_unlock(second);
        }
        rt_mutex_unlock(first);
    }
    rt_wg_done(m->wg);
}

void maint_import_lock(maint *m) {
    if (m == NULL || m->index == NULL) return;
    (void)rt_mutex_lock(m->index, RT_FOREVER);
    (void)rt_mutex_lock(m->state, RT_FOREVER);
}

void maint_import_unlock(maint *m) {
    if (m == NULL || m->index == NULL) return;
    rt_mutex_unlock(m->state);
    rt_mutex_unlock(m->index);
}

/* ---- the audit ------------------------------------------------------------ */

static void maint__watch(void *arg) { (void)rt_chan_recv(rt_ctx_done(arg), NULL, RT_FOREVER); }

/* Re-verifies one block and reports it: right, or wrong in one way. */
static void maint__audit(void *arg) {
    maint__audit_job *j = arg;
    maint *m = j->m;
    rt_chan *report = rt_chan_new("audit.report", sizeof(int), 0);
    rt_ctx *c = rt_ctx_with_cancel(m->ctx); /* bounds the audit's own waits */
    rt_timer *progress = rt_timer_new("audit.progress", RT_MS, RT_MS);
    if (m->leak == MAINT_LEAK_CTX) rt_spawn("audit-watch", maint__watch, c);
    rt_sleep_ns(MAINT_AUDIT_WORK_NS);
    if (m->leak != MAINT_LEAK_TICKER) rt_timer_stop(progress);
    int ok = (j->hash[0] != 0 || j->hash[1] != 0) && (j->copy == NULL || j->copy[0] != 0);
    if (m->leak == MAINT_LEAK_CHAN || m->leak == MAINT_LEAK_TASK) {
        (void)rt_chan_send(report, &ok, RT_FOREVER); /* nobody reads it: blocks for good (with its copy) */
    } else {
        rt_case cs[2] = {{rt_ctx_done(c), RT_RECV, NULL, 0}, {report, RT_SEND, &ok, 0}};
        (void)rt_select(cs, 2, 0); /* nobody listens now: give up at once */
    }
    if (m->leak != MAINT_LEAK_CTX) rt_ctx_release(c);
    rt_chan_free(report);
    m->audits++;
    rt_wg_done(m->wg);
    rt_free(j->copy);
    rt_free(j);
}

void maint_on_block(maint *m, const block *b, const uint8_t hash[16]) {
    if (m == NULL || rt_ctx_err(m->ctx) != RT_OK) return;
    if (m->bf != NULL) blockfile_append(m->bf, b);
    if (!m->audit) return;
    maint__audit_job *j = rt_malloc(sizeof *j);
    if (j == NULL) return;
    j->m = m;
    memcpy(j->hash, hash, sizeof j->hash);
    j->copy = NULL;
    if (m->record > 0) { /* the audit reads the whole record: its own copy */
        j->copy = rt_malloc(m->record);
        if (j->copy == NULL) {
            rt_free(j);
            return;
        }
        size_t len = block_encode(b, j->copy, m->record);
        assert(len > 0);
        memset(j->copy + len, hash[0] | 1, m->record - len);
    }
    rt_wg_add(m->wg, 1);
    if (rt_spawn("audit", maint__audit, j) != RT_OK) {
        rt_wg_done(m->wg);
        rt_free(j->copy);
        rt_free(j);
    }
}

/* ---- lifetime --------------------------------------------------------------- */

maint *maint_start(rt_ctx *ctx) {
    int64_t compact_ms = node_param("maint", "store.compact_ms", 0, 0, 3600 * 1000);
    bool nested = node_param("maint", "store.nested_tx", 0, 0, 1) != 0;
    /* node.leak; unset or none, the older name leak.kind (the mem-leak
     * scenario's: task, map, or none, which there asks for the audit and
     * the block file done right) */
    const char *ls = rt_param_str("node.leak", NULL);
    const char *alias = ls == NULL || !strcmp(ls, "none") ? rt_param_str("leak.kind", NULL) : NULL;
    if (alias != NULL) ls = alias;
    if (ls == NULL) ls = "none";
    int leak = MAINT_LEAK_NONE;
    while (leak < (int)MAINT_NLEAKS && strcmp(ls, maint__leak_names[leak]) != 0) leak++;
    if (leak == (int)MAINT_NLEAKS) {
        rt_log(RT_LOG_WARN, "maint: node.leak=%s is not chan, ctx, ticker, task, map or none: none", ls);
        leak = MAINT_LEAK_NONE;
    }
    const bool careful = alias != NULL && leak == MAINT_LEAK_NONE;
    bool audit = node_param("maint", "node.audit", 0, 0, 1) != 0 || careful ||
                 (leak != MAINT_LEAK_NONE && leak != MAINT_LEAK_MAP);
    bool file = node_param("maint", "store.block_file", 0, 0, 1) != 0 || careful || leak == MAINT_LEAK_MAP;
    size_t record = (size_t)node_param("maint", "store.block_kb", 256, 1, 1 << 20) * 1024;
    if (record < BLOCK_ENCODED_MAX) record = BLOCK_ENCODED_MAX;
    if (nested && compact_ms == 0) compact_ms = 1000;
    if (compact_ms == 0 && !audit && !file) return NULL;
    maint *m = rt_calloc(1, sizeof *m);
    if (m == NULL) return NULL;
    m->ctx = rt_ctx_with_cancel(ctx);
    m->wg = rt_wg_new();
    m->compact_ns = compact_ms * RT_MS;
    m->work_ns = node_param("maint", "store.compact_work_ms", 20, 0, 3600 * 1000) * RT_MS;
    m->nested = nested;
    m->audit = audit;
    m->leak = leak;
    if (file || leak == MAINT_LEAK_TASK) m->record = record; /* audits read the record the file holds */
    if (file) {
        size_t file_len = (size_t)node_param("maint", "store.block_file_mb", 256, 1, 1 << 20) * 1024 * 1024;
        if (file_len < record) file_len = record;
        uint32_t keep = (uint32_t)node_param("maint", "store.block_keep", 8, 1, 1 << 20);
        m->bf = blockfile_open(record, file_len, keep, leak != MAINT_LEAK_MAP);
        if (m->bf == NULL) rt_log(RT_LOG_WARN, "maint: cannot map the block file: running without it");
    }
    if (compact_ms > 0) {
        m->index = rt_mutex_new("index");
        m->state = rt_mutex_new("state");
        rt_wg_add(m->wg, 1);
        if (rt_spawn("compactor", maint__compactor, m) != RT_OK) rt_wg_done(m->wg);
    }
    rt_log(RT_LOG_INFO, "maint: compaction every %lld ms%s, audit %s, block file %s%s%s", (long long)compact_ms,
           nested ? " (nested transactions)" : "", audit ? "on" : "off", m->bf != NULL ? "on" : "off",
           leak ? ", leaking " : "", leak ? ls : "");
    return m;
}

void maint_stop(maint *m) {
    if (m == NULL) return;
    rt_ctx_cancel(m->ctx);
    if (rt_wg_wait(m->wg, MAINT_STOP_WAIT_NS) != RT_OK) {
        /* a task deadlocked or leaked: it still uses m, so m stays */
        rt_log(RT_LOG_ERROR, "maint: background tasks did not stop (deadlocked or leaked)");
        return;
    }
    rt_log(RT_LOG_INFO, "maint: stop: %llu compactions, %llu audits, %llu blocks filed",
           (unsigned long long)m->compactions, (unsigned long long)m->audits,
           (unsigned long long)blockfile_records(m->bf));
    blockfile_close(m->bf);
    rt_ctx_release(m->ctx);
    rt_wg_free(m->wg);
    if (m->index != NULL) rt_mutex_free(m->index);
    if (m->state != NULL) rt_mutex_free(m->state);
    rt_free(m);
}
