/*
 * test_real_prims.c -- the production backend's primitives under real
 * threads: channels (buffered, unbuffered rendezvous, close), select (lowest
 * ready index, timeout, send arms), cancellation contexts (propagation,
 * deadlines), wait groups, mutexes, timers and tickers, accounted memory,
 * UDP messages, facts and status files, files and SQLite in the data
 * directory, task dumps and the inspector, bad
 * start-up input, and a shutdown that leaves no thread behind (counted in
 * /proc/self/task).
 *
 * Every test runs between real_init (no network, no data directory) and
 * real_shutdown, which must find no task left.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deja/rt.h"
#include "real/real.h"
#include "real_fixture.h"

/* ---- helpers ----------------------------------------------------------- */

static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* Waits (bounded) until the thread count drops to want; returns the count. */
static int threads_settle(int want) {
    int n = threads_now();
    for (int i = 0; i < 100 && n != want; i++) {
        rt_sleep_ns(10 * RT_MS);
        n = threads_now();
    }
    return n;
}

static int64_t ms_since(int64_t t0) { return (rt_mono_ns() - t0) / RT_MS; }

/* A UDP port free right now on 127.0.0.1 (bound then released). */
static int free_port(void) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &l);
    close(s);
    return ntohs(a.sin_port);
}

/* ---- channels ---------------------------------------------------------- */

static void test_chan_buffered(void **state) {
    (void)state;
    rt_chan *ch = rt_chan_new("buf", sizeof(int), 2);
    int v = 1;
    assert_int_equal(rt_chan_send(ch, &v, 0), RT_OK);
    v = 2;
    assert_int_equal(rt_chan_send(ch, &v, 0), RT_OK);
    v = 3;
    assert_int_equal(rt_chan_send(ch, &v, 0), RT_ETIMEDOUT);
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_chan_send(ch, &v, 50 * RT_MS), RT_ETIMEDOUT);
    assert_true(ms_since(t0) >= 45);
    assert_int_equal(rt_chan_len(ch), 2);
    int out = 0;
    assert_int_equal(rt_chan_recv(ch, &out, 0), RT_OK);
    assert_int_equal(out, 1);
    rt_chan_close(ch);
    assert_int_equal(rt_chan_send(ch, &v, 0), RT_ECLOSED);
    assert_int_equal(rt_chan_recv(ch, &out, RT_FOREVER), RT_OK); /* drains first */
    assert_int_equal(out, 2);
    out = 7;
    assert_int_equal(rt_chan_recv(ch, &out, RT_FOREVER), RT_ECLOSED);
    assert_int_equal(out, 0);
    rt_chan_free(ch);
}

typedef struct rv {
    rt_chan *ch;
    _Atomic int64_t took_at; /* when the receiver took the element */
    int got;
} rv;

static void rv_receiver(void *arg) {
    rv *r = arg;
    rt_sleep_ns(100 * RT_MS);
    int v;
    assert_int_equal(rt_chan_recv(r->ch, &v, RT_FOREVER), RT_OK);
    atomic_store(&r->took_at, rt_mono_ns());
    r->got = v;
}

static void test_chan_unbuffered(void **state) {
    (void)state;
    rt_chan *ch = rt_chan_new("unbuf", sizeof(int), 0);
    int v = 42;
    /* Nobody receives: a timed send fails and leaves nothing behind. */
    assert_int_equal(rt_chan_send(ch, &v, 0), RT_ETIMEDOUT);
    assert_int_equal(rt_chan_send(ch, &v, 20 * RT_MS), RT_ETIMEDOUT);
    int out;
    assert_int_equal(rt_chan_recv(ch, &out, 0), RT_ETIMEDOUT);
    /* The send completes only once the receiver (asleep 100 ms) takes it. */
    rv r = {.ch = ch};
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_spawn("rv", rv_receiver, &r), RT_OK);
    assert_int_equal(rt_chan_send(ch, &v, RT_FOREVER), RT_OK);
    assert_true(ms_since(t0) >= 95);
    /* the receiver had dequeued the element before the send returned */
    rt_sleep_ns(20 * RT_MS);
    assert_int_equal(r.got, 42);
    assert_true(atomic_load(&r.took_at) >= t0 + 95 * RT_MS);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    real_opts o = {0};
    char err[64];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    rt_chan_free(ch);
}

typedef struct closer {
    rt_chan *ch;
    int op;
    _Atomic int closed;
} closer;

static void close_waiter(void *arg) {
    closer *c = arg;
    int v = 5;
    int rc = c->op == RT_SEND ? rt_chan_send(c->ch, &v, 5 * RT_SEC) : rt_chan_recv(c->ch, &v, 5 * RT_SEC);
    if (rc == RT_ECLOSED) atomic_fetch_add(&c->closed, 1);
}

static void test_chan_close_wakes(void **state) {
    (void)state;
    closer r = {.ch = rt_chan_new("r", sizeof(int), 0), .op = RT_RECV};
    closer s = {.ch = rt_chan_new("s", sizeof(int), 0), .op = RT_SEND};
    for (int i = 0; i < 3; i++) assert_int_equal(rt_spawn("recv", close_waiter, &r), RT_OK);
    for (int i = 0; i < 2; i++) assert_int_equal(rt_spawn("send", close_waiter, &s), RT_OK);
    rt_sleep_ns(50 * RT_MS);
    assert_int_equal(real_live_tasks(), 5);
    int64_t t0 = rt_mono_ns();
    rt_chan_close(r.ch);
    rt_chan_close(s.ch);
    assert_int_equal(real_shutdown(2 * RT_SEC), 0);
    assert_true(ms_since(t0) < 1000);
    assert_int_equal(atomic_load(&r.closed), 3);
    assert_int_equal(atomic_load(&s.closed), 2);
    rt_chan_free(r.ch);
    rt_chan_free(s.ch);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

typedef struct pp {
    rt_chan *in, *out;
    int n;
} pp;

static void pp_echo(void *arg) {
    pp *p = arg;
    int v;
    while (rt_chan_recv(p->in, &v, RT_FOREVER) == RT_OK) rt_chan_send(p->out, &v, RT_FOREVER);
    rt_chan_close(p->out);
}

/* Many messages through unbuffered channels between threads: none lost, in order. */
static void test_chan_stress(void **state) {
    (void)state;
    pp p = {rt_chan_new("in", sizeof(int), 0), rt_chan_new("out", sizeof(int), 0), 20000};
    assert_int_equal(rt_spawn("echo", pp_echo, &p), RT_OK);
    for (int i = 0; i < p.n; i++) {
        int v = i, w = -1;
        rt_case c[2] = {{p.in, RT_SEND, &v, 0}, {p.out, RT_RECV, &w, 0}};
        int k = rt_select(c, 1, RT_FOREVER);
        assert_int_equal(k, 0);
        assert_int_equal(rt_chan_recv(p.out, &w, 5 * RT_SEC), RT_OK);
        assert_int_equal(w, i);
    }
    rt_chan_close(p.in);
    int w;
    assert_int_equal(rt_chan_recv(p.out, &w, 5 * RT_SEC), RT_ECLOSED);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    rt_chan_free(p.in);
    rt_chan_free(p.out);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- select ------------------------------------------------------------ */

typedef struct delayed {
    rt_chan *ch;
    int64_t after;
    int v;
} delayed;

static void delayed_send(void *arg) {
    delayed *d = arg;
    rt_sleep_ns(d->after);
    rt_chan_send(d->ch, &d->v, 5 * RT_SEC);
}

static void test_select(void **state) {
    (void)state;
    rt_chan *a = rt_chan_new("a", sizeof(int), 1), *b = rt_chan_new("b", sizeof(int), 1);
    int x = 1, y = 2, out = 0;
    rt_chan_send(a, &x, 0);
    rt_chan_send(b, &y, 0);
    /* Both ready: the lowest index wins, whichever order they are listed in. */
    rt_case c[3] = {{NULL, RT_RECV, NULL, 0}, {b, RT_RECV, &out, 0}, {a, RT_RECV, &out, 0}};
    assert_int_equal(rt_select(c, 3, 0), 1);
    assert_int_equal(out, 2);
    assert_int_equal(c[1].result, RT_OK);
    assert_int_equal(rt_select(c, 3, 0), 2);
    assert_int_equal(out, 1);
    /* Nothing ready: times out after about the timeout. */
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_select(c, 3, 80 * RT_MS), RT_ETIMEDOUT);
    int64_t el = ms_since(t0);
    assert_true(el >= 75 && el < 1000);
    /* A send arm fires when the buffer has room; a recv arm when a task sends. */
    rt_case s[2] = {{a, RT_RECV, &out, 0}, {b, RT_SEND, &x, 0}};
    assert_int_equal(rt_select(s, 2, 0), 1);
    delayed d = {a, 50 * RT_MS, 9};
    rt_spawn("delayed", delayed_send, &d);
    rt_case w[2] = {{NULL, RT_RECV, NULL, 0}, {a, RT_RECV, &out, 0}};
    t0 = rt_mono_ns();
    assert_int_equal(rt_select(w, 2, 5 * RT_SEC), 1);
    assert_int_equal(out, 9);
    assert_true(ms_since(t0) >= 45);
    /* A closed channel is ready: the arm fires with RT_ECLOSED. */
    rt_chan_close(a);
    assert_int_equal(rt_select(w, 2, RT_FOREVER), 1);
    assert_int_equal(w[1].result, RT_ECLOSED);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    rt_chan_free(a);
    rt_chan_free(b);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- contexts ---------------------------------------------------------- */

static void ctx_waiter(void *arg) {
    rt_ctx *ctx = arg;
    rt_case c = {rt_ctx_done(ctx), RT_RECV, NULL, 0};
    rt_select(&c, 1, RT_FOREVER); /* wakes only when the context is done */
}

static void test_ctx_cancel(void **state) {
    (void)state;
    rt_ctx *root = rt_ctx_with_cancel(NULL);
    rt_ctx *child = rt_ctx_with_cancel(root);
    rt_ctx *grand = rt_ctx_with_cancel(child);
    rt_ctx *other = rt_ctx_with_cancel(root);
    for (int i = 0; i < 4; i++) rt_spawn("ctxw", ctx_waiter, grand);
    rt_sleep_ns(20 * RT_MS);
    assert_int_equal(real_live_tasks(), 4);
    /* Cancelling a child leaves its parent and sibling live. */
    rt_ctx_cancel(other);
    assert_int_equal(rt_ctx_err(other), RT_ECANCELED);
    assert_int_equal(rt_ctx_err(root), RT_OK);
    assert_int_equal(rt_ctx_err(grand), RT_OK);
    /* Cancelling the root reaches the grandchild and wakes its waiters. */
    rt_ctx_cancel(root);
    assert_int_equal(rt_ctx_err(child), RT_ECANCELED);
    assert_int_equal(rt_ctx_err(grand), RT_ECANCELED);
    assert_int_equal(rt_chan_recv(rt_ctx_done(grand), NULL, 0), RT_ECLOSED);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    /* A child of a cancelled parent is born cancelled. */
    rt_ctx *late = rt_ctx_with_cancel(root);
    assert_int_equal(rt_ctx_err(late), RT_ECANCELED);
    rt_ctx_release(late);
    rt_ctx_release(grand);
    rt_ctx_release(child);
    rt_ctx_release(other);
    rt_ctx_release(root);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

static void test_ctx_deadline(void **state) {
    (void)state;
    rt_ctx *root = rt_ctx_with_cancel(NULL);
    rt_ctx *t = rt_ctx_with_timeout(root, 100 * RT_MS);
    rt_ctx *inner = rt_ctx_with_timeout(t, 10 * RT_SEC); /* bounded by its parent */
    assert_int_equal(rt_ctx_err(t), RT_OK);
    int64_t t0 = rt_mono_ns();
    rt_case c = {rt_ctx_done(inner), RT_RECV, NULL, 0};
    assert_int_equal(rt_select(&c, 1, 5 * RT_SEC), 0);
    int64_t el = ms_since(t0);
    assert_true(el >= 95 && el < 2000);
    assert_int_equal(rt_ctx_err(t), RT_ETIMEDOUT);
    assert_int_equal(rt_ctx_err(inner), RT_ETIMEDOUT);
    assert_int_equal(rt_ctx_err(root), RT_OK);
    /* Released before its deadline: the timer never fires on freed memory. */
    rt_ctx *early = rt_ctx_with_timeout(root, 30 * RT_MS);
    rt_ctx_release(early);
    rt_ctx *zero = rt_ctx_with_timeout(root, 0);
    assert_int_equal(rt_ctx_err(zero), RT_ETIMEDOUT);
    rt_ctx_release(zero);
    rt_sleep_ns(50 * RT_MS);
    rt_ctx_release(inner);
    rt_ctx_release(t);
    rt_ctx_release(root);
}

/* ---- wait groups and mutexes ------------------------------------------- */

typedef struct wgw {
    rt_wg *wg;
    _Atomic int n;
} wgw;

static void wg_worker(void *arg) {
    wgw *w = arg;
    rt_sleep_ns(30 * RT_MS);
    atomic_fetch_add(&w->n, 1);
    rt_wg_done(w->wg);
}

static void test_wait_group(void **state) {
    (void)state;
    wgw w = {rt_wg_new(), 0};
    assert_int_equal(rt_wg_wait(w.wg, 0), RT_OK);
    rt_wg_add(w.wg, 8);
    assert_int_equal(rt_wg_wait(w.wg, 5 * RT_MS), RT_ETIMEDOUT);
    for (int i = 0; i < 8; i++) assert_int_equal(rt_spawn("wg", wg_worker, &w), RT_OK);
    assert_int_equal(rt_wg_wait(w.wg, 5 * RT_SEC), RT_OK);
    assert_int_equal(atomic_load(&w.n), 8);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    rt_wg_free(w.wg);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

typedef struct mw {
    rt_mutex *m;
    long counter;
} mw;

static void mutex_worker(void *arg) {
    mw *w = arg;
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(rt_mutex_lock(w->m, RT_FOREVER), RT_OK);
        w->counter++;
        rt_mutex_unlock(w->m);
    }
}

static void mutex_holder(void *arg) {
    mw *w = arg;
    rt_mutex_lock(w->m, RT_FOREVER);
    rt_sleep_ns(150 * RT_MS);
    rt_mutex_unlock(w->m);
}

static void test_mutex(void **state) {
    (void)state;
    mw w = {rt_mutex_new("counter"), 0};
    for (int i = 0; i < 4; i++) rt_spawn("mx", mutex_worker, &w);
    assert_int_equal(real_shutdown(10 * RT_SEC), 0);
    assert_int_equal(w.counter, 80000);
    assert_int_equal(real_fixture_setup(NULL), 0);
    rt_spawn("holder", mutex_holder, &w);
    rt_sleep_ns(30 * RT_MS);
    /* The dump names the mutex and its owner. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(rt_mutex_lock(w.m, 0), RT_ETIMEDOUT);
    int64_t t0 = rt_mono_ns();
    assert_int_equal(rt_mutex_lock(w.m, 30 * RT_MS), RT_ETIMEDOUT);
    assert_true(ms_since(t0) >= 25);
    real_dump_tasks(f);
    fclose(f);
    assert_non_null(strstr(buf, "holder"));
    free(buf);
    assert_int_equal(rt_mutex_lock(w.m, 5 * RT_SEC), RT_OK); /* once the holder lets go */
    rt_mutex_unlock(w.m);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    rt_mutex_free(w.m);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- timers ------------------------------------------------------------ */

static void test_timers(void **state) {
    (void)state;
    int64_t t0 = rt_mono_ns(), at = 0;
    rt_timer *once = rt_timer_new("once", 50 * RT_MS, 0);
    assert_int_equal(rt_chan_recv(rt_timer_chan(once), &at, RT_SEC), RT_OK);
    assert_true(at - t0 >= 50 * RT_MS);
    /* a one-shot timer fires once */
    assert_int_equal(rt_chan_recv(rt_timer_chan(once), &at, 150 * RT_MS), RT_ETIMEDOUT);
    rt_timer_stop(once);
    /* a ticker every 20 ms gives about 10 ticks in 210 ms */
    rt_timer *tk = rt_timer_new("tick", 20 * RT_MS, 20 * RT_MS);
    int ticks = 0;
    t0 = rt_mono_ns();
    while (rt_mono_ns() - t0 < 210 * RT_MS)
        if (rt_chan_recv(rt_timer_chan(tk), &at, 50 * RT_MS) == RT_OK) ticks++;
    assert_true(ticks >= 8 && ticks <= 11);
    /* an untaken tick is dropped, not queued: at most one waits */
    rt_sleep_ns(100 * RT_MS);
    assert_int_equal(rt_chan_len(rt_timer_chan(tk)), 1);
    rt_timer_stop(tk);
    /* many timers stopped before firing leave nothing behind */
    rt_timer *many[100];
    for (int i = 0; i < 100; i++) many[i] = rt_timer_new("m", (i + 1) * RT_MS * 10, i % 2 ? RT_MS : 0);
    for (int i = 0; i < 100; i++) rt_timer_stop(many[i]);
}

/* ---- memory, randomness, params ---------------------------------------- */

static void test_memory_params(void **state) {
    (void)state;
    char err[128];
    real_opts o = {0};
    assert_int_equal(real_shutdown(RT_SEC), 0);
    assert_int_equal(real_param_set("aura.slot_ms=500", err, sizeof err), 0);
    assert_int_equal(real_param_set("x.name=abc", err, sizeof err), 0);
    assert_int_equal(real_param_set("bad", err, sizeof err), 2);
    assert_non_null(strstr(err, "--set"));
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    assert_int_equal(rt_param_i64("aura.slot_ms", 1000), 500);
    assert_int_equal(rt_param_i64("x.name", 7), 7); /* not a number: default */
    assert_string_equal(rt_param_str("x.name", NULL), "abc");
    assert_null(rt_param_str("nosuch", NULL));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    real_status_print(f);
    fclose(f);
    long long h0 = atoll(strstr(buf, "heap_bytes=") + 11);
    free(buf);
    char *p = rt_malloc(100000);
    assert_non_null(p);
    memset(p, 1, 100000);
    p = rt_realloc(p, 200000);
    assert_int_equal(p[99999], 1);
    f = open_memstream(&buf, &len);
    real_status_print(f);
    fclose(f);
    long long h1 = atoll(strstr(buf, "heap_bytes=") + 11);
    free(buf);
    assert_true(h1 - h0 >= 200000 && h1 - h0 < 200100);
    rt_free(p);
    void *z = rt_calloc(10, 10);
    assert_int_equal(((char *)z)[99], 0);
    rt_free(z);
    assert_null(rt_calloc(SIZE_MAX / 2, 4));
    assert_true(rt_rand_u64() != rt_rand_u64());

    /* mapped regions: zero-filled, DONTNEED reads back zero, bad calls refused */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), rl = 4 * pg + 100;
    unsigned char *m = rt_map("blocks.dat", rl);
    assert_non_null(m);
    assert_null(rt_map("empty", 0));
    assert_int_equal(m[rl - 1], 0);
    memset(m, 7, rl);
    assert_int_equal(rt_map_advise(m, pg / 2, pg * 2, RT_MADV_DONTNEED), RT_OK);
    assert_int_equal(m[pg], 0);     /* [pg, 2pg) lies wholly inside [pg/2, 5pg/2): dropped */
    assert_int_equal(m[pg / 2], 7); /* partial pages keep their bytes */
    assert_int_equal(m[2 * pg], 7);
    memset(m, 7, rl);
    assert_int_equal(rt_map_advise(m, pg, rl - pg, RT_MADV_DONTNEED), RT_OK);
    assert_int_equal(m[pg], 0);
    assert_int_equal(m[rl - 1], 0); /* reaching the end drops the last partial page too */
    assert_int_equal(m[pg - 1], 7);
    assert_int_equal(rt_map_advise(m, pg, rl, RT_MADV_DONTNEED), RT_EINVAL);
    assert_int_equal(rt_map_advise(m + 1, 0, 1, RT_MADV_DONTNEED), RT_EINVAL);
    assert_int_equal(rt_map_advise(m, 0, 1, 99), RT_EINVAL);
    f = open_memstream(&buf, &len);
    real_status_print(f);
    fclose(f);
    assert_true(atoll(strstr(buf, "mapped_bytes=") + 13) == (long long)rl);
    free(buf);
    rt_unmap(m, rl);
    rt_unmap(NULL, 0);
    assert_int_equal(rt_node_count(), 1);
    assert_int_equal(rt_node_id(), 0);
}

/* ---- network, facts, status -------------------------------------------- */

/* A --peers list of any length: 1000 peers (past the old limit of 256). */
static void test_net_many_peers(void **state) {
    (void)state;
    assert_int_equal(real_shutdown(RT_SEC), 0);
    enum { N = 1000 };
    static char addr[N][24];
    static const char *peers[N];
    snprintf(addr[0], sizeof addr[0], "127.0.0.1:%d", free_port());
    peers[0] = addr[0];
    for (int i = 1; i < N; i++) {
        snprintf(addr[i], sizeof addr[i], "127.0.0.1:%d", 40000 + i); /* nobody listens: datagrams vanish */
        peers[i] = addr[i];
    }
    real_opts o = {.id = 0, .npeers = N, .peers = peers};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    assert_int_equal(rt_node_count(), N);
    assert_int_equal(rt_send(N - 1, "x", 1), RT_OK);
    assert_int_equal(rt_send(N, "x", 1), RT_EINVAL);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    real_opts none = {0};
    assert_int_equal(real_init(&none, err, sizeof err), 0); /* as setup left it, for teardown */
}

static void test_net_facts(void **state) {
    (void)state;
    assert_int_equal(real_shutdown(RT_SEC), 0);
    int p0 = free_port();
    /* The test itself plays node 1 with a plain socket. */
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in me = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&me, sizeof me), 0);
    socklen_t ml = sizeof me;
    getsockname(s, (struct sockaddr *)&me, &ml);
    char a0[32], a1[32], dir[] = "/tmp/deja-test-real-XXXXXX";
    snprintf(a0, sizeof a0, "127.0.0.1:%d", p0);
    snprintf(a1, sizeof a1, "127.0.0.1:%d", ntohs(me.sin_port));
    assert_non_null(mkdtemp(dir));
    const char *peers[2] = {a0, a1};
    real_opts o = {.id = 0, .npeers = 2, .peers = peers, .data_dir = dir};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    assert_int_equal(rt_node_count(), 2);

    /* to a peer: header "DJ02", sender id, sequence number, payload length,
     * then the payload (no key: no MAC) */
    assert_int_equal(rt_send(1, "hello", 5), RT_OK);
    unsigned char buf[64];
    ssize_t n = recv(s, buf, sizeof buf, 0);
    assert_int_equal(n, 25);
    assert_memory_equal(buf, "DJ02", 4);
    assert_int_equal(buf[4], 0);
    assert_int_equal(buf[16], 5);
    assert_memory_equal(buf + 20, "hello", 5);
    assert_int_equal(rt_send(2, "x", 1), RT_EINVAL);
    /* from a peer into the inbox; garbage is dropped and counted */
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p0),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    sendto(s, "junk", 4, 0, (struct sockaddr *)&to, sizeof to);
    unsigned char dg[24] = {'D', 'J', '0', '2', 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 'p', 'o', 'n', 'g'};
    sendto(s, dg, sizeof dg, 0, (struct sockaddr *)&to, sizeof to);
    rt_msg *m = NULL;
    assert_int_equal(rt_chan_recv(rt_inbox(), &m, 2 * RT_SEC), RT_OK);
    assert_int_equal(m->from, 1);
    assert_int_equal(m->len, 4);
    assert_memory_equal(m->data, "pong", 4);
    rt_msg_free(m);
    {
        char *st = NULL;
        size_t stl = 0;
        FILE *sfm = open_memstream(&st, &stl);
        real_status_print(sfm);
        fclose(sfm);
        assert_non_null(strstr(st, "dropped_short=1\n"));
        assert_non_null(strstr(st, "auth=off\n"));
        free(st);
    }
    /* to oneself through the socket too */
    assert_int_equal(rt_send(0, "me", 2), RT_OK);
    assert_int_equal(rt_chan_recv(rt_inbox(), &m, 2 * RT_SEC), RT_OK);
    assert_int_equal(m->from, 0);
    rt_msg_free(m);

    /* a port in use is a start-up error naming --listen */
    real_opts dup = {.id = 1, .npeers = 2, .peers = peers};
    assert_int_equal(real_shutdown(RT_SEC), 0);
    assert_int_equal(real_init(&dup, err, sizeof err), 2);
    assert_non_null(strstr(err, "--listen"));
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    sendto(s, dg, sizeof dg, 0, (struct sockaddr *)&to, sizeof to); /* node 1 is alive */

    rt_fact f = {.kind = RT_FACT_PRODUCED, .height = 3, .slot = 17, .value = 0};
    memset(f.hash, 0xab, 16);
    rt_fact_report(&f);
    f.kind = RT_FACT_HEAD;
    rt_fact_report(&f);
    f.kind = RT_FACT_CONFIRMED;
    f.height = 1;
    rt_fact_report(&f);
    rt_sleep_ns(1200 * RT_MS); /* the status file is rewritten every second */
    char path[128], text[2048];
    snprintf(path, sizeof path, "%s/status", dir);
    FILE *sf = fopen(path, "r");
    assert_non_null(sf);
    size_t tl = fread(text, 1, sizeof text - 1, sf);
    text[tl] = 0;
    fclose(sf);
    assert_non_null(strstr(text, "state=running\n"));
    assert_non_null(strstr(text, "height=3\n"));
    assert_non_null(strstr(text, "confirmed_height=1\n"));
    assert_non_null(strstr(text, "head=abababababababababababababababab\n"));
    assert_non_null(strstr(text, "peers_total=1\n"));
    assert_non_null(strstr(text, "peers=1\n"));
    assert_int_equal(real_shutdown(RT_SEC), 0);
    snprintf(path, sizeof path, "%s/facts", dir);
    sf = fopen(path, "r");
    assert_non_null(sf);
    tl = fread(text, 1, sizeof text - 1, sf);
    text[tl] = 0;
    fclose(sf);
    assert_non_null(strstr(text, " start 0 0 "));
    assert_non_null(strstr(text, " produced 3 17 abababababababababababababababab 00000000000000000000000000000000 0 "
                                 "00000000000000000000000000000000\n"));
    assert_non_null(strstr(text, " confirmed 1 17 "));
    close(s);
    /* an unusable data directory names --data */
    real_opts bad = {.data_dir = "/proc/version/sub"};
    assert_int_equal(real_init(&bad, err, sizeof err), 2);
    assert_non_null(strstr(err, "--data"));
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- disk -------------------------------------------------------------- */

static void test_disk(void **state) {
    (void)state;
    assert_int_equal(real_shutdown(RT_SEC), 0);
    char dir[] = "/tmp/deja-test-real-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    real_opts o = {.data_dir = dir};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    rt_file *f = NULL;
    assert_int_equal(rt_file_open("a.dat", 0, &f), RT_ENOENT);
    assert_int_equal(rt_file_open("sub/a.dat", RT_O_CREATE, &f), RT_EINVAL);
    assert_int_equal(rt_file_open("a.dat", RT_O_CREATE, &f), RT_OK);
    assert_int_equal(rt_file_write(f, 4096, "block", 5), RT_OK);
    assert_int_equal(rt_file_sync(f), RT_OK);
    assert_int_equal(rt_file_size(f), 4101);
    char buf[16];
    size_t got = 0;
    assert_int_equal(rt_file_read(f, 4096, buf, sizeof buf, &got), RT_OK);
    assert_int_equal(got, 5); /* short only at end of file */
    assert_memory_equal(buf, "block", 5);
    assert_int_equal(rt_file_truncate(f, 10), RT_OK);
    assert_int_equal(rt_file_size(f), 10);
    rt_file_close(f);
    assert_int_equal(rt_file_open("a.dat", RT_O_CREATE | RT_O_EXCL, &f), RT_EEXIST);
    assert_int_equal(rt_file_rename("a.dat", "b.dat"), RT_OK);
    assert_false(rt_file_exists("a.dat"));
    assert_true(rt_file_exists("b.dat"));
    snprintf(path, sizeof path, "%s/b.dat", dir); /* names live in the data directory */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(rt_file_delete("b.dat"), RT_OK);
    assert_int_equal(rt_file_delete("b.dat"), RT_ENOENT);

    /* SQLite through the seam's VFS: a relative name lands in the data dir */
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK);
    assert_int_equal(rt_sqlite_vfs_register(), RT_OK);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open("chain.db", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL; CREATE TABLE b(h INTEGER PRIMARY KEY, x TEXT);"
                                      "INSERT INTO b VALUES (1, 'one'), (2, 'two');", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    snprintf(path, sizeof path, "%s/chain.db", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(sqlite3_open_v2("chain.db", &db, SQLITE_OPEN_READONLY, "deja"), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM b", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 2);
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

/* ---- dumps, inspector, shutdown ---------------------------------------- */

static void leaky(void *arg) {
    rt_chan *never = arg;
    rt_chan_recv(never, NULL, RT_FOREVER); /* the classic: nobody closes it */
}

static void test_dump_and_inspect(void **state) {
    (void)state;
    rt_chan *never = rt_chan_new("never-closed", 1, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    real_inspect(f); /* baseline */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5; i++) rt_spawn("leaky", leaky, never);
        rt_sleep_ns(30 * RT_MS);
        real_inspect(f);
    }
    real_dump_tasks(f);
    fclose(f);
    /* growth is reported per (spawn site, blocking site), then flagged */
    assert_non_null(strstr(buf, "+5 "));
    assert_non_null(strstr(buf, "test_real_prims.c"));
    assert_non_null(strstr(buf, "'leaky' chan recv 'never-closed' at "));
    assert_non_null(strstr(buf, "(now 15) SUSPECTED LEAK"));
    assert_non_null(strstr(buf, "chan recv  'never-closed'"));
    assert_non_null(strstr(buf, "tasks=15"));
    free(buf);
    rt_chan_close(never);
    assert_int_equal(real_shutdown(RT_SEC), 0);
    rt_chan_free(never);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

static void sleeper(void *arg) {
    rt_ctx *ctx = arg;
    rt_timer *tk = rt_timer_new("tick", 5 * RT_MS, 5 * RT_MS);
    for (;;) {
        rt_case c[2] = {{rt_ctx_done(ctx), RT_RECV, NULL, 0}, {rt_timer_chan(tk), RT_RECV, NULL, 0}};
        if (rt_select(c, 2, RT_FOREVER) == 0) break;
    }
    rt_timer_stop(tk);
}

static void test_shutdown_no_threads(void **state) {
    (void)state;
    assert_int_equal(real_shutdown(RT_SEC), 0);
    int before = threads_now();
    char a0[32], dir[] = "/tmp/deja-test-real-XXXXXX";
    snprintf(a0, sizeof a0, "127.0.0.1:%d", free_port());
    assert_non_null(mkdtemp(dir));
    const char *peers[1] = {a0};
    char *ibuf = NULL;
    size_t ilen = 0;
    FILE *ins = open_memstream(&ibuf, &ilen);
    real_opts o = {.npeers = 1, .peers = peers, .data_dir = dir, .inspect_s = 1, .inspect_out = ins};
    char err[256];
    assert_int_equal(real_init(&o, err, sizeof err), 0);
    rt_ctx *root = rt_ctx_with_cancel(NULL);
    real_signals_start(root);
    for (int i = 0; i < 16; i++) assert_int_equal(rt_spawn("sleeper", sleeper, root), RT_OK);
    rt_ctx *dl = rt_ctx_with_timeout(root, 10 * RT_SEC); /* a pending deadline */
    rt_sleep_ns(1100 * RT_MS);
    /* tasks + timer thread + receiver + status writer + signal thread */
    assert_true(threads_now() >= before + 16 + 4);
    assert_int_equal(real_live_tasks(), 16);
    rt_ctx_cancel(root);
    assert_int_equal(real_shutdown(2 * RT_SEC), 0);
    assert_int_equal(threads_settle(before), before);
    rt_ctx_release(dl);
    rt_ctx_release(root);
    fclose(ins);
    assert_non_null(strstr(ibuf, "inspect: node=0"));
    free(ibuf);
    assert_int_equal(threads_now(), before);
    assert_int_equal(real_fixture_setup(NULL), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chan_buffered, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chan_unbuffered, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chan_close_wakes, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_chan_stress, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_select, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctx_cancel, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctx_deadline, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_wait_group, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_mutex, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_timers, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_memory_params, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_net_facts, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_net_many_peers, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_disk, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_dump_and_inspect, real_fixture_setup, real_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_shutdown_no_threads, real_fixture_setup, real_fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
