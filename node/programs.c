/*
 * programs.c -- the programs the node library offers to a backend, and
 * their entry points. A scenario (or the node daemon) starts a node by
 * program name; node_programs_register() makes every name known. Each entry point wires
 * a store and an engine together, runs until its context is done, and
 * frees all it allocated before returning, with no task left behind.
 *
 * The store is chosen by parameter: store.kind = mem (default) or sqlite
 * (NODE_DB_PATH on the node's disk), store.sync = 1 (default) or 0,
 * store.verify_reads = 1 (default) or 0 (see store_vfs.c). A start
 * that finds the SQLite database already there is a restart: the node runs
 * the integrity check (RT_FACT_INTEGRITY), rebuilds an empty store when the
 * database is damaged (its chain is then fetched again from the peers),
 * and reports what it recovered (RT_FACT_RECOVERED) before it runs.
 */
#include <string.h>

#include "aura.h"
#include "node.h"
#include "raft.h"
#include "deja/rt.h"
#include "store.h"
#include "timesync.h"

#define NODE_DB_PATH "chain.db"
#define NODE_OPEN_TRIES 4 /* attempts at opening the engine on a failing store */

/* Reports the outcome of a store integrity check (0: ok, 1: failed). */
static void node__integrity_fact(bool ok) {
    rt_fact f;
    memset(&f, 0, sizeof f);
    f.kind = RT_FACT_INTEGRITY;
    f.value = ok ? 0 : 1;
    rt_fact_report(&f);
}

/* Opens the SQLite store; on a restart checks it first and starts over
 * from an empty one when it is damaged or unreadable. Returns RT_OK and
 * *out, or the error that leaves the node without a store. */
static int node__open_sqlite(const store_sqlite_cfg *scfg, bool restart, store **out) {
    int rc = RT_EIO;
    for (int i = 0; i < NODE_OPEN_TRIES && rc == RT_EIO; i++) /* a failed fsync may pass next time */
        rc = store_sqlite_open(NODE_DB_PATH, scfg, out);
    if (rc == RT_OK && restart) rc = store_check(*out);
    if (restart && rc != RT_ENOSPC && rc != RT_ENOMEM) node__integrity_fact(rc == RT_OK);
    if (rc == RT_OK || !restart || rc == RT_ENOSPC || rc == RT_ENOMEM) {
        if (rc != RT_OK) {
            if (*out != NULL) store_close(*out);
            *out = NULL;
        }
        return rc; /* fine, or a full disk / no memory: try again at the next start */
    }
    rt_log(RT_LOG_ERROR, "node: %s is damaged (%d): starting over from an empty store", NODE_DB_PATH,
           rc);
    if (*out != NULL) store_close(*out);
    *out = NULL;
    if (store_sqlite_wipe(NODE_DB_PATH) != RT_OK) return RT_EIO;
    return store_sqlite_open(NODE_DB_PATH, scfg, out);
}

/* Opens the engine on st (writing genesis to a fresh store) as one store
 * group, a few times over: a write that fails now (a failed fsync) may well
 * succeed the next time. NULL when every attempt failed. */
static aura *node__open_engine(const aura_config *cfg, store *st) {
    for (int i = 0; i < NODE_OPEN_TRIES; i++) {
        if (store_begin(st) != RT_OK) continue;
        aura *a = aura_open(cfg, st);
        if (a == NULL) {
            store_rollback(st);
            continue;
        }
        if (store_commit(st) == RT_OK) return a;
        aura_close(a);
    }
    return NULL;
}

void node_aura_main(rt_ctx *ctx) {
    aura_config cfg;
    aura_config_load(&cfg);
    const char *kind = rt_param_str("store.kind", "mem");
    store_sqlite_cfg scfg = {
        .sync = rt_param_i64("store.sync", 1) != 0,
        .verify_reads = rt_param_i64("store.verify_reads", 1) != 0,
    };
    store *st = NULL;
    bool restart = false;
    int rc = RT_OK;
    if (strcmp(kind, "sqlite") == 0) {
        restart = rt_file_exists(NODE_DB_PATH);
        if (!scfg.sync) rt_log(RT_LOG_WARN, "node: store.sync=0: commits are not durable");
        rc = node__open_sqlite(&scfg, restart, &st);
    } else {
        if (strcmp(kind, "mem") != 0)
            rt_log(RT_LOG_WARN, "node: store.kind=%s is not mem or sqlite, using mem", kind);
        st = store_mem_open();
        rc = st != NULL ? RT_OK : RT_ENOMEM;
    }
    if (rc != RT_OK) {
        rt_log(RT_LOG_ERROR, "node: cannot open the %s store: %d", kind, rc);
        return;
    }
    aura *a = node__open_engine(&cfg, st);
    if (a == NULL && restart) {
        /* the database opened but its chain cannot be read (a head lost to
         * corruption): start over rather than fail the same way each start */
        rt_log(RT_LOG_ERROR, "node: no readable chain in %s: starting over from an empty store",
               NODE_DB_PATH);
        store_close(st);
        st = NULL;
        rc = store_sqlite_wipe(NODE_DB_PATH);
        if (rc == RT_OK) rc = store_sqlite_open(NODE_DB_PATH, &scfg, &st);
        if (rc == RT_OK) a = node__open_engine(&cfg, st);
    }
    if (a == NULL) {
        rt_log(RT_LOG_ERROR, "node: cannot open the engine on the %s store (%d)", kind, rc);
        if (st != NULL) store_close(st);
        return;
    }
    if (restart) aura_report_recovered(a);
    rc = aura_run(a, ctx);
    if (rc != RT_OK) rt_log(RT_LOG_ERROR, "node: stopping: the store failed for good (%d)", rc);
    aura_close(a);
    store_close(st);
}

void node_programs_register(void) {
    rt_program_register("aura", node_aura_main);
    rt_program_register("raft", node_raft_main);
    rt_program_register("timesync", timesync_main);
}
