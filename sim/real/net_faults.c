/*
 * net_faults.c -- the production transport's fault injection: loss,
 * duplication, delay with jitter and reordering of the datagrams this node
 * sends (deja-node --net-*, passed through by `deja cluster`), so a real
 * cluster can run under the faults of the simulated network
 * (docs/production.md).
 *
 * Off (every rate and delay zero, the default), net.c sends exactly as it
 * did without this file. On, rt_send asks real__fault_plan what to do with
 * a datagram: drop it, send it now, and/or hold copies back; held copies
 * wait in a min-heap ordered by (due, sequence) that one thread
 * ("deja.netdelay") sends when due. Draws come from a splitmix64 stream of
 * the node's own (--net-seed, default the node id), under a mutex: the
 * faults are random, not replayable -- a real cluster is not deterministic
 * anyway.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "real_int.h"

typedef struct real__held {
    int64_t due;
    uint64_t seq;
    uint32_t to;
    size_t len;
    uint8_t data[];
} real__held;

static pthread_mutex_t real__NF = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t real__NF_cv;
static bool real__NF_cv_ready, real__NF_running, real__NF_stop;
static pthread_t real__NF_thr;
static real_net_faults real__fc;
static bool real__fon;
static uint64_t real__frng, real__fseq;
static real__held **real__fheap;
static size_t real__fn, real__fcap;
static void (*real__fsend)(uint32_t to, const void *data, size_t len);
static uint64_t real__fcount[4]; /* lost, duplicated, delayed, reordered */

/* splitmix64 (F held). */
static uint64_t real__fnext(void) {
    uint64_t z = (real__frng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability ppm / 1e6 (F held). */
static bool real__fchance(uint32_t ppm) { return ppm > 0 && real__fnext() % 1000000 < ppm; }

/* Uniform in [lo, hi] (F held; lo <= hi). */
static int64_t real__frange(int64_t lo, int64_t hi) {
    return lo + (int64_t)(real__fnext() % (uint64_t)(hi - lo + 1));
}

static bool real__held_less(const real__held *a, const real__held *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Heap push and pop (F held). */
static void real__fpush(real__held *h) {
    if (real__fn == real__fcap) {
        size_t cap = real__fcap ? 2 * real__fcap : 64;
        real__held **v = realloc(real__fheap, cap * sizeof *v);
        if (!v) abort();
        real__fheap = v;
        real__fcap = cap;
    }
    size_t i = real__fn++;
    while (i > 0 && real__held_less(h, real__fheap[(i - 1) / 2])) {
        real__fheap[i] = real__fheap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    real__fheap[i] = h;
}

static real__held *real__fpop(void) {
    assert(real__fn > 0);
    real__held *top = real__fheap[0], *last = real__fheap[--real__fn];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = l;
        if (l >= real__fn) break;
        if (l + 1 < real__fn && real__held_less(real__fheap[l + 1], real__fheap[l])) m = l + 1;
        if (!real__held_less(real__fheap[m], last)) break;
        real__fheap[i] = real__fheap[m];
        i = m;
    }
    if (real__fn > 0) real__fheap[i] = last;
    return top;
}

static void *real__fmain(void *unused) {
    (void)unused;
    pthread_mutex_lock(&real__NF);
    while (!real__NF_stop) {
        if (real__fn == 0) {
            pthread_cond_wait(&real__NF_cv, &real__NF);
            continue;
        }
        int64_t now = real__mono(), due = real__fheap[0]->due;
        if (due > now) {
            struct timespec abs = {(time_t)(due / RT_SEC), (long)(due % RT_SEC)};
            pthread_cond_timedwait(&real__NF_cv, &real__NF, &abs);
            continue;
        }
        real__held *h = real__fpop();
        pthread_mutex_unlock(&real__NF);
        real__fsend(h->to, h->data, h->len);
        free(h);
        pthread_mutex_lock(&real__NF);
    }
    pthread_mutex_unlock(&real__NF);
    return NULL;
}

int real__faults_start(const real_net_faults *c, uint32_t self, void (*send)(uint32_t, const void *, size_t),
                       char *err, size_t errlen) {
    assert(!real__NF_running);
    real__fc = *c;
    real__fon = c->loss_ppm || c->dup_ppm || c->reorder_ppm || c->delay_ns || c->jitter_ns;
    memset(real__fcount, 0, sizeof real__fcount);
    if (!real__fon) return 0;
    assert(c->loss_ppm <= 1000000 && c->dup_ppm <= 1000000 && c->reorder_ppm <= 1000000);
    assert(c->delay_ns >= 0 && c->jitter_ns >= 0 && c->reorder_ns >= 0);
    real__frng = c->seed_set ? c->seed : self;
    real__fsend = send;
    real__fseq = 0;
    if (!real__NF_cv_ready) {
        real__cond_init(&real__NF_cv);
        real__NF_cv_ready = true;
    }
    real__NF_stop = false;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&real__NF_thr, NULL, real__fmain, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the network delay thread: %s", strerror(rc));
        real__fon = false;
        return 2;
    }
#ifdef __linux__
    pthread_setname_np(real__NF_thr, "deja.netdelay");
#endif
    real__NF_running = true;
    return 0;
}

void real__faults_stop(void) {
    if (real__NF_running) {
        pthread_mutex_lock(&real__NF);
        real__NF_stop = true;
        pthread_cond_signal(&real__NF_cv);
        pthread_mutex_unlock(&real__NF);
        pthread_join(real__NF_thr, NULL);
        real__NF_running = false;
    }
    while (real__fn > 0) free(real__fpop()); /* held back past the end: lost */
    free(real__fheap);
    real__fheap = NULL;
    real__fcap = 0;
    real__fon = false;
}

bool real__faults_on(void) { return real__fon; }

void real__faults_send(uint32_t to, const void *data, size_t len) {
    assert(real__fon);
    pthread_mutex_lock(&real__NF);
    if (real__fchance(real__fc.loss_ppm)) {
        real__fcount[0]++;
        pthread_mutex_unlock(&real__NF);
        return;
    }
    int copies = 1;
    if (real__fchance(real__fc.dup_ppm)) {
        copies = 2;
        real__fcount[1]++;
    }
    int64_t now = real__mono();
    bool now_copy = false;
    for (int k = 0; k < copies; k++) {
        int64_t d = real__fc.delay_ns;
        if (real__fc.jitter_ns) d += real__frange(-real__fc.jitter_ns, real__fc.jitter_ns);
        if (real__fchance(real__fc.reorder_ppm)) {
            d += real__frange(real__fc.reorder_ns / 2, real__fc.reorder_ns);
            real__fcount[3]++;
        }
        if (d <= 0 && !now_copy) {
            now_copy = true; /* sent below, outside the lock */
            continue;
        }
        real__held *h = malloc(sizeof *h + len);
        if (!h) continue; /* out of memory: this copy is lost */
        h->due = now + (d > 0 ? d : 0);
        h->seq = ++real__fseq;
        h->to = to;
        h->len = len;
        if (len) memcpy(h->data, data, len);
        real__fpush(h);
        real__fcount[2]++;
        pthread_cond_signal(&real__NF_cv);
    }
    pthread_mutex_unlock(&real__NF);
    if (now_copy) real__fsend(to, data, len);
}

int real_net_fault_flag(real_net_faults *c, const char *flag, const char *val, char *err, size_t errlen) {
    static const struct {
        const char *flag;
        int kind; /* 0: percent -> ppm, 1: ms -> ns, 2: seed */
        size_t off;
    } flags[] = {
        {"--net-loss-pct", 0, offsetof(real_net_faults, loss_ppm)},
        {"--net-dup-pct", 0, offsetof(real_net_faults, dup_ppm)},
        {"--net-reorder-pct", 0, offsetof(real_net_faults, reorder_ppm)},
        {"--net-delay-ms", 1, offsetof(real_net_faults, delay_ns)},
        {"--net-jitter-ms", 1, offsetof(real_net_faults, jitter_ns)},
        {"--net-reorder-ms", 1, offsetof(real_net_faults, reorder_ns)},
        {"--net-seed", 2, offsetof(real_net_faults, seed)},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (strcmp(flag, flags[i].flag)) continue;
        char *end;
        errno = 0;
        if (flags[i].kind == 2) {
            unsigned long long v = strtoull(val, &end, 10);
            if (errno || end == val || *end || *val == '-') {
                snprintf(err, errlen, "%s: '%s' is not a non-negative integer", flag, val);
                return 2;
            }
            c->seed = v;
            c->seed_set = true;
            return 0;
        }
        double v = strtod(val, &end);
        double hi = flags[i].kind == 0 ? 100.0 : 3600000.0;
        if (errno || end == val || *end || !(v >= 0.0 && v <= hi)) {
            snprintf(err, errlen, "%s: '%s' is not a number in [0, %g]", flag, val, hi);
            return 2;
        }
        if (flags[i].kind == 0)
            *(uint32_t *)((char *)c + flags[i].off) = (uint32_t)(v * 10000.0 + 0.5);
        else
            *(int64_t *)((char *)c + flags[i].off) = (int64_t)(v * 1e6 + 0.5);
        return 0;
    }
    return 1;
}

void real__faults_counts(uint64_t out[4]) {
    pthread_mutex_lock(&real__NF);
    memcpy(out, real__fcount, sizeof real__fcount);
    pthread_mutex_unlock(&real__NF);
}
