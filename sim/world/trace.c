/*
 * trace.c -- the run's trace: every event is folded into an XXH3-64 digest
 * as it happens (a fixed binary record, plus the bytes of any text), and
 * written as one text line when a trace file is open. Two runs with the same
 * digest saw the same events in the same order at the same virtual times.
 * Records gather in a 4 KB buffer that is folded in one XXH3 update when
 * full: the digest of the concatenated bytes does not depend on how they
 * are split, and one large update costs far less than many small ones.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Where the xxHash library has its run-time dispatch (x86-64: AVX2 or
 * AVX-512 when the CPU has them), the digest's updates use it: the same
 * XXH3 value, a fraction of the scalar code's instructions. */
#if defined(DEJA_XXH_DISPATCH)
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#define deja__xxh3_update XXH3_64bits_update_dispatch
#else
#define deja__xxh3_update XXH3_64bits_update
#endif

void deja__digest_warm(void) {
    static const unsigned char zeros[4096];
    XXH3_state_t *st = XXH3_createState();
    assert(st);
    XXH3_64bits_reset_withSeed(st, 0);
    deja__xxh3_update(st, zeros, 100);
    deja__xxh3_update(st, zeros, sizeof zeros);
    (void)XXH3_64bits_digest(st);
    XXH3_freeState(st);
}

static const char *const deja__tk_names[] = {
    [DEJA__TK_RESUME] = "resume", [DEJA__TK_SPAWN] = "spawn",   [DEJA__TK_EXIT] = "exit",
    [DEJA__TK_SEND] = "send",     [DEJA__TK_DELIVER] = "deliver", [DEJA__TK_DROP] = "drop",
    [DEJA__TK_TIMER] = "timer",   [DEJA__TK_CLOCK] = "clock",   [DEJA__TK_FACT] = "fact",
    [DEJA__TK_LOG] = "log",       [DEJA__TK_WAKE] = "wake",     [DEJA__TK_NOTE] = "note",
    [DEJA__TK_DISK] = "disk",
};

/* Passes an event on to the observers (there is at least one). */
static void deja__observe(deja_world *w, uint64_t n, const char *kind, int node, uint64_t a, uint64_t b,
                          const char *text) {
    deja_trace_event e = {n, w->now, node, w->cur ? w->cur->id : 0, w->cur ? w->cur->name : NULL, kind, a, b, text};
    for (int i = 0; i < w->n_obs; i++) w->obs_fns[i](w->obs_args[i], &e);
}

void deja__trace_flush(deja_world *w) {
    if (w->dlen) deja__xxh3_update(w->digest, w->dbuf, w->dlen);
    w->dlen = 0;
}

/* Appends bytes to the digest buffer, folding it when full. */
static inline void deja__fold(deja_world *w, const void *p, size_t len) {
    if (w->dlen + len > sizeof w->dbuf) {
        deja__trace_flush(w);
        if (len > sizeof w->dbuf) {
            deja__xxh3_update(w->digest, p, len);
            return;
        }
    }
    memcpy(w->dbuf + w->dlen, p, len);
    w->dlen += len;
}

void deja__trace(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text) {
    deja__trace_n(w, kind, node, a, b, text, text ? strlen(text) : 0);
}

/* What an event does beyond the digest: its text trace line, the
 * observers, a breakpoint. Out of line, so that the digest's path (every
 * event of every run) stays a few stores. */
__attribute__((noinline)) void deja__trace_read(deja_world *w, uint64_t n, deja__tk kind, int node,
                                                       uint64_t a, uint64_t b, const char *text,
                                                       size_t tlen) {
    if (w->trace) {
        /* the running task, when the event happens inside one of the node's
         * own tasks: nNODE/tTASK */
        char who[48];
        if (w->cur && (int)w->cur->node->id == node)
            snprintf(who, sizeof who, "n%d/t%" PRIu64, node, w->cur->id);
        else
            snprintf(who, sizeof who, "n%d", node);
        if (kind == DEJA__TK_FACT && rt_fact_kind_name((rt_fact_kind)a))
            fprintf(w->trace, "#%" PRIu64 " %" PRId64 " %s fact %s %" PRIu64 "%s%s\n", n, w->now, who,
                    rt_fact_kind_name((rt_fact_kind)a), b, tlen ? " " : "", tlen ? text : "");
        else
            fprintf(w->trace, "#%" PRIu64 " %" PRId64 " %s %s %" PRIu64 " %" PRIu64 "%s%s\n", n, w->now, who,
                    deja__tk_names[kind], a, b, tlen ? " " : "", tlen ? text : "");
    }
    if (w->n_obs) deja__observe(w, n, deja__tk_names[kind], node, a, b, text);
    if (n == w->break_at) deja_break();
    deja__trace_relook(w); /* past the break point: no more reads */
}

void deja__trace_relook(deja_world *w) {
    if (w->trace || w->n_obs)
        w->trace_look = 0;
    else if (w->break_at > w->trace_n)
        w->trace_look = w->break_at;
    else
        w->trace_look = UINT64_MAX;
}

void deja__trace_n(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text,
                   size_t tlen) {
    assert(text ? text[tlen] == 0 : tlen == 0); /* the whole of text (a cheap check) */
    /* the record (deja__trace_record). A spawn's source line is in the text
     * trace but not the digest: editing a file above an rt_spawn must not
     * change every pinned seed's hash */
    uint64_t n = deja__trace_record(w, kind, node, a, kind == DEJA__TK_SPAWN ? 0 : b);
    /* log lines are in the text trace but not the digest: rewording a log
     * message must not change every pinned seed's hash */
    if (tlen && kind != DEJA__TK_LOG) deja__fold(w, text, tlen);
    /* the event number is in the text trace, never in the digest */
    if (n >= w->trace_look) deja__trace_read(w, n, kind, node, a, b, text, tlen);
}

/* Writes the 16 bytes of h as 32 lowercase hex digits (no NUL). With SSE2
 * (every x86-64) all at once: the high and the low nibbles of every byte,
 * interleaved into digit order, and each nibble n turned into '0' + n,
 * plus 39 more past 9 ('a' - '0' - 10). Elsewhere one digit at a time. */
static void deja__hex16(const uint8_t h[16], char out[32]) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)h);
    __m128i nib = _mm_set1_epi8(0x0f);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), nib), lo = _mm_and_si128(v, nib);
    __m128i d0 = _mm_unpacklo_epi8(hi, lo), d1 = _mm_unpackhi_epi8(hi, lo);
    __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0'), past = _mm_set1_epi8(39);
    d0 = _mm_add_epi8(_mm_add_epi8(d0, zero), _mm_and_si128(_mm_cmpgt_epi8(d0, nine), past));
    d1 = _mm_add_epi8(_mm_add_epi8(d1, zero), _mm_and_si128(_mm_cmpgt_epi8(d1, nine), past));
    _mm_storeu_si128((__m128i *)(void *)out, d0);
    _mm_storeu_si128((__m128i *)(void *)(out + 16), d1);
#else
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[h[i] >> 4];
        out[2 * i + 1] = digits[h[i] & 15];
    }
#endif
}

void deja__trace_fact(deja_world *w, int node, uint64_t kind, uint64_t height, const uint8_t hash[16]) {
    /* the same bytes as deja__trace_n with the hash's hex digits for text,
     * the digits formed in the buffer itself, right after the record */
    if (w->dlen + 64 > sizeof w->dbuf) deja__trace_flush(w);
    uint64_t n = deja__trace_record(w, DEJA__TK_FACT, node, kind, height);
    char *hex = (char *)w->dbuf + w->dlen;
    deja__hex16(hash, hex);
    w->dlen += 32;
    if (n >= w->trace_look) {
        char text[33];
        memcpy(text, hex, 32);
        text[32] = 0;
        deja__trace_read(w, n, DEJA__TK_FACT, node, kind, height, text, 32);
    }
}

__attribute__((noinline)) void deja_break(void) {
    /* empty on purpose: a place for a debugger's breakpoint */
    __asm__ volatile("" ::: "memory");
}

void deja_world_on_event(deja_world *w, deja_observer_fn fn, void *arg) {
    assert(fn && w->n_obs < (int)(sizeof w->obs_fns / sizeof w->obs_fns[0]));
    w->obs_fns[w->n_obs] = fn;
    w->obs_args[w->n_obs] = arg;
    w->n_obs++;
    deja__trace_relook(w);
}

void deja_world_violation(deja_world *w, const char *verdict) {
    if (w->violated) return;
    w->violated = true;
    w->viol_event = w->trace_n;
    w->viol_t = w->now;
    snprintf(w->viol_verdict, sizeof w->viol_verdict, "%s", verdict ? verdict : "violation");
    if (w->trace) fprintf(w->trace, "-- violation %s after #%" PRIu64 "\n", w->viol_verdict, w->trace_n);
    if (w->n_obs) deja__observe(w, 0, "violation", w->cur ? (int)w->cur->node->id : -1, w->trace_n, 0, w->viol_verdict);
    if (w->break_on_violation) deja_break();
}

int deja_world_first_violation(const deja_world *w, uint64_t *event, int64_t *t, const char **verdict) {
    if (!w->violated) return 0;
    if (event) *event = w->viol_event;
    if (t) *t = w->viol_t;
    if (verdict) *verdict = w->viol_verdict;
    return 1;
}

void deja_world_break_at(deja_world *w, uint64_t event) {
    w->break_at = event;
    deja__trace_relook(w);
}
void deja_world_break_on_violation(deja_world *w, bool on) { w->break_on_violation = on; }

void deja_world_trace(deja_world *w, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    deja__trace(w, DEJA__TK_NOTE, -1, 0, 0, buf);
}
