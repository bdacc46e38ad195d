/*
 * net.c -- messages of the production backend: UDP datagrams between the
 * addresses given at start (peers[i] is node i's address, this node binds
 * peers[id] or --listen).
 *
 * A datagram is a 20-byte header -- magic "DJ02", the sender's node id
 * (u32), its sequence number (u64) and the payload length (u32), little
 * endian -- then the payload and, when the cluster has a key, a MAC of
 * header and payload (auth.c). One receiver thread waits (poll) on the
 * socket and a wake pipe and trusts nothing: a datagram that is short,
 * oversized, of another magic, from an unknown sender id, whose length
 * field disagrees with its size, whose MAC is missing or wrong (a forged
 * sender id, a tampered payload) or whose sequence number was seen before
 * (a replay) is dropped and counted by reason; the counts are in the
 * status lines. A drop is logged at WARN the first time for each reason,
 * then at most once per REAL__LOG_EVERY_S per reason with how many were
 * dropped meanwhile, so a flood cannot fill the disk (every drop at debug
 * level). What passes is offered as an rt_msg* to the inbox channel
 * without blocking: when the inbox is full the message is dropped and
 * counted, as a real network would drop it. Sends are sendmsg calls from
 * the sending task (best effort, as rt.h says). Without peers (tests),
 * rt_send to oneself goes straight to the inbox. With --net-* faults on, a
 * datagram goes through net_faults.c first (lost, duplicated, held back)
 * and is sealed (header, sequence number, MAC) when it actually leaves, so
 * each copy is a datagram of its own; off, it is sent as above, unchanged.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "real_int.h"

#define REAL__MAGIC 0x32304a44u /* "DJ02" read as little endian */
#define REAL__HDR 20
#define REAL__LOG_EVERY_S 10

static int real__sock = -1;
static int real__wake[2] = {-1, -1};
static pthread_t real__net_thr;
static bool real__net_running;
/* Per peer (real__npeers of each, allocated by real__net_start for the
 * --peers list: no fixed limit): its address and when we last heard it. */
static struct sockaddr_storage *real__addr;
static socklen_t *real__addr_len;
static uint32_t real__npeers, real__self_id;
static _Atomic int64_t *real__heard;
static _Atomic uint64_t real__ndropped;
static _Atomic uint64_t real__drops[REAL_DROP_N];
static _Atomic uint64_t real__seq; /* this node's next sequence number */
/* Rate limit of the drop logs, per reason (receiver thread only). */
static struct {
    int64_t last_ns;     /* when the last line was written (0: never) */
    uint64_t suppressed; /* drops since then not logged */
} real__droplog[REAL_DROP_N];

static const char *const real__drop_names[REAL_DROP_N] = {
    "short", "oversized", "bad_magic", "unknown_sender", "undecodable", "bad_mac", "replayed",
};
static rt_chan *real__inbox_ch;

/* Parses "host:port" (host may be "[v6]") into a socket address. 0 or -1. */
static int real__parse_addr(const char *s, struct sockaddr_storage *out, socklen_t *len) {
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1]) return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof host) return -1;
    memcpy(host, s, hl);
    host[hl] = 0;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9') return -1;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res) return -1;
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void real__put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t real__get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void real__put64(uint8_t *p, uint64_t v) {
    real__put32(p, (uint32_t)v);
    real__put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t real__get64(const uint8_t *p) { return (uint64_t)real__get32(p) | (uint64_t)real__get32(p + 4) << 32; }

/* Formats a socket address as host:port for the logs. */
static void real__addr_str(const struct sockaddr_storage *a, char *out, size_t len) {
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        port = ntohs(v4->sin_port);
    } else if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        port = ntohs(v6->sin6_port);
    }
    snprintf(out, len, a->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, port);
}

/* Counts a dropped datagram and logs it, rate-limited per reason: the
 * first one, then at most one line per REAL__LOG_EVERY_S with the number
 * dropped since (each one at debug level). */
static void real__drop(int reason, const struct sockaddr_storage *from, ssize_t len) {
    assert(reason >= 0 && reason < REAL_DROP_N);
    atomic_fetch_add(&real__drops[reason], 1);
    char who[INET6_ADDRSTRLEN + 16];
    real__addr_str(from, who, sizeof who);
    rt_log(RT_LOG_DEBUG, "net: dropped a datagram of %zd bytes from %s: %s", len, who, real__drop_names[reason]);
    int64_t now = real__mono();
    if (real__droplog[reason].last_ns && now - real__droplog[reason].last_ns < REAL__LOG_EVERY_S * RT_SEC) {
        real__droplog[reason].suppressed++;
        return;
    }
    if (real__droplog[reason].suppressed)
        rt_log(RT_LOG_WARN, "net: dropped a datagram of %zd bytes from %s: %s (and %llu more %s in the last %d s)",
               len, who, real__drop_names[reason], (unsigned long long)real__droplog[reason].suppressed,
               real__drop_names[reason], REAL__LOG_EVERY_S);
    else
        rt_log(RT_LOG_WARN, "net: dropped a datagram of %zd bytes from %s: %s (logged at most every %d s per reason; "
               "counts in the status)", len, who, real__drop_names[reason], REAL__LOG_EVERY_S);
    real__droplog[reason].last_ns = now;
    real__droplog[reason].suppressed = 0;
}

/* Checks one received datagram (n bytes in buf; the socket said it was
 * `full` bytes before truncation). The sender and the payload, or -1 after
 * counting the drop. */
static int real__check(const uint8_t *buf, ssize_t n, ssize_t full, const struct sockaddr_storage *src,
                       uint32_t *from, size_t *plen) {
    size_t mac = real__auth_on() ? REAL_MAC_LEN : 0;
    if (full > (ssize_t)(REAL__HDR + REAL_MAX_PAYLOAD + mac) || full != n) {
        real__drop(REAL_DROP_OVERSIZED, src, full);
        return -1;
    }
    if (n < REAL__HDR) {
        real__drop(REAL_DROP_SHORT, src, n);
        return -1;
    }
    if (real__get32(buf) != REAL__MAGIC) {
        real__drop(REAL_DROP_BAD_MAGIC, src, n);
        return -1;
    }
    *from = real__get32(buf + 4);
    if (*from >= real__npeers) {
        real__drop(REAL_DROP_UNKNOWN, src, n);
        return -1;
    }
    uint32_t len = real__get32(buf + 16);
    if ((size_t)n != REAL__HDR + (size_t)len + mac) {
        /* a datagram with a MAC sent to a keyless node looks like this too */
        real__drop(REAL_DROP_UNDECODABLE, src, n);
        return -1;
    }
    if (mac && !real__auth_check(buf, REAL__HDR + len, buf + REAL__HDR + len)) {
        real__drop(REAL_DROP_BAD_MAC, src, n);
        return -1;
    }
    if (!real__replay_accept(*from, real__get64(buf + 8))) {
        real__drop(REAL_DROP_REPLAYED, src, n);
        return -1;
    }
    *plen = len;
    return 0;
}

/* Offers a message to the inbox without blocking; drops it when full. */
static void real__deliver(uint32_t from, const void *data, size_t len) {
    rt_msg *m = rt_malloc(sizeof *m + len);
    if (!m) {
        atomic_fetch_add(&real__ndropped, 1);
        return;
    }
    m->from = from;
    m->len = (uint32_t)len;
    if (len) memcpy(m->data, data, len);
    if (real__chan_try_send(real__inbox_ch, &m) != RT_OK) {
        rt_free(m);
        atomic_fetch_add(&real__ndropped, 1);
    }
}

static void *real__net_main(void *unused) {
    (void)unused;
    uint8_t *buf = malloc(65536);
    if (!buf) abort();
    struct pollfd pf[2] = {{real__sock, POLLIN, 0}, {real__wake[0], POLLIN, 0}};
    for (;;) {
        int rc = poll(pf, 2, -1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[1].revents) break;
        if (!(pf[0].revents & POLLIN)) continue;
        for (;;) {
            struct sockaddr_storage src;
            struct iovec iov = {buf, 65536};
            struct msghdr mh = {0};
            memset(&src, 0, sizeof src);
            mh.msg_name = &src;
            mh.msg_namelen = sizeof src;
            mh.msg_iov = &iov;
            mh.msg_iovlen = 1;
            ssize_t n = recvmsg(real__sock, &mh, MSG_DONTWAIT);
            if (n < 0) break; /* EAGAIN: drained */
            ssize_t full = (mh.msg_flags & MSG_TRUNC) ? 65536 + 1 : n;
            uint32_t from;
            size_t plen;
            if (real__check(buf, n, full, &src, &from, &plen)) continue;
            atomic_store(&real__heard[from], real__mono());
            real__deliver(from, buf + REAL__HDR, plen);
        }
    }
    free(buf);
    return NULL;
}

/* Frees the per-peer tables (the receiver thread is not running). */
static void real__peers_free(void) {
    free(real__addr);
    free(real__addr_len);
    free((void *)real__heard);
    real__addr = NULL;
    real__addr_len = NULL;
    real__heard = NULL;
}

static void real__sendto(uint32_t to, const void *data, size_t len);

/* Starts the network: resolves peers, binds, starts the receiver thread.
 * 0, or 2 with err naming the flag at fault. */
int real__net_start(const real_opts *o, char *err, size_t errlen) {
    if (!real__inbox_ch) {
        int64_t cap = rt_param_i64("real.inbox_cap", 4096);
        real__inbox_ch = rt_chan_new("inbox", sizeof(rt_msg *), cap > 0 ? (size_t)cap : 4096);
        if (!real__inbox_ch) {
            snprintf(err, errlen, "out of memory");
            return 2;
        }
    }
    atomic_store(&real__ndropped, 0);
    for (int r = 0; r < REAL_DROP_N; r++) {
        atomic_store(&real__drops[r], 0);
        real__droplog[r].last_ns = 0;
        real__droplog[r].suppressed = 0;
    }
    /* Sequence numbers start at the wall clock: a restarted node goes on
     * above the numbers its peers saw from its previous run. */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    atomic_store(&real__seq, (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec);
    if (real__auth_load(o->key_file, err, errlen)) return 2;
    real__self_id = o->id;
    real__npeers = 0;
    if (o->npeers <= 0) {
        if (o->listen) {
            snprintf(err, errlen, "--listen: given without --peers");
            return 2;
        }
        return 0;
    }
    real__peers_free(); /* a start that failed half-way may have left them */
    real__addr = calloc((size_t)o->npeers, sizeof *real__addr);
    real__addr_len = calloc((size_t)o->npeers, sizeof *real__addr_len);
    real__heard = calloc((size_t)o->npeers, sizeof *real__heard);
    if (!real__addr || !real__addr_len || !real__heard) {
        snprintf(err, errlen, "--peers: out of memory for %d addresses", o->npeers);
        real__peers_free();
        return 2;
    }
    for (int i = 0; i < o->npeers; i++) atomic_store(&real__heard[i], 0);
    for (int i = 0; i < o->npeers; i++) {
        if (real__parse_addr(o->peers[i], &real__addr[i], &real__addr_len[i]) != 0) {
            snprintf(err, errlen, "--peers: '%s' is not a numeric host:port address", o->peers[i]);
            return 2;
        }
    }
    if (o->id >= (uint32_t)o->npeers) {
        snprintf(err, errlen, "--id: %u is not below the number of peers (%d)", o->id, o->npeers);
        return 2;
    }
    const char *listen = o->listen ? o->listen : o->peers[o->id];
    struct sockaddr_storage la;
    socklen_t ll;
    if (real__parse_addr(listen, &la, &ll) != 0) {
        snprintf(err, errlen, "--listen: '%s' is not a numeric host:port address", listen);
        return 2;
    }
    int s = socket(la.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        snprintf(err, errlen, "--listen %s: socket: %s", listen, strerror(errno));
        return 2;
    }
    int sz = 4 << 20;
    (void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    if (bind(s, (struct sockaddr *)&la, ll) != 0) {
        snprintf(err, errlen, "--listen %s: %s", listen, strerror(errno));
        close(s);
        return 2;
    }
    if (pipe2(real__wake, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        close(s);
        return 2;
    }
    real__sock = s;
    real__npeers = (uint32_t)o->npeers;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&real__net_thr, NULL, real__net_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the receiver thread: %s", strerror(rc));
        real__net_stop();
        return 2;
    }
#ifdef __linux__
    pthread_setname_np(real__net_thr, "deja.net");
#endif
    real__net_running = true;
    if (real__faults_start(&o->net_faults, o->id, real__sendto, err, errlen)) {
        real__net_stop();
        return 2;
    }
    return 0;
}

/* Stops the receiver, closes the socket and frees undelivered messages. */
void real__net_stop(void) {
    real__faults_stop(); /* before the socket closes: the delay thread sends on it */
    if (real__net_running) {
        ssize_t w = write(real__wake[1], "x", 1);
        (void)w;
        pthread_join(real__net_thr, NULL);
        real__net_running = false;
    }
    if (real__sock >= 0) close(real__sock);
    for (int i = 0; i < 2; i++) {
        if (real__wake[i] >= 0) close(real__wake[i]);
        real__wake[i] = -1;
    }
    real__sock = -1;
    real__npeers = 0;
    real__peers_free();
    if (real__inbox_ch) { /* kept for the process's life: a leaked task may still wait on it */
        rt_msg *m;
        while (rt_chan_recv(real__inbox_ch, &m, 0) == RT_OK) rt_msg_free(m);
    }
}

/* Seals and sends one datagram to peer `to` (< real__npeers) now. */
static void real__sendto(uint32_t to, const void *data, size_t len) {
    uint8_t hdr[REAL__HDR], mac[REAL_MAC_LEN];
    real__put32(hdr, REAL__MAGIC);
    real__put32(hdr + 4, real__self_id);
    real__put64(hdr + 8, atomic_fetch_add(&real__seq, 1));
    real__put32(hdr + 16, (uint32_t)len);
    size_t nmac = 0;
    if (real__auth_on()) { /* MAC over header and payload, without copying the payload */
        crypto_auth_hmacsha512256_state st;
        crypto_auth_hmacsha512256_init(&st, real__auth_key(), crypto_auth_KEYBYTES);
        crypto_auth_hmacsha512256_update(&st, hdr, REAL__HDR);
        if (len) crypto_auth_hmacsha512256_update(&st, data, len);
        crypto_auth_hmacsha512256_final(&st, mac);
        nmac = REAL_MAC_LEN;
    }
    struct iovec iov[3] = {{hdr, REAL__HDR}, {(void *)data, len}, {mac, nmac}};
    struct msghdr mh = {0};
    mh.msg_name = &real__addr[to];
    mh.msg_namelen = real__addr_len[to];
    mh.msg_iov = iov;
    mh.msg_iovlen = 3;
    if (sendmsg(real__sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) atomic_fetch_add(&real__ndropped, 1);
}

int rt_send(uint32_t to, const void *data, size_t len) {
    if (len > REAL_MAX_PAYLOAD || (len && !data)) return RT_EINVAL;
    if (real__sock < 0) {
        if (to != rt_node_id() || !real__inbox_ch) return RT_EINVAL;
        real__deliver(to, data, len);
        return RT_OK;
    }
    if (to >= real__npeers) return RT_EINVAL;
    if (real__faults_on())
        real__faults_send(to, data, len);
    else
        real__sendto(to, data, len);
    return RT_OK;
}

rt_chan *rt_inbox(void) {
    assert(real__inbox_ch != NULL && "rt_inbox: the backend is not initialised (real_init)");
    return real__inbox_ch;
}

void rt_msg_free(rt_msg *m) { rt_free(m); }

int real__net_peers_alive(int64_t window_ns) {
    int64_t now = real__mono();
    int n = 0;
    for (uint32_t i = 0; i < real__npeers; i++) {
        if (i == real__self_id) continue;
        int64_t h = atomic_load(&real__heard[i]);
        if (h > 0 && now - h <= window_ns) n++;
    }
    return n;
}

uint64_t real__net_dropped(void) { return atomic_load(&real__ndropped); }

uint64_t real__net_drops(int reason) {
    assert(reason >= 0 && reason < REAL_DROP_N);
    return atomic_load(&real__drops[reason]);
}

const char *real__net_drop_name(int reason) {
    assert(reason >= 0 && reason < REAL_DROP_N);
    return real__drop_names[reason];
}
