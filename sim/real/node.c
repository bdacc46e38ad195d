/*
 * node.c -- the per-process services of the production backend: identity
 * and parameters, accounted memory, randomness, logging, facts, the status
 * file, the program table, and real_init / real_shutdown that start and stop
 * everything else (network, timer thread, signal thread, status writer).
 *
 * Facts are appended, one line each, to DIR/facts with a single write(2)
 * (so a SIGKILL loses at most the line being written) and folded into the
 * in-memory status: head height and hash from RT_FACT_HEAD, the highest
 * RT_FACT_CONFIRMED height, and a count per kind. A status thread rewrites
 * DIR/status every second (temp file + rename) and runs the inspector.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "real_int.h"

/* ---- identity ---------------------------------------------------------- */

static uint32_t real__id, real__count = 1;
static _Atomic bool real__inited;
static int64_t real__start_ns;
static char real__data[4096];

uint32_t rt_node_id(void) { return real__id; }
uint32_t rt_node_count(void) { return real__count; }

/* ---- parameters -------------------------------------------------------- */

static pthread_mutex_t real__P = PTHREAD_MUTEX_INITIALIZER;
static char **real__pkey, **real__pval;
static int real__np, real__pcap;

int real_param_set(const char *kv, char *err, size_t errlen) {
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv) {
        snprintf(err, errlen, "--set: '%s' is not key=value", kv ? kv : "");
        return 2;
    }
    char *key = strndup(kv, (size_t)(eq - kv)), *val = strdup(eq + 1);
    if (!key || !val) {
        free(key);
        free(val);
        snprintf(err, errlen, "--set: out of memory");
        return 2;
    }
    pthread_mutex_lock(&real__P);
    if (real__np == real__pcap) {
        int cap = real__pcap ? real__pcap * 2 : 16;
        char **k = realloc(real__pkey, (size_t)cap * sizeof *k);
        if (k) real__pkey = k;
        char **v = k ? realloc(real__pval, (size_t)cap * sizeof *v) : NULL;
        if (v) real__pval = v;
        if (!k || !v) {
            pthread_mutex_unlock(&real__P);
            free(key);
            free(val);
            snprintf(err, errlen, "--set: out of memory");
            return 2;
        }
        real__pcap = cap;
    }
    real__pkey[real__np] = key;
    real__pval[real__np] = val;
    real__np++;
    pthread_mutex_unlock(&real__P);
    return 0;
}

static void real__params_clear(void) {
    pthread_mutex_lock(&real__P);
    for (int i = 0; i < real__np; i++) {
        free(real__pkey[i]);
        free(real__pval[i]);
    }
    free(real__pkey);
    free(real__pval);
    real__pkey = real__pval = NULL;
    real__np = real__pcap = 0;
    pthread_mutex_unlock(&real__P);
}

/* The value of key, valid until real_shutdown. Setting a key again appends
 * a new entry (the last one wins), so a pointer returned earlier stays valid. */
const char *rt_param_str(const char *key, const char *dflt) {
    const char *v = dflt;
    pthread_mutex_lock(&real__P);
    for (int i = real__np - 1; i >= 0; i--)
        if (!strcmp(real__pkey[i], key)) {
            v = real__pval[i];
            break;
        }
    pthread_mutex_unlock(&real__P);
    return v;
}

int64_t rt_param_i64(const char *key, int64_t dflt) {
    const char *s = rt_param_str(key, NULL);
    if (!s) return dflt;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        rt_log(RT_LOG_WARN, "parameter %s=%s is not an integer; using %lld", key, s, (long long)dflt);
        return dflt;
    }
    return (int64_t)v;
}

/* ---- memory ------------------------------------------------------------ */

#define REAL__MEM_MAGIC ((size_t)0xdea1a110c8ed0000ull)

typedef union real__hdr {
    struct {
        size_t size;
        size_t magic;
    } h;
    max_align_t align;
} real__hdr;

static _Atomic int64_t real__heap;

int64_t real__heap_bytes(void) { return atomic_load(&real__heap); }

void *rt_malloc(size_t n) {
    if (n > SIZE_MAX - sizeof(real__hdr)) return NULL;
    real__hdr *h = malloc(sizeof *h + n);
    if (!h) return NULL;
    h->h.size = n;
    h->h.magic = REAL__MEM_MAGIC;
    atomic_fetch_add(&real__heap, (int64_t)(n + sizeof *h));
    return h + 1;
}

void *rt_calloc(size_t count, size_t n) {
    if (n && count > SIZE_MAX / n) return NULL;
    void *p = rt_malloc(count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void rt_free(void *p) {
    if (!p) return;
    real__hdr *h = (real__hdr *)p - 1;
    assert(h->h.magic == REAL__MEM_MAGIC && "rt_free: not an rt_malloc block (or freed twice)");
    h->h.magic = 0;
    atomic_fetch_sub(&real__heap, (int64_t)(h->h.size + sizeof *h));
    free(h);
}

void *rt_realloc(void *p, size_t n) {
    if (!p) return rt_malloc(n);
    if (n == 0) {
        rt_free(p);
        return NULL;
    }
    real__hdr *h = (real__hdr *)p - 1;
    assert(h->h.magic == REAL__MEM_MAGIC && "rt_realloc: not an rt_malloc block");
    if (n > SIZE_MAX - sizeof(real__hdr)) return NULL;
    size_t old = h->h.size;
    real__hdr *nh = realloc(h, sizeof *nh + n);
    if (!nh) return NULL;
    nh->h.size = n;
    atomic_fetch_add(&real__heap, (int64_t)n - (int64_t)old);
    return nh + 1;
}

/* ---- randomness -------------------------------------------------------- */

static pthread_mutex_t real__rand_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t real__rand_state;
static bool real__rand_seeded;

static uint64_t real__splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* From getrandom(2), or a SplitMix64 stream when real.seed is set (or when
 * getrandom fails). */
uint64_t rt_rand_u64(void) {
    uint64_t v;
    pthread_mutex_lock(&real__rand_mu);
    if (real__rand_seeded) {
        v = real__splitmix(&real__rand_state);
        pthread_mutex_unlock(&real__rand_mu);
        return v;
    }
    pthread_mutex_unlock(&real__rand_mu);
    if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v) return v;
    pthread_mutex_lock(&real__rand_mu);
    if (!real__rand_seeded) {
        real__rand_state = (uint64_t)rt_wall_ns() ^ ((uint64_t)getpid() << 32);
        real__rand_seeded = true;
    }
    v = real__splitmix(&real__rand_state);
    pthread_mutex_unlock(&real__rand_mu);
    return v;
}

/* ---- logging ----------------------------------------------------------- */

static int real__log_min = RT_LOG_INFO;

static int real__log_level(const char *s) {
    if (!strcmp(s, "debug") || !strcmp(s, "0")) return RT_LOG_DEBUG;
    if (!strcmp(s, "info") || !strcmp(s, "1")) return RT_LOG_INFO;
    if (!strcmp(s, "warn") || !strcmp(s, "2")) return RT_LOG_WARN;
    if (!strcmp(s, "error") || !strcmp(s, "3")) return RT_LOG_ERROR;
    return -1;
}

/* One line to stderr: UTC wall time to the microsecond, node id, level, text. */
void rt_log(int level, const char *fmt, ...) {
    if (level < real__log_min) return;
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%06ldZ node=%u %-5s ", ts.tv_nsec / 1000, real__id,
                          names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = k < 0 ? n : n + (size_t)k < sizeof line - 2 ? n + (size_t)k : sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

/* ---- facts ------------------------------------------------------------- */

static pthread_mutex_t real__F = PTHREAD_MUTEX_INITIALIZER;
static int real__facts_fd = -1;
static struct {
    bool has_head;
    uint64_t head_height, confirmed, max_height;
    uint8_t head[16];
    uint64_t kinds[16];
    uint64_t integrity_failed;
} real__st;

/* The kind's name for the facts file ("kind-N" for a kind without one). */
static const char *real__kind_name(rt_fact_kind k, char *buf, size_t len) {
    const char *name = rt_fact_kind_name(k);
    if (name) return name;
    snprintf(buf, len, "kind-%d", (int)k);
    return buf;
}

static void real__hex(const uint8_t *b, char *out) {
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
    out[32] = 0;
}

void rt_fact_report(const rt_fact *f) {
    assert(f != NULL);
    char h[33], p[33], root[33], line[320], kbuf[24];
    real__hex(f->hash, h);
    real__hex(f->parent, p);
    real__hex(f->root, root);
    int n = snprintf(line, sizeof line, "%lld %s %llu %llu %s %s %lld %s\n", (long long)rt_wall_ns(),
                     real__kind_name(f->kind, kbuf, sizeof kbuf), (unsigned long long)f->height, (unsigned long long)f->slot, h, p,
                     (long long)f->value, root);
    pthread_mutex_lock(&real__F);
    if (real__facts_fd >= 0 && n > 0) {
        ssize_t w = write(real__facts_fd, line, (size_t)n);
        (void)w;
    }
    if ((unsigned)f->kind < 16) real__st.kinds[f->kind]++;
    if (f->kind == RT_FACT_INTEGRITY && f->value != 0) real__st.integrity_failed++;
    if ((f->kind == RT_FACT_PRODUCED || f->kind == RT_FACT_IMPORTED) && f->height > real__st.max_height)
        real__st.max_height = f->height;
    if (f->kind == RT_FACT_HEAD) {
        real__st.has_head = true;
        real__st.head_height = f->height;
        memcpy(real__st.head, f->hash, 16);
    }
    if (f->kind == RT_FACT_CONFIRMED && f->height > real__st.confirmed) real__st.confirmed = f->height;
    pthread_mutex_unlock(&real__F);
}

/* ---- status ------------------------------------------------------------ */

static int64_t real__rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long long size = 0, res = 0;
    if (fscanf(f, "%lld %lld", &size, &res) != 2) res = 0;
    fclose(f);
    return (int64_t)res * sysconf(_SC_PAGESIZE);
}

void real_status_print(FILE *out) {
    pthread_mutex_lock(&real__F);
    __typeof__(real__st) st = real__st;
    pthread_mutex_unlock(&real__F);
    char head[33] = "none";
    if (st.has_head) real__hex(st.head, head);
    uint64_t nf[4];
    real__faults_counts(nf);
    fprintf(out,
            "node=%u\nstate=%s\nheight=%llu\nconfirmed_height=%llu\nhead=%s\npeers=%d\npeers_total=%u\ntasks=%d\n"
            "resident_bytes=%lld\nheap_bytes=%lld\nmapped_bytes=%lld\nproduced=%llu\nimported=%llu\nrejected=%llu\ndeferred=%llu\n"
            "corruption=%llu\nintegrity_failed=%llu\ninbox_dropped=%llu\nnet_lost=%llu\nnet_duplicated=%llu\n"
            "net_held=%llu\nnet_reordered=%llu\nuptime_ms=%lld\n",
            real__id, real__inited ? "running" : "stopped", (unsigned long long)(st.has_head ? st.head_height : st.max_height),
            (unsigned long long)st.confirmed, head, real__net_peers_alive(5 * RT_SEC),
            real__count > 0 ? real__count - 1 : 0, real_live_tasks(), (long long)real__rss(),
            (long long)real__heap_bytes(), (long long)real__mapped_bytes(),
            (unsigned long long)st.kinds[RT_FACT_PRODUCED],
            (unsigned long long)st.kinds[RT_FACT_IMPORTED], (unsigned long long)st.kinds[RT_FACT_REJECTED],
            (unsigned long long)st.kinds[RT_FACT_DEFERRED], (unsigned long long)st.kinds[RT_FACT_CORRUPTION],
            (unsigned long long)st.integrity_failed, (unsigned long long)real__net_dropped(),
            (unsigned long long)nf[0], (unsigned long long)nf[1], (unsigned long long)nf[2], (unsigned long long)nf[3],
            (long long)((real__mono() - real__start_ns) / RT_MS));
    fprintf(out, "auth=%s\n", real__auth_on() ? "on" : "off");
    uint64_t lost_ctx, lost_timers;
    real__owned_lost(&lost_ctx, &lost_timers);
    fprintf(out, "lost_contexts=%llu\nlost_timers=%llu\n", (unsigned long long)lost_ctx,
            (unsigned long long)lost_timers);
    fprintf(out, "deadlocks=%llu\ndeadlock_timeouts=%llu\ndeadlock_check=%s\nlock_waits_checked=%llu\n",
            (unsigned long long)real__deadlocks(), (unsigned long long)real__deadlock_timeouts(),
            real__lw_on() ? "on" : "off", (unsigned long long)real__lock_waits_checked());
    fprintf(out, "leak_groups=%llu\n", (unsigned long long)real__leak_groups());
    for (int r = 0; r < REAL_DROP_N; r++)
        fprintf(out, "dropped_%s=%llu\n", real__net_drop_name(r), (unsigned long long)real__net_drops(r));
}

int64_t real__start_mono(void) { return real__start_ns; }

/* Rewrites DIR/status atomically (one writer at a time: the status thread,
 * init and shutdown, a deadlock's report). */
static void real__status_write(void) {
    static pthread_mutex_t once_at_a_time = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&once_at_a_time);
    char tmp[4200], fin[4200];
    snprintf(tmp, sizeof tmp, "%s/status.tmp", real__data);
    snprintf(fin, sizeof fin, "%s/status", real__data);
    FILE *f = fopen(tmp, "we");
    if (f) {
        real_status_print(f);
        if (fclose(f) == 0) rename(tmp, fin);
    }
    pthread_mutex_unlock(&once_at_a_time);
}

void real__status_now(void) {
    if (real__data[0]) real__status_write();
}

static pthread_mutex_t real__S = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t real__S_cv;
static bool real__S_cv_ready, real__S_stop, real__S_running;
static pthread_t real__S_thr;
static int real__inspect_s;
static FILE *real__inspect_out;

static void *real__status_main(void *unused) {
    (void)unused;
    int64_t next_inspect = real__mono() + (int64_t)real__inspect_s * RT_SEC;
    pthread_mutex_lock(&real__S);
    while (!real__S_stop) {
        struct timespec abs;
        real__deadline(RT_SEC, &abs);
        pthread_cond_timedwait(&real__S_cv, &real__S, &abs);
        if (real__S_stop) break;
        pthread_mutex_unlock(&real__S);
        if (real__data[0]) real__status_write();
        if (real__inspect_s > 0 && real__mono() >= next_inspect) {
            real__inspect_tick(real__inspect_out);
            next_inspect += (int64_t)real__inspect_s * RT_SEC;
        }
        pthread_mutex_lock(&real__S);
    }
    pthread_mutex_unlock(&real__S);
    return NULL;
}

/* ---- programs ---------------------------------------------------------- */

#define REAL__MAX_PROGRAMS 64
static struct {
    const char *name;
    rt_main_fn fn;
} real__programs[REAL__MAX_PROGRAMS];
static int real__nprograms;

/* Threads keep their own stacks in production: a program's simulated stack
 * size says nothing about them. */
void rt_program_stack(const char *name, size_t stack_bytes) {
    (void)name;
    (void)stack_bytes;
}

void rt_program_register(const char *name, rt_main_fn fn) {
    assert(name != NULL && fn != NULL);
    for (int i = 0; i < real__nprograms; i++)
        if (!strcmp(real__programs[i].name, name)) {
            real__programs[i].fn = fn;
            return;
        }
    assert(real__nprograms < REAL__MAX_PROGRAMS);
    if (real__nprograms == REAL__MAX_PROGRAMS) return;
    real__programs[real__nprograms].name = name;
    real__programs[real__nprograms].fn = fn;
    real__nprograms++;
}

rt_main_fn real_program_find(const char *name) {
    if (!name) return real__nprograms > 0 ? real__programs[0].fn : NULL;
    for (int i = 0; i < real__nprograms; i++)
        if (!strcmp(real__programs[i].name, name)) return real__programs[i].fn;
    return NULL;
}

/* ---- init and shutdown ------------------------------------------------- */

/* Creates the data directory (and its parents) and opens the facts file. */
static int real__data_open(const char *dir, char *err, size_t errlen) {
    if (!*dir || strlen(dir) >= sizeof real__data - 16) {
        snprintf(err, errlen, "--data: empty or too long a path");
        return 2;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        bool end = *p == 0;
        if (*p == '/' || end) {
            *p = 0;
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                if (!strcmp(path, dir))
                    snprintf(err, errlen, "--data %s: %s", dir, strerror(errno));
                else
                    snprintf(err, errlen, "--data %s: %s: %s", dir, path, strerror(errno));
                return 2;
            }
            if (end) break;
            *p = '/';
        }
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "--data %s: not a directory", dir);
        return 2;
    }
    if (access(dir, W_OK | X_OK) != 0) {
        snprintf(err, errlen, "--data %s: %s", dir, strerror(errno));
        return 2;
    }
    snprintf(path, sizeof path, "%s/facts", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "--data %s: cannot open facts file: %s", dir, strerror(errno));
        return 2;
    }
    snprintf(real__data, sizeof real__data, "%s", dir);
    real__facts_fd = fd;
    char line[160];
    int n = snprintf(line, sizeof line, "%lld start 0 0 %032d %032d %u %032d\n", (long long)rt_wall_ns(), 0, 0,
                     real__id, 0);
    if (write(fd, line, (size_t)n) != n) {
        snprintf(err, errlen, "--data %s: cannot write the facts file: %s", dir, strerror(errno));
        close(fd);
        real__facts_fd = -1;
        return 2;
    }
    return 0;
}

int real_init(const real_opts *o, char *err, size_t errlen) {
    assert(o != NULL);
    if (real__inited) {
        snprintf(err, errlen, "real_init: already initialised");
        return 2;
    }
    real__id = o->id;
    real__count = o->npeers > 0 ? (uint32_t)o->npeers : 1;
    real__start_ns = real__mono();
    real__owned_new_life();
    memset(&real__st, 0, sizeof real__st);
    real__data[0] = 0;
    const char *lv = rt_param_str("log.level", "info");
    real__log_min = real__log_level(lv);
    if (real__log_min < 0) {
        real__log_min = RT_LOG_INFO;
        snprintf(err, errlen, "--set log.level=%s: want debug, info, warn or error", lv);
        return 2;
    }
    const char *dc = rt_param_str("real.deadlock_check", "1");
    if (strcmp(dc, "0") != 0 && strcmp(dc, "1") != 0) {
        snprintf(err, errlen, "--set real.deadlock_check=%s: want 0 or 1", dc);
        return 2;
    }
    real__lw_configure(dc[0] == '1');
    const char *seed = rt_param_str("real.seed", NULL);
    pthread_mutex_lock(&real__rand_mu);
    real__rand_seeded = seed != NULL;
    if (seed) real__rand_state = strtoull(seed, NULL, 0) ^ ((uint64_t)o->id * 0x9e3779b97f4a7c15ull);
    pthread_mutex_unlock(&real__rand_mu);
    if (o->data_dir && real__data_open(o->data_dir, err, errlen)) return 2;
    if (real__disk_open(o->data_dir) != 0) {
        snprintf(err, errlen, "--data %s: %s", o->data_dir, strerror(errno));
        close(real__facts_fd);
        real__facts_fd = -1;
        return 2;
    }
    if (real__net_start(o, err, errlen)) {
        real__disk_close();
        if (real__facts_fd >= 0) close(real__facts_fd);
        real__facts_fd = -1;
        return 2;
    }
    real__inspect_s = o->inspect_s;
    real__leak_groups_clear();
    real__inspect_out = o->inspect_out;
    real__inited = true; /* before the first status write */
    if (real__data[0] || real__inspect_s > 0) {
        if (!real__S_cv_ready) {
            real__cond_init(&real__S_cv);
            real__S_cv_ready = true;
        }
        real__S_stop = false;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int rc = pthread_create(&real__S_thr, NULL, real__status_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc == 0) {
            real__S_running = true;
#ifdef __linux__
            pthread_setname_np(real__S_thr, "deja.status");
#endif
        }
        if (real__data[0]) real__status_write();
    }
    return 0;
}

int real_shutdown(int64_t grace_ns) {
    int left = real__tasks_wait(grace_ns);
    if (left > 0) {
        rt_log(RT_LOG_ERROR, "shutdown: %d task(s) still live after %lld ms", left, (long long)(grace_ns / RT_MS));
        real_dump_tasks(stderr);
    }
    real__owned_node_stop(); /* timers never stopped: leaks, as in the simulator */
    if (real__S_running) {
        pthread_mutex_lock(&real__S);
        real__S_stop = true;
        pthread_cond_signal(&real__S_cv);
        pthread_mutex_unlock(&real__S);
        pthread_join(real__S_thr, NULL);
        real__S_running = false;
    }
    real__inited = false;
    real__net_stop();
    if (left == 0) real__timers_shutdown(); /* leaked tasks may still use timers */
    real__signals_stop();
    real__reap();
    if (real__data[0]) real__status_write();
    pthread_mutex_lock(&real__F);
    if (real__facts_fd >= 0) {
        fsync(real__facts_fd);
        close(real__facts_fd);
        real__facts_fd = -1;
    }
    pthread_mutex_unlock(&real__F);
    if (real__data[0]) {
        int dfd = open(real__data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (left == 0) real__disk_close(); /* (leaked tasks may still use files) */
    if (left == 0) real__params_clear(); /* leaked tasks may still read them */
    return left;
}
