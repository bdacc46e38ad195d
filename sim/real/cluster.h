/*
 * cluster.h -- a local cluster of real `deja-node` processes: launch them on
 * 127.0.0.1 ports (optionally under libfaketime with a wall-clock offset,
 * optionally SIGKILLing and restarting one), stop them with SIGTERM, and
 * judge what they did from their facts files.
 *
 * Header-only (static functions, libc and POSIX only, no rt_* call) because
 * it serves two programs built against different backends: `deja cluster`
 * (sim/cli/cmd_cluster.c, linked with the simulator) and the cluster test
 * (tests/test_real_cluster.c, linked with the production backend).
 *
 * Raft nodes (--program raft) are judged by the same rules: a committed
 * entry (raft-committed) counts as a confirmed block, and leader facts are
 * counted.
 *
 * Layout of a cluster directory DIR: DIR/node-I/{facts,status,log} for each
 * node I (log is the node's stdout and stderr; status.L keeps the last status
 * of a life that --kill ended). The facts format is the one
 * real.h documents: "WALL_NS KIND HEIGHT SLOT HASH PARENT VALUE ROOT" lines, a
 * "start" line opening each incarnation of the node.
 *
 * The tables are sized from the node count (heap); the only bound is the
 * one Linux forces (DEJA_CLUSTER_NODES_MAX, deja_cluster_check_nodes).
 *
 * libfaketime note: with FAKETIME_DONT_FAKE_MONOTONIC=1, libfaketime 0.9.10
 * breaks pthread_cond_timedwait on a CLOCK_MONOTONIC condition variable (it
 * returns at once) and clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) (it
 * fails with EINVAL). So the launcher lets libfaketime shift the monotonic
 * clock too: a constant shift, which leaves every duration unchanged.
 */
#ifndef DEJA_REAL_CLUSTER_H
#define DEJA_REAL_CLUSTER_H

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Every node gets --peers with every node's address ("127.0.0.1:PORT,", at
 * most 16 bytes each) as one argument, and Linux takes at most 128 KiB
 * (MAX_ARG_STRLEN) in one argument: more nodes than this cannot start. */
#define DEJA_CLUSTER_NODES_MAX 8000
#define DEJA__CL_UNUSED __attribute__((unused))

typedef struct deja_cluster_opts {
    int nodes;
    int64_t duration_ms;
    int base_port;        /* 0: find nodes consecutive free UDP ports */
    const char *node_bin; /* the deja-node executable */
    const char *program;  /* the node program (deja-node --program); NULL: its default */
    const char *dir;      /* the cluster directory (created if missing) */
    int nsets;
    char *const *sets;    /* "key=value" passed as --set to every node */
    int nnode_args;
    char *const *node_args; /* more arguments for every node (the --net-* faults) */
    const bool *fake;                  /* NULL, or one entry per node: run it under libfaketime */
    const int64_t *fake_ms;            /* with fake: each node's wall-clock offset */
    const char *faketime_lib;          /* needed when a fake[] is set */
    int kill_node;                     /* -1: none; else SIGKILL it at kill_at_ms */
    int64_t kill_at_ms, down_ms;       /* ... and restart it down_ms later */
    int64_t grace_ms;                  /* SIGTERM to SIGKILL */
    int inspect_s;                     /* > 0: every node runs its leak inspector this often */
    const volatile sig_atomic_t *stop; /* optional: set (by a signal) to stop early */
    FILE *progress;                    /* optional: one line per event */
} deja_cluster_opts;

typedef struct deja_cluster_node {
    int exit_status;        /* of its last incarnation: code, 128+signal, -1 never ran */
    int incarnations;       /* "start" lines in its facts */
    uint64_t confirmed;     /* highest height it confirmed (any incarnation) */
    uint64_t confirmed_last; /* highest height confirmed by its last incarnation */
    uint64_t recovered_last; /* confirmed height its last incarnation found on disk (0: none) */
    uint64_t produced, imported, rejected, deferred;
    /* the backend's own detectors, from its status files (every life's: deja__cl_read_status) */
    uint64_t deadlocks, leak_groups, lost_contexts, lost_timers;
    uint64_t tasks_left; /* tasks= of a stopped node: alive after the grace period */
    uint64_t deadlock_timeouts; /* wait-for cycles a lock timeout broke: counted, not a verdict */
} deja_cluster_node;

typedef struct deja_cluster_result {
    int nodes;
    uint64_t blocks;  /* distinct produced blocks */
    uint64_t forks;   /* heights with more than one distinct produced block */
    uint64_t confirmed_min, confirmed_max;
    uint64_t rejected, deferred, imported, corruption, integrity_failed;
    bool agree;       /* no two confirmations of one height name different blocks */
    bool roots_agree; /* confirmations of one block name one state root */
    uint64_t leaders, last_term; /* Raft: leader facts (one per elected leader) and the highest term */
    uint64_t deadlocks, leak_groups, lost_contexts, lost_timers, tasks_left; /* summed over the nodes */
    uint64_t deadlock_timeouts; /* summed too; not a verdict (the simulator's default) */
    char conflict[160];
    deja_cluster_node *node; /* nodes entries, on the heap: deja_cluster_result_free */
} deja_cluster_result;

/* Frees what r holds (r itself is the caller's); r may be freed twice. */
DEJA__CL_UNUSED static void deja_cluster_result_free(deja_cluster_result *r) {
    free(r->node);
    r->node = NULL;
}

/* True when node i of o runs under libfaketime. */
static bool deja__cl_faked(const deja_cluster_opts *o, int i) { return o->fake && o->fake[i]; }

/* Node i's clock offset under libfaketime in ns (0 when it has none). */
DEJA__CL_UNUSED static int64_t deja__cl_fake_ns(const deja_cluster_opts *o, int i) {
    return deja__cl_faked(o, i) ? o->fake_ms[i] * 1000000 : 0;
}

/* Whether a cluster of n processes can start here: 1..DEJA_CLUSTER_NODES_MAX
 * and within this user's process limit (RLIMIT_NPROC). 0, or -1 with a
 * message naming --nodes in err. */
static int deja_cluster_check_nodes(long n, char *err, size_t errlen) {
    if (n < 1) {
        snprintf(err, errlen, "--nodes: %ld is not 1 or more", n);
        return -1;
    }
    if (n > DEJA_CLUSTER_NODES_MAX) {
        snprintf(err, errlen,
                 "--nodes: %ld is more than %d (every node's --peers lists all nodes, and Linux takes at most 128 KiB "
                 "in one argument)",
                 n, DEJA_CLUSTER_NODES_MAX);
        return -1;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (rlim_t)n >= rl.rlim_cur &&
        geteuid() != 0) {
        snprintf(err, errlen, "--nodes: %ld processes are more than this user may run (ulimit -u: %llu)", n,
                 (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

/* ---- facts analysis ---------------------------------------------------- */

typedef struct deja__cl_blk {
    uint64_t height;
    char hash[33];
    char root[33];
    int node;
} deja__cl_blk;

typedef struct deja__cl_vec {
    deja__cl_blk *v;
    size_t n, cap;
} deja__cl_vec;

static int deja__cl_push(deja__cl_vec *a, uint64_t h, const char *hash, const char *root, int node) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        deja__cl_blk *v = realloc(a->v, cap * sizeof *v);
        if (!v) return -1;
        a->v = v;
        a->cap = cap;
    }
    deja__cl_blk *b = &a->v[a->n++];
    b->height = h;
    snprintf(b->hash, sizeof b->hash, "%s", hash);
    snprintf(b->root, sizeof b->root, "%s", root);
    b->node = node;
    return 0;
}

static int deja__cl_cmp(const void *x, const void *y) {
    const deja__cl_blk *a = x, *b = y;
    if (a->height != b->height) return a->height < b->height ? -1 : 1;
    return strcmp(a->hash, b->hash);
}

/* Adds what one status file of a node counted to nd; with `last` (the
 * file of its last life) also the tasks still alive once it stopped. A
 * missing file adds nothing. */
static void deja__cl_add_status(const char *path, bool last, deja_cluster_node *nd) {
    char line[256];
    FILE *f = fopen(path, "r");
    if (!f) return;
    bool stopped = false;
    unsigned long long tasks = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        char key[64];
        if (!strcmp(line, "state=stopped\n")) stopped = true;
        if (sscanf(line, "%63[a-z_]=%llu", key, &v) != 2) continue;
        if (!strcmp(key, "deadlocks"))
            nd->deadlocks += v;
        else if (!strcmp(key, "deadlock_timeouts"))
            nd->deadlock_timeouts += v;
        else if (!strcmp(key, "leak_groups"))
            nd->leak_groups += v;
        else if (!strcmp(key, "lost_contexts"))
            nd->lost_contexts += v;
        else if (!strcmp(key, "lost_timers"))
            nd->lost_timers += v;
        else if (!strcmp(key, "tasks"))
            tasks = v;
    }
    fclose(f);
    if (last && stopped) nd->tasks_left = tasks;
}

/* Reads what the production backend's detectors counted in node i's lives
 * (DIR/node-I/status, rewritten every second and when the node stops, and
 * DIR/node-I/status.L, the last status of the L-th life a --kill ended:
 * deja__cl_keep_status): the deadlocks reported and those a timeout broke,
 * the task groups the leak inspector flagged, lost contexts and timers,
 * summed over the lives, and the tasks the last life left alive when it
 * stopped. Missing files (a node that never started) count nothing; keys
 * it does not know are skipped, so older nodes' files read too. */
static void deja__cl_read_status(const char *dir, int i, deja_cluster_node *nd) {
    char path[PATH_MAX];
    for (int life = 1;; life++) {
        snprintf(path, sizeof path, "%s/node-%d/status.%d", dir, i, life);
        if (access(path, F_OK) != 0) break;
        deja__cl_add_status(path, false, nd);
    }
    snprintf(path, sizeof path, "%s/node-%d/status", dir, i);
    deja__cl_add_status(path, true, nd);
}

/* Before node i of dir restarts: keeps the status its ended life left as
 * status.L (the first L free), so that its counts are not overwritten. */
static void deja__cl_keep_status(const char *dir, int i) {
    char from[PATH_MAX], to[PATH_MAX + 16];
    snprintf(from, sizeof from, "%s/node-%d/status", dir, i);
    for (int life = 1; life < 1000000; life++) {
        snprintf(to, sizeof to, "%s/node-%d/status.%d", dir, i, life);
        if (access(to, F_OK) == 0) continue;
        (void)rename(from, to); /* no status (it never wrote one): nothing kept */
        return;
    }
}

/* Reads DIR/node-I/facts of every node into r, which it fills anew (exit
 * statuses -1; free it with deja_cluster_result_free, whatever it returns).
 * Returns 0, or -1 when memory runs out. Missing files count as empty. */
DEJA__CL_UNUSED static int deja_cluster_analyze(const char *dir, int nodes, deja_cluster_result *r) {
    deja__cl_vec prod = {0}, conf = {0};
    int rc = 0;
    assert(nodes >= 0);
    memset(r, 0, sizeof *r);
    if (!(r->node = calloc((size_t)(nodes ? nodes : 1), sizeof *r->node))) return -1;
    r->nodes = nodes;
    r->roots_agree = true;
    r->confirmed_min = UINT64_MAX;
    r->confirmed_max = 0;
    r->agree = true;
    r->conflict[0] = 0;
    for (int i = 0; i < nodes; i++) {
        deja_cluster_node *nd = &r->node[i];
        nd->exit_status = -1;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/node-%d/facts", dir, i);
        FILE *f = fopen(path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            long long wall, value;
            unsigned long long height, slot;
            char kind[16], hash[33], parent[33], root[33] = "";
            int got = sscanf(line, "%lld %15s %llu %llu %32s %32s %lld %32s", &wall, kind, &height, &slot, hash,
                             parent, &value, root);
            if (got < 7 || !strchr(line, '\n')) continue; /* a line torn by a SIGKILL */
            if (!strcmp(kind, "start")) {
                nd->incarnations++;
                nd->confirmed_last = nd->recovered_last = 0;
            } else if (!strcmp(kind, "recovered")) {
                nd->recovered_last = height;
            } else if (!strcmp(kind, "produced")) {
                nd->produced++;
                if (deja__cl_push(&prod, height, hash, root, i)) rc = -1;
            } else if (!strcmp(kind, "raft-leader")) {
                r->leaders++;
                if (height > r->last_term) r->last_term = height;
            } else if (!strcmp(kind, "confirmed") || !strcmp(kind, "raft-committed")) { /* Raft: a committed entry */
                if (height > nd->confirmed) nd->confirmed = height;
                if (height > nd->confirmed_last) nd->confirmed_last = height;
                if (deja__cl_push(&conf, height, hash, root, i)) rc = -1;
            } else if (!strcmp(kind, "imported")) {
                nd->imported++;
            } else if (!strcmp(kind, "rejected")) {
                nd->rejected++;
            } else if (!strcmp(kind, "deferred")) {
                nd->deferred++;
            } else if (!strcmp(kind, "corruption")) {
                r->corruption++;
            } else if (!strcmp(kind, "integrity") && value != 0) {
                r->integrity_failed++;
            }
        }
        if (f) fclose(f);
        deja__cl_read_status(dir, i, nd);
        r->deadlocks += nd->deadlocks;
        r->deadlock_timeouts += nd->deadlock_timeouts;
        r->leak_groups += nd->leak_groups;
        r->lost_contexts += nd->lost_contexts;
        r->lost_timers += nd->lost_timers;
        r->tasks_left += nd->tasks_left;
        r->rejected += nd->rejected;
        r->deferred += nd->deferred;
        r->imported += nd->imported;
        if (nd->confirmed < r->confirmed_min) r->confirmed_min = nd->confirmed;
        if (nd->confirmed > r->confirmed_max) r->confirmed_max = nd->confirmed;
    }
    if (nodes == 0) r->confirmed_min = 0;
    if (prod.n) qsort(prod.v, prod.n, sizeof *prod.v, deja__cl_cmp);
    int at_height = 0; /* distinct blocks seen so far at prod.v[i].height */
    for (size_t i = 0; i < prod.n; i++) {
        if (i > 0 && !deja__cl_cmp(&prod.v[i], &prod.v[i - 1])) continue; /* the same block again */
        r->blocks++;
        if (i == 0 || prod.v[i].height != prod.v[i - 1].height)
            at_height = 1;
        else if (++at_height == 2)
            r->forks++; /* count each forked height once */
    }
    if (conf.n) qsort(conf.v, conf.n, sizeof *conf.v, deja__cl_cmp);
    for (size_t i = 1; i < conf.n; i++) {
        if (conf.v[i].height != conf.v[i - 1].height) continue;
        if (!strcmp(conf.v[i].hash, conf.v[i - 1].hash)) {
            if (strcmp(conf.v[i].root, conf.v[i - 1].root)) r->roots_agree = false;
            continue;
        }
        if (r->agree) {
            r->agree = false;
            snprintf(r->conflict, sizeof r->conflict, "height %llu: node %d confirmed %.12s, node %d confirmed %.12s",
                     (unsigned long long)conf.v[i].height, conf.v[i - 1].node, conf.v[i - 1].hash, conf.v[i].node,
                     conf.v[i].hash);
        }
    }
    free(prod.v);
    free(conf.v);
    return rc;
}

/* ---- launching --------------------------------------------------------- */

static int64_t deja__cl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deja__cl_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* True when UDP port p on 127.0.0.1 can be bound now. */
static bool deja__cl_port_free(int p) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* A base port with n consecutive free UDP ports, or -1. */
static int deja__cl_pick_ports(int n) {
    int start = 20000 + (int)((unsigned)getpid() * 97u % 20000u);
    for (int tries = 0; tries < 200; tries++) {
        int base = 20000 + (start - 20000 + tries * 101) % 40000;
        bool ok = true;
        for (int i = 0; i < n && ok; i++) ok = deja__cl_port_free(base + i);
        if (ok) return base;
    }
    return -1;
}

/* Finds libfaketime's multithreaded preload library, or NULL. */
DEJA__CL_UNUSED static const char *deja_cluster_faketime_lib(void) {
    const char *env = getenv("DEJA_FAKETIME_LIB");
    if (env && *env) return env;
    static const char *const cands[] = {
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
        "/usr/lib64/faketime/libfaketimeMT.so.1",
    };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++)
        if (access(cands[i], R_OK) == 0) return cands[i];
    return NULL;
}

/* Writes a new cluster key (32 random bytes as 64 hex digits, mode 0600)
 * to path unless one is there: the nodes authenticate every datagram with
 * it (deja-node --key). 0, or -1 with err. */
static int deja__cl_make_key(const char *path, char *err, size_t errlen) {
    if (access(path, F_OK) == 0) return 0; /* a restarted cluster keeps its key */
    unsigned char k[32];
    size_t got = 0;
    int rfd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (rfd >= 0 && got < sizeof k) {
        ssize_t n = read(rfd, k + got, sizeof k - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (rfd >= 0) close(rfd);
    if (got != sizeof k) {
        snprintf(err, errlen, "cannot read /dev/urandom for the cluster key");
        return -1;
    }
    char hex[2 * sizeof k + 2];
    for (size_t i = 0; i < sizeof k; i++) snprintf(hex + 2 * i, 3, "%02x", k[i]);
    hex[2 * sizeof k] = '\n';
    memset(k, 0, sizeof k);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, hex, 2 * sizeof k + 1) != (ssize_t)(2 * sizeof k + 1) || fsync(fd) != 0) {
        snprintf(err, errlen, "cluster key %.300s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

/* Starts node i; returns its pid or -1 (err set). */
static pid_t deja__cl_spawn(const deja_cluster_opts *o, int i, const char *peers, int port, char *err,
                            size_t errlen) {
    char ndir[PATH_MAX], logp[PATH_MAX + 8], id[16], listen[32];
    snprintf(ndir, sizeof ndir, "%s/node-%d", o->dir, i);
    snprintf(logp, sizeof logp, "%s/log", ndir);
    snprintf(id, sizeof id, "%d", i);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    if (mkdir(ndir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%.300s: %s", ndir, strerror(errno));
        return -1;
    }
    char go[PATH_MAX + 8];
    snprintf(go, sizeof go, "%s/go", o->dir);
    char key[PATH_MAX + 16];
    snprintf(key, sizeof key, "%s/cluster.key", o->dir);
    if (deja__cl_make_key(key, err, errlen)) return -1; /* the first node makes it */
    int nargs = 17 + 2 * o->nsets + o->nnode_args + 1;
    char **argv = calloc((size_t)nargs, sizeof *argv);
    if (!argv) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int k = 0;
    argv[k++] = (char *)o->node_bin;
    argv[k++] = "--id";
    argv[k++] = id;
    argv[k++] = "--peers";
    argv[k++] = (char *)peers;
    argv[k++] = "--data";
    argv[k++] = ndir;
    argv[k++] = "--listen";
    argv[k++] = listen;
    argv[k++] = "--start-file";
    argv[k++] = go;
    if (o->program) {
        argv[k++] = "--program";
        argv[k++] = (char *)o->program;
    }
    argv[k++] = "--key";
    argv[k++] = key;
    char inspect[24];
    if (o->inspect_s > 0) {
        snprintf(inspect, sizeof inspect, "%d", o->inspect_s);
        argv[k++] = "--inspect-s";
        argv[k++] = inspect;
    }
    for (int s = 0; s < o->nsets; s++) {
        argv[k++] = "--set";
        argv[k++] = o->sets[s];
    }
    for (int a = 0; a < o->nnode_args; a++) argv[k++] = o->node_args[a];
    assert(k < nargs);
    argv[k] = NULL;
    char fake[48];
    bool faked = deja__cl_faked(o, i);
    if (faked) {
        int64_t ms = o->fake_ms[i], a = ms < 0 ? -ms : ms;
        snprintf(fake, sizeof fake, "%c%lld.%03lld", ms < 0 ? '-' : '+', (long long)(a / 1000), (long long)(a % 1000));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        free(argv);
        return -1;
    }
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            if (fd > 2) close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            if (nul > 0) close(nul);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        if (faked) {
            setenv("LD_PRELOAD", o->faketime_lib, 1);
            setenv("FAKETIME", fake, 1);
            unsetenv("FAKETIME_DONT_FAKE_MONOTONIC"); /* see the note at the top */
            /* an AddressSanitizer build of the node refuses to start when a
             * preloaded library comes before its runtime; libfaketime only
             * wraps the clock calls, so that order is harmless there */
            const char *ao = getenv("ASAN_OPTIONS");
            char asan[512];
            snprintf(asan, sizeof asan, "%s%sverify_asan_link_order=0", ao ? ao : "", ao && *ao ? ":" : "");
            setenv("ASAN_OPTIONS", asan, 1);
        }
        execv(o->node_bin, argv);
        fprintf(stderr, "deja cluster: exec %s: %s\n", o->node_bin, strerror(errno));
        _exit(127);
    }
    free(argv);
    if (o->progress)
        fprintf(o->progress, "cluster: node %d pid %d on %s%s%s\n", i, (int)pid, listen, faked ? " faketime " : "",
                faked ? fake : "");
    return pid;
}

static int deja__cl_status(int ws) {
    if (WIFEXITED(ws)) return WEXITSTATUS(ws);
    if (WIFSIGNALED(ws)) return 128 + WTERMSIG(ws);
    return -1;
}

/* Runs the cluster as o says and judges it into r (free it with
 * deja_cluster_result_free, whatever this returns). Returns 0 when the run
 * happened (whatever its verdict), 2 with err set when it could not start. */
DEJA__CL_UNUSED static int deja_cluster_run(const deja_cluster_opts *o, deja_cluster_result *r, char *err,
                                            size_t errlen) {
    memset(r, 0, sizeof *r);
    if (deja_cluster_check_nodes(o->nodes, err, errlen)) return 2;
    if (access(o->node_bin, X_OK) != 0) {
        snprintf(err, errlen, "cannot run %.300s: %s (set DEJA_NODE_BIN)", o->node_bin, strerror(errno));
        return 2;
    }
    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "--data-dir %.300s: %s", o->dir, strerror(errno));
        return 2;
    }
    int base = o->base_port;
    if (base == 0 && (base = deja__cl_pick_ports(o->nodes)) < 0) {
        snprintf(err, errlen, "--base-port: no %d consecutive free UDP ports found", o->nodes);
        return 2;
    }
    if (base < 1 || base + o->nodes - 1 > 65535) {
        snprintf(err, errlen, "--base-port: %d..%d is not a port range", base, base + o->nodes - 1);
        return 2;
    }
    size_t plen = (size_t)o->nodes * 24 + 1, pl = 0;
    char *peers = calloc(1, plen);
    pid_t *pid = calloc((size_t)o->nodes, sizeof *pid);
    int *ex = calloc((size_t)o->nodes, sizeof *ex); /* each node's exit status: code, 128+signal, -1 */
    if (!peers || !pid || !ex) {
        free(peers);
        free(pid);
        free(ex);
        snprintf(err, errlen, "out of memory");
        return 2;
    }
    for (int i = 0; i < o->nodes; i++)
        pl += (size_t)snprintf(peers + pl, plen - pl, "%s127.0.0.1:%d", i ? "," : "", base + i);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/go", o->dir);
    unlink(path);
    for (int i = 0; i < o->nodes; i++) { /* a status of an earlier run is not this one's */
        snprintf(path, sizeof path, "%s/node-%d/status", o->dir, i);
        unlink(path);
        for (int life = 1;; life++) {
            snprintf(path, sizeof path, "%s/node-%d/status.%d", o->dir, i, life);
            if (unlink(path) != 0) break;
        }
    }
    for (int i = 0; i < o->nodes; i++) {
        ex[i] = -1;
        pid[i] = deja__cl_spawn(o, i, peers, base + i, err, errlen);
        if (pid[i] < 0) {
            for (int j = 0; j < i; j++) kill(pid[j], SIGKILL);
            for (int j = 0; j < i; j++) waitpid(pid[j], NULL, 0);
            free(peers);
            free(pid);
            free(ex);
            return 2;
        }
    }
    /* The start barrier: every node has bound its socket and written its
     * status file; then DIR/go lets them all run (see deja-node --start-file). */
    int64_t tb = deja__cl_now_ms();
    for (int ready = 0; ready < o->nodes && deja__cl_now_ms() - tb < 10000 && !(o->stop && *o->stop);) {
        ready = 0;
        for (int i = 0; i < o->nodes; i++) {
            int ws;
            snprintf(path, sizeof path, "%s/node-%d/status", o->dir, i);
            if (access(path, F_OK) == 0)
                ready++;
            else if (pid[i] > 0 && waitpid(pid[i], &ws, WNOHANG) == pid[i]) { /* failed to start */
                ex[i] = deja__cl_status(ws);
                pid[i] = 0;
                if (o->progress)
                    fprintf(o->progress, "cluster: node %d failed to start, status %d (see %s/node-%d/log)\n", i,
                            ex[i], o->dir, i);
                ready = o->nodes; /* stop waiting: the run goes on and reports it */
                break;
            }
        }
        if (ready < o->nodes) deja__cl_sleep_ms(2);
    }
    snprintf(path, sizeof path, "%s/go", o->dir);
    int gfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (gfd >= 0) close(gfd);
    int64_t t0 = deja__cl_now_ms();
    bool killed = false, restarted = false;
    while (deja__cl_now_ms() - t0 < o->duration_ms && !(o->stop && *o->stop)) {
        deja__cl_sleep_ms(20);
        int64_t el = deja__cl_now_ms() - t0;
        for (int i = 0; i < o->nodes; i++) { /* a node that stops by itself */
            int ws;
            if (pid[i] > 0 && waitpid(pid[i], &ws, WNOHANG) == pid[i]) {
                ex[i] = deja__cl_status(ws);
                pid[i] = 0;
                if (o->progress)
                    fprintf(o->progress, "cluster: node %d exited early with status %d (see %s/node-%d/log)\n", i,
                            ex[i], o->dir, i);
            }
        }
        if (o->kill_node >= 0 && o->kill_node < o->nodes && !killed && el >= o->kill_at_ms) {
            killed = true;
            int k = o->kill_node;
            if (pid[k] > 0) {
                kill(pid[k], SIGKILL);
                waitpid(pid[k], NULL, 0);
                pid[k] = 0;
                if (o->progress) fprintf(o->progress, "cluster: node %d killed (SIGKILL) at %lld ms\n", k, (long long)el);
            }
        }
        if (killed && !restarted && el >= o->kill_at_ms + o->down_ms) {
            restarted = true;
            int k = o->kill_node;
            deja__cl_keep_status(o->dir, k);
            pid[k] = deja__cl_spawn(o, k, peers, base + k, err, errlen);
            if (pid[k] < 0) pid[k] = 0;
            ex[k] = -1;
        }
    }
    for (int i = 0; i < o->nodes; i++)
        if (pid[i] > 0) kill(pid[i], SIGTERM);
    int64_t ts = deja__cl_now_ms();
    for (;;) {
        bool live = false;
        for (int i = 0; i < o->nodes; i++) {
            int ws;
            if (pid[i] > 0 && waitpid(pid[i], &ws, WNOHANG) == pid[i]) {
                ex[i] = deja__cl_status(ws);
                pid[i] = 0;
            }
            live |= pid[i] > 0;
        }
        if (!live) break;
        if (deja__cl_now_ms() - ts > o->grace_ms) {
            for (int i = 0; i < o->nodes; i++) {
                int ws;
                if (pid[i] > 0 && kill(pid[i], SIGKILL) == 0 && waitpid(pid[i], &ws, 0) == pid[i])
                    ex[i] = deja__cl_status(ws);
                pid[i] = 0;
            }
            break;
        }
        deja__cl_sleep_ms(10);
    }
    free(peers);
    free(pid);
    if (deja_cluster_analyze(o->dir, o->nodes, r)) {
        free(ex);
        snprintf(err, errlen, "out of memory reading facts");
        return 2;
    }
    for (int i = 0; i < o->nodes; i++) r->node[i].exit_status = ex[i];
    free(ex);
    return 0;
}

/* What the nodes' own detectors found, as in a simulated run: "deadlock"
 * when a node's backend reported one, "leak" when a node's leak inspector
 * flagged a task group, a context or a timer was lost, or tasks outlived a
 * node's stop; NULL when none. With buf, a line naming the first node
 * that found it and what it found (the details are in its log). */
DEJA__CL_UNUSED static const char *deja_cluster_detected(const deja_cluster_result *r, char *buf, size_t len) {
    static const char *const what[] = {"deadlocks", "leak_groups", "lost_contexts", "lost_timers", "tasks_left"};
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < r->nodes; i++) {
            const deja_cluster_node *nd = &r->node[i];
            uint64_t v[5] = {nd->deadlocks, nd->leak_groups, nd->lost_contexts, nd->lost_timers, nd->tasks_left};
            if (!v[k]) continue;
            if (buf) snprintf(buf, len, "node %d: %s=%llu, see node-%d/log", i, what[k], (unsigned long long)v[k], i);
            return k == 0 ? "deadlock" : "leak";
        }
    }
    return NULL;
}

/* The verdict: "deadlock" when a node's backend reported one, "leak" when
 * a node's leak inspector flagged a task group, a context or timer was
 * lost, or tasks outlived a node's stop (the detectors first, as in a
 * simulated run); then "safety" when confirmations disagree, "state_root" when one
 * block was confirmed with different state roots, "corruption" when a node
 * detected corrupted data or failed an integrity check, "node_exit" when a
 * node's last incarnation did not exit 0, else "ok". */
DEJA__CL_UNUSED static const char *deja_cluster_verdict(const deja_cluster_result *r) {
    const char *d = deja_cluster_detected(r, NULL, 0);
    if (d) return d;
    if (!r->agree) return "safety";
    if (!r->roots_agree) return "state_root";
    if (r->corruption || r->integrity_failed) return "corruption";
    for (int i = 0; i < r->nodes; i++)
        if (r->node[i].exit_status != 0) return "node_exit";
    return "ok";
}

#endif /* DEJA_REAL_CLUSTER_H */
