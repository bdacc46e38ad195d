/*
 * timer.c -- time in the production backend: rt_mono_ns is CLOCK_MONOTONIC,
 * rt_wall_ns is CLOCK_REALTIME, rt_sleep_ns is clock_nanosleep on the
 * monotonic clock, and one timer thread serves every timer, ticker and
 * context deadline of the process.
 *
 * The timer thread keeps a binary min-heap of real__tm ordered by (due, seq)
 * under lock T and sleeps on a monotonic condition variable until the
 * earliest is due. Callbacks run on that thread with T held, so once
 * real__tm_stop (which takes T) returns, a callback can neither be running
 * nor run later: that is what makes rt_timer_stop and rt_ctx_release safe.
 * The thread starts on first use and real__timers_shutdown joins it.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "real_int.h"

/* ---- clocks ------------------------------------------------------------ */

static int64_t real__ts_ns(clockid_t c) {
    struct timespec ts;
    int rc = clock_gettime(c, &ts);
    assert(rc == 0);
    (void)rc;
    return (int64_t)ts.tv_sec * RT_SEC + ts.tv_nsec;
}

int64_t real__mono(void) { return real__ts_ns(CLOCK_MONOTONIC); }

int64_t real__mono_coarse(void) {
#ifdef CLOCK_MONOTONIC_COARSE
    return real__ts_ns(CLOCK_MONOTONIC_COARSE);
#else
    return real__ts_ns(CLOCK_MONOTONIC);
#endif
}

int64_t rt_mono_ns(void) { return real__ts_ns(CLOCK_MONOTONIC); }

int64_t rt_wall_ns(void) { return real__ts_ns(CLOCK_REALTIME); }

bool real__deadline(int64_t timeout_ns, struct timespec *abs) {
    if (timeout_ns == RT_FOREVER) return false;
    if (timeout_ns < 0) timeout_ns = 0;
    int64_t now = real__mono();
    int64_t at = now > INT64_MAX - timeout_ns ? INT64_MAX : now + timeout_ns;
    abs->tv_sec = (time_t)(at / RT_SEC);
    abs->tv_nsec = (long)(at % RT_SEC);
    return true;
}

void real__cond_init(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cv, &a);
    assert(rc == 0);
    (void)rc;
    pthread_condattr_destroy(&a);
}

/* Sleeps ns of monotonic time, restarting after signals. Always RT_OK. */
int rt_sleep_ns_at(int64_t ns, const char *file, int line) {
    real__self()->wfile = file;
    real__self()->wline = line;
    if (ns <= 0) {
        rt_yield();
        return RT_OK;
    }
    real__task *t = real__self();
    real__task_block(t, REAL__SLEEP, "sleep");
    struct timespec abs;
    real__deadline(ns, &abs);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == EINTR) {
    }
    real__task_unblock(t);
    return RT_OK;
}

/* ---- the timer thread -------------------------------------------------- */

static pthread_mutex_t real__T = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t real__T_cv;
static bool real__T_cv_ready;
static bool real__T_running, real__T_stop;
static pthread_t real__T_thr;
static real__tm **real__heap;
static size_t real__heap_n, real__heap_cap;
static uint64_t real__tm_seq;

static bool real__tm_less(const real__tm *a, const real__tm *b) {
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void real__heap_set(size_t i, real__tm *tm) {
    real__heap[i] = tm;
    tm->idx = i;
}

static void real__heap_up(size_t i) {
    real__tm *tm = real__heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!real__tm_less(tm, real__heap[p])) break;
        real__heap_set(i, real__heap[p]);
        i = p;
    }
    real__heap_set(i, tm);
}

static void real__heap_down(size_t i) {
    real__tm *tm = real__heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        const real__tm *best = tm;
        if (l < real__heap_n && real__tm_less(real__heap[l], best)) m = l, best = real__heap[l];
        if (l + 1 < real__heap_n && real__tm_less(real__heap[l + 1], best)) m = l + 1;
        if (m == i) break;
        real__heap_set(i, real__heap[m]);
        i = m;
    }
    real__heap_set(i, tm);
}

/* Removes heap entry i (T held). */
static void real__heap_remove(size_t i) {
    assert(i < real__heap_n);
    real__tm *gone = real__heap[i];
    real__heap_n--;
    if (i != real__heap_n) {
        real__heap_set(i, real__heap[real__heap_n]);
        real__heap_down(i);
        real__heap_up(real__heap[i]->idx);
    }
    gone->idx = REAL__TM_OFF;
}

static void *real__timer_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&real__T);
    while (!real__T_stop) {
        if (real__heap_n == 0) {
            pthread_cond_wait(&real__T_cv, &real__T);
            continue;
        }
        real__tm *tm = real__heap[0];
        int64_t now = real__mono();
        if (tm->due > now) {
            struct timespec abs = {(time_t)(tm->due / RT_SEC), (long)(tm->due % RT_SEC)};
            pthread_cond_timedwait(&real__T_cv, &real__T, &abs);
            continue;
        }
        real__heap_remove(0);
        if (tm->period > 0) {
            /* A ticker: the next firing after now, dropping missed ones. */
            int64_t next = tm->due + tm->period;
            if (next <= now) next += ((now - next) / tm->period + 1) * tm->period;
            tm->due = next;
            tm->seq = ++real__tm_seq;
            /* no growth needed: an entry was just removed */
            real__heap_set(real__heap_n++, tm);
            real__heap_up(real__heap_n - 1);
        }
        tm->cb(tm->arg);
    }
    pthread_mutex_unlock(&real__T);
    return NULL;
}

void real__tm_start(real__tm *tm, int64_t due) {
    assert(tm->cb != NULL);
    pthread_mutex_lock(&real__T);
    if (!real__T_cv_ready) {
        real__cond_init(&real__T_cv);
        real__T_cv_ready = true;
    }
    if (!real__T_running) {
        real__T_stop = false;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int rc = pthread_create(&real__T_thr, NULL, real__timer_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc != 0) {
            fprintf(stderr, "deja-node: cannot start the timer thread: %s\n", strerror(rc));
            abort();
        }
#ifdef __linux__
        pthread_setname_np(real__T_thr, "deja.timers");
#endif
        real__T_running = true;
    }
    if (real__heap_n == real__heap_cap) {
        size_t cap = real__heap_cap ? real__heap_cap * 2 : 64;
        real__tm **h = realloc(real__heap, cap * sizeof *h);
        if (!h) abort();
        real__heap = h;
        real__heap_cap = cap;
    }
    assert(tm->idx == REAL__TM_OFF);
    tm->due = due;
    tm->seq = ++real__tm_seq;
    real__heap_set(real__heap_n++, tm);
    real__heap_up(real__heap_n - 1);
    if (tm->idx == 0) pthread_cond_signal(&real__T_cv);
    pthread_mutex_unlock(&real__T);
}

void real__tm_stop(real__tm *tm) {
    pthread_mutex_lock(&real__T);
    if (tm->idx != REAL__TM_OFF) real__heap_remove(tm->idx);
    pthread_mutex_unlock(&real__T);
}

/* Joins the timer thread; timers still scheduled stay in the heap (they are
 * leaks of the program) and fire again if the thread restarts. */
void real__timers_shutdown(void) {
    pthread_mutex_lock(&real__T);
    if (!real__T_running) {
        pthread_mutex_unlock(&real__T);
        return;
    }
    real__T_stop = true;
    pthread_cond_signal(&real__T_cv);
    pthread_mutex_unlock(&real__T);
    pthread_join(real__T_thr, NULL);
    pthread_mutex_lock(&real__T);
    real__T_running = false;
    pthread_mutex_unlock(&real__T);
}

/* ---- rt_timer ------------------------------------------------------------ */

struct rt_timer {
    real__owned own; /* creation site and creator: a ticker its creator left running is a leak */
    real__tm tm;
    rt_chan *ch;
};

/* Timer callback: offers the monotonic time, dropped if the last one waits. */
static void real__timer_fire(void *arg) {
    rt_timer *t = arg;
    if (t->tm.period == 0) t->own.settled = true;
    int64_t now = real__mono();
    (void)real__chan_try_send(t->ch, &now);
}

rt_timer *rt_timer_new_at(const char *name, int64_t first_ns, int64_t period_ns, const char *file, int line) {
    assert(period_ns >= 0);
    rt_timer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->ch = rt_chan_new(name ? name : "timer", sizeof(int64_t), 1);
    if (!t->ch) {
        free(t);
        return NULL;
    }
    t->tm.cb = real__timer_fire;
    t->tm.arg = t;
    t->tm.period = period_ns;
    t->tm.idx = REAL__TM_OFF;
    real__tm_start(&t->tm, real__mono() + (first_ns > 0 ? first_ns : 0));
    t->own.periodic = period_ns > 0;
    real__owned_add(&t->own, REAL__OWN_TIMER, name ? name : "timer", file, line);
    return t;
}

rt_chan *rt_timer_chan(rt_timer *t) {
    assert(t != NULL);
    return t->ch;
}

void rt_timer_stop(rt_timer *t) {
    if (!t) return;
    real__owned_del(&t->own);
    real__tm_stop(&t->tm);
    rt_chan_free(t->ch);
    free(t);
}
