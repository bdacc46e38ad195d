/*
 * test_real_net_faults.c -- the production transport's fault flags do what
 * deja-node --help says: with --net-dup-pct 100 every datagram arrives
 * twice, with --net-loss-pct 100 none does, --net-delay-ms holds each one
 * at least that long, --net-reorder-pct swaps sent order, the flags are
 * parsed and refused as the daemon does; and with every fault off the
 * datagram is the transport's header + payload, sent at once. The test plays
 * node 1 with a plain socket; node 0 is the backend under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "deja/rt.h"
#include "real/real.h"

#define HDR 20 /* the transport's header: magic, sender, sequence, length */

static int g_sock = -1;
static char g_a0[32], g_a1[32];

static int free_port(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * RT_SEC + ts.tv_nsec;
}

/* Starts node 0 with faults f; node 1 is g_sock. */
static void start(const real_net_faults *f) {
    g_sock = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(g_sock, (struct sockaddr *)&me, sizeof me), 0);
    socklen_t ml = sizeof me;
    getsockname(g_sock, (struct sockaddr *)&me, &ml);
    struct timeval tv = {.tv_sec = 0, .tv_usec = 500000}; /* a datagram not here after 0.5 s is not coming */
    setsockopt(g_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    snprintf(g_a0, sizeof g_a0, "127.0.0.1:%d", free_port());
    snprintf(g_a1, sizeof g_a1, "127.0.0.1:%d", ntohs(me.sin_port));
    static const char *peers[2] = {g_a0, g_a1};
    real_opts o = {.id = 0, .npeers = 2, .peers = peers, .net_faults = *f};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
}

static void stop(void) {
    assert_int_equal(real_shutdown(RT_SEC), 0);
    close(g_sock);
    g_sock = -1;
}

/* Receives datagrams until none comes for 0.5 s: their first payload bytes
 * in arrival order (at most max), and the count. */
static int drain(uint8_t *first, int max, int64_t *first_at) {
    int n = 0;
    uint8_t buf[256];
    for (;;) {
        ssize_t r = recv(g_sock, buf, sizeof buf, 0);
        if (r < 0) break;
        assert_true(r >= HDR + 1);
        assert_memory_equal(buf, "DJ02", 4);
        if (n == 0 && first_at) *first_at = now_ns();
        if (n < max) first[n] = buf[HDR];
        n++;
    }
    return n;
}

static void test_off_is_plain(void **state) {
    (void)state;
    real_net_faults f = {0};
    start(&f);
    assert_int_equal(rt_send(1, "hello", 5), RT_OK);
    uint8_t buf[64];
    ssize_t n = recv(g_sock, buf, sizeof buf, 0);
    assert_int_equal(n, HDR + 5);
    assert_memory_equal(buf, "DJ02\0\0\0\0", 8);
    assert_memory_equal(buf + HDR, "hello", 5);
    stop();
}

static void test_dup_and_loss(void **state) {
    (void)state;
    real_net_faults f = {.dup_ppm = 1000000};
    start(&f);
    for (uint8_t i = 0; i < 10; i++) rt_send(1, &i, 1);
    uint8_t got[64];
    assert_int_equal(drain(got, 64, NULL), 20); /* every one twice */
    stop();
    real_net_faults l = {.loss_ppm = 1000000};
    start(&l);
    for (uint8_t i = 0; i < 10; i++) rt_send(1, &i, 1);
    assert_int_equal(drain(got, 64, NULL), 0);
    stop();
}

static void test_delay(void **state) {
    (void)state;
    real_net_faults f = {.delay_ns = 100 * RT_MS};
    start(&f);
    int64_t t0 = now_ns(), at = 0;
    uint8_t x = 7, got[4];
    rt_send(1, &x, 1);
    assert_int_equal(drain(got, 4, &at), 1);
    assert_true(at - t0 >= 100 * RT_MS); /* held at least the delay */
    stop();
}

static void test_reorder(void **state) {
    (void)state;
    real_net_faults f = {.reorder_ppm = 500000, .reorder_ns = 300 * RT_MS, .seed = 5, .seed_set = true};
    start(&f);
    for (uint8_t i = 0; i < 20; i++) rt_send(1, &i, 1);
    uint8_t got[64];
    assert_int_equal(drain(got, 64, NULL), 20);
    int swapped = 0;
    for (int i = 1; i < 20; i++)
        if (got[i] < got[i - 1]) swapped++;
    assert_true(swapped > 0);
    stop();
}

static void test_flags(void **state) {
    (void)state;
    real_net_faults f = {0};
    char err[256];
    assert_int_equal(real_net_fault_flag(&f, "--net-dup-pct", "12.5", err, sizeof err), 0);
    assert_int_equal(f.dup_ppm, 125000);
    assert_int_equal(real_net_fault_flag(&f, "--net-delay-ms", "2.5", err, sizeof err), 0);
    assert_int_equal(f.delay_ns, 2500000);
    assert_int_equal(real_net_fault_flag(&f, "--net-seed", "9", err, sizeof err), 0);
    assert_true(f.seed_set && f.seed == 9);
    assert_int_equal(real_net_fault_flag(&f, "--net-loss-pct", "101", err, sizeof err), 2);
    assert_non_null(strstr(err, "--net-loss-pct"));
    assert_int_equal(real_net_fault_flag(&f, "--net-jitter-ms", "-1", err, sizeof err), 2);
    assert_int_equal(real_net_fault_flag(&f, "--net-seed", "x", err, sizeof err), 2);
    assert_int_equal(real_net_fault_flag(&f, "--net-bogus", "1", err, sizeof err), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_is_plain), cmocka_unit_test(test_dup_and_loss), cmocka_unit_test(test_delay),
        cmocka_unit_test(test_reorder),      cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
