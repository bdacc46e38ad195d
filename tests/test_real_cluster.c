/*
 * test_real_cluster.c -- the reference node as real `deja-node` processes on
 * loopback, launched by the same code as `deja cluster` (sim/real/cluster.h):
 * four nodes agree and produce blocks at the pace of the slot length; a node
 * killed with SIGKILL and restarted catches up, from its peers (in-memory
 * store) or from its data directory (SQLite store), and SIGTERM leaves
 * databases that pass PRAGMA integrity_check; the daemon rejects bad
 * flags, a port in use and an unusable data directory with exit 2 and one
 * line naming the flag; SIGUSR1 prints a task dump, SIGUSR2 the status, and
 * SIGTERM stops it cleanly (exit 0, no task left); and the backend defines
 * every function rt.h declares (nm over libdeja_real.a).
 *
 * The binaries come from DEJA_BINARY_DIR (the build tree). About 30 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <ctype.h>

#include "real/cluster.h"

static const char *node_bin(void) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/deja-node", DEJA_BINARY_DIR);
    return path;
}

static char *const sets500[] = {"aura.slot_ms=500"};

static void base_opts(deja_cluster_opts *o, char *dir, size_t dirlen) {
    memset(o, 0, sizeof *o);
    snprintf(dir, dirlen, "/tmp/deja-test-cluster-XXXXXX");
    assert_non_null(mkdtemp(dir));
    o->nodes = 4;
    o->node_bin = node_bin();
    o->dir = dir;
    o->nsets = 1;
    o->sets = sets500;
    o->kill_node = -1;
    o->grace_ms = 10000;
    o->progress = stderr;
}

static void test_cluster_agrees(void **state) {
    (void)state;
    deja_cluster_opts o;
    char dir[64], err[512];
    base_opts(&o, dir, sizeof dir);
    o.duration_ms = 6000;
    deja_cluster_result r;
    assert_int_equal(deja_cluster_run(&o, &r, err, sizeof err), 0);
    fprintf(stderr, "cluster: blocks=%llu forks=%llu confirmed=%llu..%llu agree=%d\n", (unsigned long long)r.blocks,
            (unsigned long long)r.forks, (unsigned long long)r.confirmed_min, (unsigned long long)r.confirmed_max,
            r.agree);
    assert_true(r.agree);
    assert_string_equal(deja_cluster_verdict(&r), "ok");
    for (int i = 0; i < 4; i++) assert_int_equal(r.node[i].exit_status, 0);
    /* 6 s of 500 ms slots: about 12 blocks, confirmed 3 below the head */
    assert_true(r.blocks >= 8 && r.blocks <= 16);
    assert_true(r.confirmed_min >= 5);
    for (int i = 0; i < 4; i++) assert_true(r.node[i].produced >= 1);
    deja_cluster_result_free(&r);
}

static void test_cluster_kill_restart(void **state) {
    (void)state;
    deja_cluster_opts o;
    char dir[64], err[512];
    base_opts(&o, dir, sizeof dir);
    o.duration_ms = 9000;
    o.kill_node = 3;
    o.kill_at_ms = 3000;
    o.down_ms = 1000;
    deja_cluster_result r;
    assert_int_equal(deja_cluster_run(&o, &r, err, sizeof err), 0);
    fprintf(stderr, "cluster: confirmed %llu,%llu,%llu,%llu; restarted node confirmed %llu in its 2nd life\n",
            (unsigned long long)r.node[0].confirmed, (unsigned long long)r.node[1].confirmed,
            (unsigned long long)r.node[2].confirmed, (unsigned long long)r.node[3].confirmed,
            (unsigned long long)r.node[3].confirmed_last);
    assert_true(r.agree);
    assert_int_equal(r.node[3].incarnations, 2);
    assert_int_equal(r.node[3].exit_status, 0);
    /* it caught up: its second life confirmed (nearly) as far as the others */
    assert_true(r.node[3].confirmed_last + 2 >= r.node[0].confirmed);
    assert_true(r.node[3].confirmed_last >= 10);
    deja_cluster_result_free(&r);
}

static char *const sets_sqlite[] = {"aura.slot_ms=500", "store.kind=sqlite"};

static void test_cluster_sqlite_restart(void **state) {
    (void)state;
    deja_cluster_opts o;
    char dir[64], err[512];
    base_opts(&o, dir, sizeof dir);
    o.sets = sets_sqlite;
    o.nsets = 2;
    o.duration_ms = 9000;
    o.kill_node = 3;
    o.kill_at_ms = 4000;
    o.down_ms = 1000;
    deja_cluster_result r;
    assert_int_equal(deja_cluster_run(&o, &r, err, sizeof err), 0);
    fprintf(stderr, "cluster: sqlite: confirmed %llu,%llu,%llu,%llu; node 3 recovered %llu from disk, then confirmed %llu\n",
            (unsigned long long)r.node[0].confirmed, (unsigned long long)r.node[1].confirmed,
            (unsigned long long)r.node[2].confirmed, (unsigned long long)r.node[3].confirmed,
            (unsigned long long)r.node[3].recovered_last, (unsigned long long)r.node[3].confirmed_last);
    assert_true(r.agree);
    assert_true(r.roots_agree);
    assert_int_equal(r.integrity_failed, 0);
    assert_int_equal(r.corruption, 0);
    assert_string_equal(deja_cluster_verdict(&r), "ok");
    assert_int_equal(r.node[3].incarnations, 2);
    /* killed at 4 s with 500 ms slots: a few blocks were confirmed on disk */
    assert_true(r.node[3].recovered_last >= 2);
    assert_true(r.node[3].confirmed_last + 2 >= r.node[0].confirmed);
    deja_cluster_result_free(&r);
    /* SIGTERM left every database intact */
    for (int i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, "%s/node-%d/chain.db", dir, i);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, "unix"), SQLITE_OK);
        sqlite3_stmt *q = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
}

/* Runs deja-node with argv (NULL-terminated, argv[0] ignored); returns its
 * exit status and its stderr's first line in line. */
static int run_node(char *const *argv, char *line, size_t len) {
    char logp[] = "/tmp/deja-test-node-log-XXXXXX";
    int fd = mkstemp(logp);
    assert_true(fd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 2);
        execv(node_bin(), argv);
        _exit(127);
    }
    int ws;
    waitpid(pid, &ws, 0);
    FILE *f = fopen(logp, "r");
    line[0] = 0;
    if (f && !fgets(line, (int)len, f)) line[0] = 0;
    if (f) fclose(f);
    close(fd);
    unlink(logp);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void test_daemon_bad_input(void **state) {
    (void)state;
    char line[512], peers[64];
    int port = deja__cl_pick_ports(1);
    assert_true(port > 0);
    snprintf(peers, sizeof peers, "127.0.0.1:%d", port);
    char *bad_flag[] = {"deja-node", "--id", "0", "--peers", peers, "--data", "/tmp/x", "--bogus", "1", NULL};
    assert_int_equal(run_node(bad_flag, line, sizeof line), 2);
    assert_non_null(strstr(line, "--bogus"));
    char *bad_id[] = {"deja-node", "--id", "4", "--peers", peers, "--data", "/tmp/x", NULL};
    assert_int_equal(run_node(bad_id, line, sizeof line), 2);
    assert_non_null(strstr(line, "--id"));
    char *bad_data[] = {"deja-node", "--id", "0", "--peers", peers, "--data", "/proc/version/d", NULL};
    assert_int_equal(run_node(bad_data, line, sizeof line), 2);
    assert_non_null(strstr(line, "--data"));
    char *bad_set[] = {"deja-node", "--id", "0", "--peers", peers, "--data", "/tmp/x", "--set", "novalue", NULL};
    assert_int_equal(run_node(bad_set, line, sizeof line), 2);
    assert_non_null(strstr(line, "--set"));
    char *bad_check[] = {"deja-node", "--id", "0", "--peers", peers, "--data", "/tmp/x", "--set",
                         "real.deadlock_check=yes", NULL};
    assert_int_equal(run_node(bad_check, line, sizeof line), 2);
    assert_non_null(strstr(line, "deja-node: --set real.deadlock_check=yes: want 0 or 1"));
    /* the port is taken */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    char *busy[] = {"deja-node", "--id", "0", "--peers", peers, "--data", "/tmp/deja-test-busy", NULL};
    assert_int_equal(run_node(busy, line, sizeof line), 2);
    assert_non_null(strstr(line, "--listen"));
    assert_non_null(strstr(line, "in use"));
    close(s);
}

/* Counts lines of path containing needle. */
static int count_in(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, needle)) n++;
    fclose(f);
    return n;
}

static void test_daemon_signals(void **state) {
    (void)state;
    char dir[] = "/tmp/deja-test-daemon-XXXXXX", peers[64], logp[256], data[256];
    assert_non_null(mkdtemp(dir));
    int port = deja__cl_pick_ports(1);
    snprintf(peers, sizeof peers, "127.0.0.1:%d", port);
    snprintf(logp, sizeof logp, "%s/log", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        execl(node_bin(), "deja-node", "--id", "0", "--peers", peers, "--data", data, "--set", "aura.slot_ms=200",
              "--inspect-s", "1", (char *)NULL);
        _exit(127);
    }
    deja__cl_sleep_ms(1500);
    kill(pid, SIGUSR1);
    deja__cl_sleep_ms(200);
    kill(pid, SIGUSR2);
    deja__cl_sleep_ms(200);
    int64_t t0 = deja__cl_now_ms();
    kill(pid, SIGTERM);
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_true(deja__cl_now_ms() - t0 < 3000);
    assert_int_equal(count_in(logp, "task dump: node=0 tasks=1"), 1);
    assert_true(count_in(logp, "inspect: node=0") >= 1);
    assert_int_equal(count_in(logp, "confirmed_height="), 1); /* the SIGUSR2 status */
    assert_int_equal(count_in(logp, "stopped: clean"), 1);
    /* the status file says the node stopped with no task left */
    char st[PATH_MAX + 16];
    snprintf(st, sizeof st, "%s/status", data);
    assert_int_equal(count_in(st, "state=stopped"), 1);
    assert_int_equal(count_in(st, "tasks=0"), 1);
    /* a single node (its own proposer every slot) produced blocks */
    deja_cluster_result r;
    char base[PATH_MAX - 64];
    snprintf(base, sizeof base, "%s/one", dir);
    mkdir(base, 0755);
    snprintf(st, sizeof st, "%s/node-0", base);
    assert_int_equal(rename(data, st), 0);
    assert_int_equal(deja_cluster_analyze(base, 1, &r), 0);
    assert_true(r.blocks >= 4);
    assert_int_equal(r.node[0].incarnations, 1);
    deja_cluster_result_free(&r);
}

/* Every function declared in rt.h is defined (T) in libdeja_real.a or in
 * libdeja_common.a (what both backends share). */
static void test_backend_complete(void **state) {
    (void)state;
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "nm -g --defined-only %s/libdeja_real.a %s/libdeja_common.a 2>/dev/null", DEJA_BINARY_DIR,
             DEJA_BINARY_DIR);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    static char defined[65536];
    size_t dl = 0;
    char line[512];
    while (fgets(line, sizeof line, p)) {
        char type, name[256];
        unsigned long long addr;
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && type == 'T' && dl + strlen(name) + 3 < sizeof defined)
            dl += (size_t)snprintf(defined + dl, sizeof defined - dl, " %s ", name);
    }
    pclose(p);
    if (dl == 0) skip(); /* no nm on this machine */
    snprintf(cmd, sizeof cmd, "%s/sim/include/deja/rt.h", DEJA_SOURCE_DIR);
    FILE *h = fopen(cmd, "r");
    assert_non_null(h);
    int checked = 0, missing = 0;
    while (fgets(line, sizeof line, h)) {
        /* a declaration: a line starting with a type, then rt_name( */
        if (line[0] == ' ' || line[0] == '*' || line[0] == '#' || line[0] == '/' || strncmp(line, "typedef", 7) == 0)
            continue;
        char *par = strchr(line, '('), *at = par;
        if (!par) continue;
        while (at > line && (isalnum((unsigned char)at[-1]) || at[-1] == '_')) at--;
        char name[128], key[132];
        size_t n = (size_t)(par - at);
        if (n < 4 || n >= sizeof name || strncmp(at, "rt_", 3) != 0) continue;
        memcpy(name, at, n);
        name[n] = 0;
        if (strchr(name, ' ')) continue;
        snprintf(key, sizeof key, " %s ", name);
        checked++;
        if (!strstr(defined, key)) {
            fprintf(stderr, "missing in the production backend: %s\n", name);
            missing++;
        }
    }
    fclose(h);
    fprintf(stderr, "rt.h: %d functions, %d missing in the production backend\n", checked, missing);
    assert_true(checked >= 50);
    assert_int_equal(missing, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backend_complete),
        cmocka_unit_test(test_daemon_bad_input),
        cmocka_unit_test(test_daemon_signals),
        cmocka_unit_test(test_cluster_agrees),
        cmocka_unit_test(test_cluster_kill_restart),
        cmocka_unit_test(test_cluster_sqlite_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
