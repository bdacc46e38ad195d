/*
 * daemon.c -- the node daemon as a library call (deja_node_main,
 * deja/daemon.h): one process runs one registered node program (default
 * the first registered) on the production backend. `deja-node` is the
 * reference node's daemon; a team's own daemon is the same call after
 * registering its programs.
 *
 *   deja-node --id I --peers ADDR,ADDR,... --data DIR [--listen ADDR]
 *             [--set key=value]... [--program NAME] [--inspect-s N]
 *             [--grace-ms N] [--start-file PATH] [--key FILE]
 *
 * peers lists every node's address in id order, this node's own included.
 * SIGTERM or SIGINT cancels the root context; the daemon waits for the
 * program and its tasks (at most --grace-ms), syncs the facts file and exits
 * 0 -- or 1 if tasks were still live (their dump goes to stderr) or the
 * program returned before any signal. A bad flag, a port in use or an
 * unusable data directory exit 2 with one line naming the flag. SIGUSR1
 * prints a task dump, SIGUSR2 the status lines; DIR/status is rewritten
 * every second. --start-file makes the node bind its socket and write its
 * status, then wait until PATH exists before it runs the program: a start
 * barrier, so that a cluster's nodes all listen before any produces.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deja/rt.h"
#include "deja/daemon.h"
#include "deja/version.h"
#include "real.h"

static const char deja__usage[] =
    "usage: deja-node --id I --peers ADDR,ADDR,... --data DIR [--listen ADDR]\n"
    "                 [--set key=value]... [--program NAME] [--inspect-s N] [--grace-ms N]\n"
    "                 [--start-file PATH] [--key FILE] [--net-loss-pct P] [--net-dup-pct P]\n"
    "                 [--net-delay-ms D] [--net-jitter-ms J] [--net-reorder-pct P --net-reorder-ms R]\n"
    "                 [--net-seed S]\n"
    "       deja-node --version\n"
    "  --id I          this node's id: its index in --peers\n"
    "  --peers LIST    every node's UDP address (host:port), in id order, own included\n"
    "  --listen ADDR   address to bind (default: the --peers entry of --id)\n"
    "  --data DIR      data directory (created if missing): facts, status\n"
    "  --set key=value a node parameter (aura.slot_ms=500, log.level=debug, ...)\n"
    "  --program NAME  the registered program to run (default: the first registered)\n"
    "  --inspect-s N   every N seconds, report task growth by spawn and blocking site\n"
    "  --grace-ms N    how long shutdown waits for tasks (default 5000)\n"
    "  --start-file P  bind, then wait until file P exists before starting the program\n"
    "  --key FILE      the cluster key (64 hex digits, mode 0600, owned by this user):\n"
    "                  every datagram is authenticated with it; without it, none is\n"
    "  --net-loss-pct P     drop P% of the datagrams this node sends\n"
    "  --net-dup-pct P      send P% of them twice\n"
    "  --net-delay-ms D     hold every datagram D ms before sending it ...\n"
    "  --net-jitter-ms J    ... plus uniform in +-J ms\n"
    "  --net-reorder-pct P  hold P% of them back uniform in [R/2, R] ms more, so later\n"
    "  --net-reorder-ms R   ones overtake them (R default 0: set it)\n"
    "  --net-seed S         seed of those draws (default: the node id)\n"
    "signals: TERM/INT stop cleanly, USR1 task dump, USR2 status (stderr)\n"
    "exit: 0 clean stop, 1 tasks left or program failed, 2 bad flag or unusable resource\n";

/* Prints one line "deja-node: REASON" (control bytes as \xHH) and returns 2. */
static int deja__fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int deja__fail(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "deja-node: ");
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++) { /* control bytes shown, never sent raw */
        if (*c < 0x20 || *c == 0x7f) fprintf(stderr, "\\x%02x", *c);
        else fputc(*c, stderr);
    }
    fputc('\n', stderr);
    return 2;
}

/* Parses a non-negative decimal integer below limit; 0 or -1. */
static int deja__uint(const char *s, long long limit, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v >= limit) return -1;
    *out = v;
    return 0;
}

typedef struct deja__prog {
    rt_main_fn fn;
    rt_ctx *root;
    rt_wg *wg;
} deja__prog;

/* The node's first task: runs the program, then marks it finished. */
static void deja__prog_task(void *arg) {
    deja__prog *p = arg;
    p->fn(p->root);
    rt_wg_done(p->wg);
}

int deja_node_main(int argc, char **argv) {
    real_block_signals(); /* before any thread: every thread inherits it */
    const char *id_s = NULL, *peers_s = NULL, *data = NULL, *listen = NULL, *program = NULL, *start_file = NULL,
               *key = NULL;
    long long inspect_s = 0, grace_ms = 5000;
    real_net_faults faults = {0};
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(deja__usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--version")) {
            deja_version_print(argc > 0 && argv[0] && *argv[0] ? argv[0] : "deja-node", stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) return deja__fail("unexpected argument '%s' (see --help)", a);
        const char *eq = strchr(a, '=');
        char flag[64];
        size_t fl = eq ? (size_t)(eq - a) : strlen(a);
        if (fl >= sizeof flag) return deja__fail("unknown flag '%s' (see --help)", a);
        memcpy(flag, a, fl);
        flag[fl] = 0;
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return deja__fail("%s: missing value", flag);
        if (!*val) return deja__fail("%s '': an empty value", flag);
        const char **once = !strcmp(flag, "--id")           ? &id_s
                            : !strcmp(flag, "--peers")      ? &peers_s
                            : !strcmp(flag, "--data")       ? &data
                            : !strcmp(flag, "--listen")     ? &listen
                            : !strcmp(flag, "--program")    ? &program
                            : !strcmp(flag, "--start-file") ? &start_file
                            : !strcmp(flag, "--key")        ? &key
                                                            : NULL;
        if (once && *once) return deja__fail("%s given twice (it takes one value)", flag);
        if (!strcmp(flag, "--id"))
            id_s = val;
        else if (!strcmp(flag, "--peers"))
            peers_s = val;
        else if (!strcmp(flag, "--data"))
            data = val;
        else if (!strcmp(flag, "--listen"))
            listen = val;
        else if (!strcmp(flag, "--program"))
            program = val;
        else if (!strcmp(flag, "--start-file"))
            start_file = val;
        else if (!strcmp(flag, "--key"))
            key = val;
        else if (!strcmp(flag, "--set")) {
            if (real_param_set(val, err, sizeof err)) return deja__fail("%s", err);
        } else if (!strcmp(flag, "--inspect-s")) {
            if (deja__uint(val, 1000000, &inspect_s)) return deja__fail("--inspect-s: '%s' is not a number of seconds", val);
        } else if (!strncmp(flag, "--net-", 6)) {
            int rc = real_net_fault_flag(&faults, flag, val, err, sizeof err);
            if (rc == 1) return deja__fail("unknown flag '%s' (see --help)", flag);
            if (rc) return deja__fail("%s", err);
        } else if (!strcmp(flag, "--grace-ms")) {
            if (deja__uint(val, 3600000, &grace_ms)) return deja__fail("--grace-ms: '%s' is not a number of milliseconds", val);
        } else
            return deja__fail("unknown flag '%s' (see --help)", flag);
    }
    if (!id_s) return deja__fail("--id: missing (see --help)");
    if (!peers_s) return deja__fail("--peers: missing (see --help)");
    if (!data) return deja__fail("--data: missing (see --help)");

    /* --peers a,b,c -> an array (one entry per comma, plus one: no fixed
     * limit); empty entries are errors. Both stay for the process's life
     * (the backend keeps pointers into them), in statics. */
    static char *peers_buf;
    static const char **peers;
    size_t maxp = 1;
    for (const char *c = peers_s; *c; c++) maxp += *c == ',';
    if (maxp > INT32_MAX) return deja__fail("--peers: too many addresses");
    free(peers_buf);
    free((void *)peers);
    peers_buf = strdup(peers_s);
    peers = calloc(maxp, sizeof *peers);
    if (!peers_buf || !peers) return deja__fail("--peers: out of memory");
    int np = 0;
    for (char *p = peers_buf;;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (!*p) return deja__fail("--peers: empty address in '%s'", peers_s);
        assert((size_t)np < maxp);
        peers[np++] = p;
        if (!c) break;
        p = c + 1;
    }
    long long id;
    if (deja__uint(id_s, np, &id)) {
        return deja__fail("--id: '%s' is not a node id below the number of peers (%d)", id_s, np);
    }

    rt_main_fn fn = real_program_find(program);
    if (!fn && !program) return deja__fail("no program is registered");
    if (!fn) return deja__fail("--program: no program named '%s'", program);

    real_opts o = {.id = (uint32_t)id, .npeers = np, .peers = peers, .listen = listen, .data_dir = data,
                   .inspect_s = (int)inspect_s, .key_file = key, .net_faults = faults};
    if (real_init(&o, err, sizeof err)) return deja__fail("%s", err);

    rt_ctx *root = rt_ctx_with_cancel(NULL);
    rt_wg *wg = rt_wg_new();
    if (!root || !wg) {
        fprintf(stderr, "deja-node: out of memory\n");
        return 1;
    }
    real_signals_start(root);
    rt_log(RT_LOG_INFO, "deja-node %lld/%d program=%s listen=%s data=%s auth=%s", id, np,
           program ? program : "(first)", listen ? listen : peers[id], data, key ? "on" : "off");
    if (!key && np > 1)
        rt_log(RT_LOG_WARN, "no --key: datagrams are not authenticated; anyone who can reach the port can "
               "speak for any node ('deja cluster' makes a key)");
    if (start_file) { /* the start barrier: listening already, not producing yet */
        rt_task_note("daemon: waiting for the start file");
        while (access(start_file, F_OK) != 0 && !real_signaled()) rt_sleep_ns(2 * RT_MS);
    }
    deja__prog prog = {fn, root, wg};
    rt_wg_add(wg, 1);
    if (rt_spawn("main", deja__prog_task, &prog) != RT_OK) {
        fprintf(stderr, "deja-node: cannot start the program task\n");
        return 1;
    }

    /* Wait for the program; after a signal, at most grace_ms more. */
    rt_task_note("daemon: waiting for the program");
    int64_t grace = grace_ms * RT_MS, cancel_at = 0;
    bool returned = false, early = false;
    for (;;) {
        if (rt_wg_wait(wg, 100 * RT_MS) == RT_OK) {
            returned = true;
            early = !real_signaled();
            break;
        }
        if (real_signaled()) {
            if (!cancel_at) cancel_at = rt_mono_ns();
            if (rt_mono_ns() - cancel_at > grace) break;
        }
    }
    if (early) {
        rt_log(RT_LOG_ERROR, "program '%s' returned before any signal", program);
        rt_ctx_cancel(root);
    }
    if (!returned) rt_log(RT_LOG_ERROR, "program '%s' did not return %lld ms after the signal", program, grace_ms);
    int64_t left_ns = returned ? grace - (cancel_at ? rt_mono_ns() - cancel_at : 0) : 0;
    int left = real_shutdown(left_ns > 0 ? left_ns : 0);
    if (left == 0 && returned) {
        rt_ctx_release(root);
        rt_wg_free(wg);
    }
    rt_log(RT_LOG_INFO, "stopped: %s", left == 0 && returned && !early ? "clean" : "with errors");
    return left == 0 && returned && !early ? 0 : 1;
}
