/*
 * auth.c -- the cluster key of the production backend and the MAC of its
 * datagrams (libsodium's crypto_auth, HMAC-SHA-512-256), plus the replay
 * window that refuses a datagram seen before.
 *
 * The key file holds 64 hex digits (32 bytes) and an optional newline;
 * `deja cluster` writes one, or: head -c 32 /dev/urandom | xxd -p -c 64.
 * It must be a regular file owned by the user running the node and closed
 * to group and others (mode 0600 or 0400): a key anyone on the machine can
 * read authenticates nothing, so the node refuses to start with it.
 *
 * Replays: every datagram carries its sender's sequence number, strictly
 * increasing from the sender's start time in wall-clock nanoseconds (so a
 * restarted node continues above its old numbers). A receiver keeps, per
 * sender, the highest number accepted and a 64-bit window below it; a
 * number at or under the window's floor, or already in it, is a replay.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real_int.h"

static unsigned char real__key[crypto_auth_KEYBYTES];
static bool real__keyed;

/* The replay window of each sender, grown on demand (there is no fixed
 * limit on the number of peers). */
typedef struct real__window {
    uint64_t top;  /* highest sequence number accepted (0: none yet) */
    uint64_t seen; /* bit i: top - i was accepted */
} real__window;
static real__window *real__win;
static size_t real__nwin;

static int real__hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int real__auth_load(const char *path, char *err, size_t errlen) {
    real__keyed = false;
    free(real__win);
    real__win = NULL;
    real__nwin = 0;
    if (!path) return 0;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "--key: libsodium cannot start");
        return 2;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "--key %s: %s", path, strerror(errno));
        return 2;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "--key %s: not a regular file", path);
        close(fd);
        return 2;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "--key %s: owned by uid %u, not by this user (uid %u)", path, (unsigned)st.st_uid,
                 (unsigned)geteuid());
        close(fd);
        return 2;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "--key %s: readable or writable by others (mode %04o); chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return 2;
    }
    char buf[130];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    size_t len = n > 0 ? (size_t)n : 0;
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) len--;
    if (len != 2 * crypto_auth_KEYBYTES) {
        snprintf(err, errlen, "--key %s: want %d hex digits (a %d-byte key)", path, 2 * crypto_auth_KEYBYTES,
                 crypto_auth_KEYBYTES);
        sodium_memzero(buf, sizeof buf);
        return 2;
    }
    for (size_t i = 0; i < crypto_auth_KEYBYTES; i++) {
        int hi = real__hexval(buf[2 * i]), lo = real__hexval(buf[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, errlen, "--key %s: not hex at offset %zu", path, 2 * i);
            sodium_memzero(buf, sizeof buf);
            sodium_memzero(real__key, sizeof real__key);
            return 2;
        }
        real__key[i] = (unsigned char)(hi << 4 | lo);
    }
    sodium_memzero(buf, sizeof buf);
    real__keyed = true;
    return 0;
}

bool real__auth_on(void) { return real__keyed; }

const unsigned char *real__auth_key(void) {
    assert(real__keyed);
    return real__key;
}

void real__auth_tag(const uint8_t *data, size_t len, uint8_t tag[REAL_MAC_LEN]) {
    assert(real__keyed);
    crypto_auth(tag, data, len, real__key);
}

bool real__auth_check(const uint8_t *data, size_t len, const uint8_t tag[REAL_MAC_LEN]) {
    assert(real__keyed);
    return crypto_auth_verify(tag, data, len, real__key) == 0;
}

bool real__replay_accept(uint32_t from, uint64_t seq) {
    if (from >= real__nwin) {
        size_t n = real__nwin ? real__nwin : 16;
        while (n <= from) n *= 2;
        real__window *w = realloc(real__win, n * sizeof *w);
        if (!w) return false; /* out of memory: refuse rather than accept blindly */
        memset(w + real__nwin, 0, (n - real__nwin) * sizeof *w);
        real__win = w;
        real__nwin = n;
    }
    uint64_t top = real__win[from].top;
    if (seq == 0) return false;
    if (seq > top) {
        uint64_t shift = seq - top;
        real__win[from].seen = shift >= 64 ? 1 : (real__win[from].seen << shift) | 1;
        real__win[from].top = seq;
        return true;
    }
    uint64_t back = top - seq;
    if (back >= 64) return false; /* older than the window: treated as a replay */
    if (real__win[from].seen & (1ull << back)) return false;
    real__win[from].seen |= 1ull << back;
    return true;
}
