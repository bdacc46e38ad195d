/*
 * fact_kinds.c -- the names of fact kinds, shared by both backends: the
 * well-known kinds of rt.h and the kinds a node names for itself
 * (rt_fact_kind_named). A named kind's number is a hash of its name, so it
 * is the same in every process, every backend and every order of first
 * use; the table only remembers names for printing and catches two names
 * that hash alike.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "deja/rt.h"

#define DEJA__NAMED_MAX 256

static const struct {
    int kind;
    const char *name;
} deja__known[] = {
    {RT_FACT_PRODUCED, "produced"},
    {RT_FACT_IMPORTED, "imported"},
    {RT_FACT_REJECTED, "rejected"},
    {RT_FACT_DEFERRED, "deferred"},
    {RT_FACT_HEAD, "head"},
    {RT_FACT_CONFIRMED, "confirmed"},
    {RT_FACT_RECOVERED, "recovered"},
    {RT_FACT_INTEGRITY, "integrity"},
    {RT_FACT_CORRUPTION, "corruption"},
    {RT_FACT_CLOCK, "clock"},
    {RT_FACT_RAFT_ELECTION, "raft-election"},
    {RT_FACT_RAFT_LEADER, "raft-leader"},
    {RT_FACT_RAFT_FOLLOW, "raft-follow"},
    {RT_FACT_RAFT_STEPDOWN, "raft-stepdown"},
    {RT_FACT_RAFT_COMMITTED, "raft-committed"},
    {RT_FACT_RAFT_RECOVERED, "raft-recovered"},
    {RT_FACT_RAFT_LEASE_READ, "raft-lease-read"},
    {RT_FACT_RAFT_SNAP_INSTALLED, "raft-snap-installed"},
    {RT_FACT_RAFT_SNAP_FALLBACK, "raft-snap-fallback"},
    {RT_FACT_RAFT_SNAP_SYNC, "raft-snap-sync"},
    {100, "node-crash"},
    {101, "node-restart"},
    {102, "node-oom"},
    {103, "node-pause"},
};

/* Names registered by node code: configuration of the process (the same
 * name always maps to the same number), guarded for the threaded backend. */
static struct {
    int kind;
    char name[48];
} deja__named[DEJA__NAMED_MAX];
static int deja__n_named;
static pthread_mutex_t deja__named_mu = PTHREAD_MUTEX_INITIALIZER;

int rt_fact_kind_named(const char *name) {
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len >= sizeof deja__named[0].name) {
        fprintf(stderr, "rt_fact_kind_named: a fact kind needs a name of 1 to %zu bytes\n",
                sizeof deja__named[0].name - 1);
        abort();
    }
    int kind = RT_FACT_NAMED_MIN + (int)(XXH32(name, len, 0) % (uint32_t)(RT_FACT_NAMED_SPAN));
    pthread_mutex_lock(&deja__named_mu);
    for (int i = 0; i < deja__n_named; i++) {
        if (deja__named[i].kind != kind) continue;
        if (strcmp(deja__named[i].name, name)) {
            fprintf(stderr, "rt_fact_kind_named: '%s' and '%s' hash to one kind: rename one\n", name,
                    deja__named[i].name);
            abort();
        }
        pthread_mutex_unlock(&deja__named_mu);
        return kind;
    }
    if (deja__n_named == DEJA__NAMED_MAX) {
        fprintf(stderr, "rt_fact_kind_named: more than %d named fact kinds\n", DEJA__NAMED_MAX);
        abort();
    }
    deja__named[deja__n_named].kind = kind;
    snprintf(deja__named[deja__n_named].name, sizeof deja__named[0].name, "%s", name);
    deja__n_named++;
    pthread_mutex_unlock(&deja__named_mu);
    return kind;
}

const char *rt_fact_kind_name(int kind) {
    for (size_t i = 0; i < sizeof deja__known / sizeof deja__known[0]; i++)
        if (deja__known[i].kind == kind) return deja__known[i].name;
    const char *found = NULL;
    pthread_mutex_lock(&deja__named_mu);
    for (int i = 0; i < deja__n_named && !found; i++)
        if (deja__named[i].kind == kind) found = deja__named[i].name;
    pthread_mutex_unlock(&deja__named_mu);
    return found;
}
