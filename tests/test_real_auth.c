/*
 * test_real_auth.c -- the production transport trusts no datagram: the
 * replay window on its own, the key file's checks, and a live loopback
 * cluster of four deja-node processes (with the key `deja cluster` makes)
 * under attack from an outsider that sends malformed, oversized, spoofed
 * (forged sender id), tampered and replayed datagrams to node 0 while the
 * cluster runs. Every one is dropped and counted by reason in node 0's
 * status, its log names them at a bounded rate, and the cluster still
 * agrees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "real/cluster.h"
#include "real_int.h"

static const char *node_bin(void) {
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/deja-node", DEJA_BINARY_DIR);
    return path;
}

/* ---- the replay window ---------------------------------------------------- */

static void test_replay_window(void **state) {
    (void)state;
    char err[256];
    assert_int_equal(real__auth_load(NULL, err, sizeof err), 0); /* clears the windows */
    assert_true(real__replay_accept(1, 1000));
    assert_false(real__replay_accept(1, 1000)); /* the same datagram again */
    assert_true(real__replay_accept(1, 1002));
    assert_true(real__replay_accept(1, 1001)); /* late but new: reordering is fine */
    assert_false(real__replay_accept(1, 1001));
    assert_true(real__replay_accept(1, 1100));
    assert_false(real__replay_accept(1, 1002)); /* fell out of the 64-wide window */
    assert_true(real__replay_accept(2, 5));     /* per sender */
    assert_false(real__replay_accept(2, 0));
}

/* ---- the key file ---------------------------------------------------------- */

static void test_key_file_checks(void **state) {
    (void)state;
    char dir[] = "/tmp/deja-test-key-XXXXXX", path[128], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/k", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", f);
    fclose(f);
    chmod(path, 0644);
    assert_int_equal(real__auth_load(path, err, sizeof err), 2);
    assert_non_null(strstr(err, "chmod 600"));
    chmod(path, 0600);
    assert_int_equal(real__auth_load(path, err, sizeof err), 0);
    assert_true(real__auth_on());
    f = fopen(path, "w");
    fputs("not a key\n", f);
    fclose(f);
    assert_int_equal(real__auth_load(path, err, sizeof err), 2);
    assert_non_null(strstr(err, "hex digits"));
    assert_int_equal(real__auth_load(dir, err, sizeof err), 2); /* a directory */
    unlink(path);
    rmdir(dir);
    assert_int_equal(real__auth_load(NULL, err, sizeof err), 0);
    assert_false(real__auth_on());
}

/* ---- deja-node's command line ---------------------------------------------- */

/* Runs deja-node with args; its exit status, stderr in err. */
static int node_cli(char *err, size_t len, const char *args) {
    char cmd[PATH_MAX + 1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1 >/dev/null", node_bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(err, 1, len - 1, p);
    err[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_node_flags(void **state) {
    (void)state;
    char err[1024];
    assert_int_equal(node_cli(err, sizeof err, "--id 0 --id 1 --peers 127.0.0.1:1 --data /tmp/x"), 2);
    assert_non_null(strstr(err, "--id given twice"));
    assert_int_equal(node_cli(err, sizeof err, "--id 0 --peers '' --data /tmp/x"), 2);
    assert_non_null(strstr(err, "--peers '': an empty value"));
    assert_int_equal(node_cli(err, sizeof err, "--id 0 --peers 127.0.0.1:1 --data /tmp/x --key /nonexistent/k"), 2);
    assert_non_null(strstr(err, "--key /nonexistent/k"));
    assert_int_equal(node_cli(err, sizeof err, "$(printf 'x\\033]0;y\\007')"), 2);
    assert_null(strchr(err, '\033'));
    assert_non_null(strstr(err, "\\x1b"));
}

/* ---- a live cluster under attack ------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A datagram from `from` with sequence number seq and payload pl (len);
 * with key, followed by its MAC. Returns its length. */
static size_t datagram(uint8_t *out, uint32_t from, uint64_t seq, const void *pl, uint32_t len,
                       const unsigned char *key) {
    memcpy(out, "DJ02", 4);
    put32(out + 4, from);
    put64(out + 8, seq);
    put32(out + 16, len);
    memcpy(out + 20, pl, len);
    if (!key) return 20 + len;
    crypto_auth(out + 20 + len, out, 20 + len, key);
    return 20 + len + 32;
}

/* The attacker (a child process): waits for the cluster to start, then
 * sends every kind of bad datagram to node 0 at base_port. */
static void attack(const char *dir, int base_port) {
    char go[256], keyp[256];
    snprintf(go, sizeof go, "%s/go", dir);
    snprintf(keyp, sizeof keyp, "%s/cluster.key", dir);
    for (int i = 0; i < 3000 && access(go, F_OK) != 0; i++) usleep(10000);
    usleep(1500 * 1000); /* the cluster runs */
    /* The attacker does not have the key: a random one forges MACs. The
     * real key is read only to build a correctly signed datagram that is
     * replayed (a captured old one). */
    unsigned char fake[32], real[32];
    randombytes_buf(fake, sizeof fake);
    FILE *kf = fopen(keyp, "r");
    char hex[80] = "";
    if (!kf || !fgets(hex, sizeof hex, kf)) _exit(3);
    fclose(kf);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) _exit(4);
        real[i] = (unsigned char)v;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)base_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    static uint8_t dg[62000];
    uint8_t pl[64];
    memset(pl, 0x5a, sizeof pl);
    for (int round = 0; round < 50; round++) {
        size_t n;
        sendto(s, "DJ0", 3, 0, (struct sockaddr *)&to, sizeof to); /* short */
        n = datagram(dg, 1, 1, pl, 16, NULL);
        memcpy(dg, "XX99", 4);
        sendto(s, dg, n + 32, 0, (struct sockaddr *)&to, sizeof to); /* bad magic */
        n = datagram(dg, 99, 1, pl, 16, fake);
        sendto(s, dg, n, 0, (struct sockaddr *)&to, sizeof to); /* unknown sender */
        n = datagram(dg, 1, 1, pl, 16, fake);
        sendto(s, dg, n - 5, 0, (struct sockaddr *)&to, sizeof to); /* undecodable: cut short */
        n = datagram(dg, 1, (uint64_t)round + 1, pl, 16, fake);
        sendto(s, dg, n, 0, (struct sockaddr *)&to, sizeof to); /* spoofed: claims node 1, wrong MAC */
        n = datagram(dg, 2, (uint64_t)round + 1, pl, 16, real);
        dg[25] ^= 1;
        sendto(s, dg, n, 0, (struct sockaddr *)&to, sizeof to); /* tampered after signing */
        n = datagram(dg, 3, 1000 + (uint64_t)round, pl, 16, real);
        sendto(s, dg, n, 0, (struct sockaddr *)&to, sizeof to); /* replayed: an old sequence number */
        if (round % 5 == 0) {
            memset(dg, 0, 61000);
            memcpy(dg, "DJ02", 4);
            sendto(s, dg, 61000, 0, (struct sockaddr *)&to, sizeof to); /* oversized */
        }
        usleep(20000);
    }
    close(s);
    _exit(0);
}

/* The value of key=N in text, or -1. */
static long long status_val(const char *text, const char *key) {
    char k[64];
    snprintf(k, sizeof k, "\n%s=", key);
    const char *p = strstr(text, k);
    return p ? atoll(p + strlen(k)) : -1;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    buf[0] = '\n';
    size_t n = fread(buf + 1, 1, (1 << 20) - 2, f);
    buf[n + 1] = 0;
    fclose(f);
    return buf;
}

static char *const sets500[] = {"aura.slot_ms=500"};

static void test_cluster_under_attack(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    char dir[64], err[512];
    snprintf(dir, sizeof dir, "/tmp/deja-test-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    deja_cluster_opts o;
    memset(&o, 0, sizeof o);
    o.nodes = 4;
    o.node_bin = node_bin();
    o.dir = dir;
    o.nsets = 1;
    o.sets = sets500;
    o.kill_node = -1;
    o.grace_ms = 10000;
    o.duration_ms = 7000;
    o.base_port = deja__cl_pick_ports(4);
    assert_true(o.base_port > 0);
    pid_t atk = fork();
    assert_true(atk >= 0);
    if (atk == 0) attack(dir, o.base_port);
    deja_cluster_result r;
    int rc = deja_cluster_run(&o, &r, err, sizeof err);
    int ws;
    assert_int_equal(waitpid(atk, &ws, 0), atk);
    if (rc) fail_msg("cluster: %s", err);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    /* the key `deja cluster` made is closed to others */
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* every bad datagram was dropped and counted by reason */
    snprintf(path, sizeof path, "%s/node-0/status", dir);
    char *status = slurp(path);
    fprintf(stderr, "node 0: short=%lld oversized=%lld bad_magic=%lld unknown_sender=%lld undecodable=%lld "
                    "bad_mac=%lld replayed=%lld\n",
            status_val(status, "dropped_short"), status_val(status, "dropped_oversized"),
            status_val(status, "dropped_bad_magic"), status_val(status, "dropped_unknown_sender"),
            status_val(status, "dropped_undecodable"), status_val(status, "dropped_bad_mac"),
            status_val(status, "dropped_replayed"));
    assert_int_equal(status_val(status, "dropped_short"), 50);
    assert_int_equal(status_val(status, "dropped_oversized"), 10);
    assert_int_equal(status_val(status, "dropped_bad_magic"), 50);
    assert_int_equal(status_val(status, "dropped_unknown_sender"), 50);
    assert_int_equal(status_val(status, "dropped_undecodable"), 50);
    assert_int_equal(status_val(status, "dropped_bad_mac"), 100); /* spoofed + tampered */
    assert_int_equal(status_val(status, "dropped_replayed"), 50);
    assert_non_null(strstr(status, "\nauth=on\n"));
    free(status);
    /* the other nodes were not attacked: nothing dropped between honest peers */
    for (int i = 1; i < 4; i++) {
        snprintf(path, sizeof path, "%s/node-%d/status", dir, i);
        status = slurp(path);
        assert_int_equal(status_val(status, "dropped_bad_mac"), 0);
        assert_int_equal(status_val(status, "dropped_replayed"), 0);
        free(status);
    }

    /* the log names the drops, at a bounded rate: 360 drops, a few lines */
    snprintf(path, sizeof path, "%s/node-0/log", dir);
    char *log = slurp(path);
    int lines = 0;
    for (const char *p = log; (p = strstr(p, "net: dropped")); p++) lines++;
    fprintf(stderr, "node 0 log: %d drop lines\n", lines);
    assert_non_null(strstr(log, "bad_mac"));
    assert_non_null(strstr(log, "replayed"));
    assert_non_null(strstr(log, "oversized"));
    assert_true(lines >= 7 && lines <= 7 * 3);
    free(log);

    /* and the cluster still agrees */
    assert_true(r.agree);
    assert_string_equal(deja_cluster_verdict(&r), "ok");
    assert_true(r.confirmed_min >= 4);
    deja_cluster_result_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_window),
        cmocka_unit_test(test_key_file_checks),
        cmocka_unit_test(test_node_flags),
        cmocka_unit_test(test_cluster_under_attack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
