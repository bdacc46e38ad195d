/*
 * trace.c -- the run's trace: every event is folded into an XXH3-64 digest
 * as it happens (a fixed binary record, plus the bytes of any text), and
 * written as one text line when a trace file is open. Two runs with the same
 * digest saw the same events in the same order at the same virtual times.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

static const char *const deja__tk_names[] = {
    [DEJA__TK_RESUME] = "resume", [DEJA__TK_SPAWN] = "spawn",   [DEJA__TK_EXIT] = "exit",
    [DEJA__TK_SEND] = "send",     [DEJA__TK_DELIVER] = "deliver", [DEJA__TK_DROP] = "drop",
    [DEJA__TK_TIMER] = "timer",   [DEJA__TK_CLOCK] = "clock",   [DEJA__TK_FACT] = "fact",
    [DEJA__TK_LOG] = "log",       [DEJA__TK_WAKE] = "wake",     [DEJA__TK_NOTE] = "note",
    [DEJA__TK_DISK] = "disk",
};

void deja__trace(deja_world *w, deja__tk kind, int node, uint64_t a, uint64_t b, const char *text) {
    struct {
        int64_t t;
        int32_t kind, node;
        uint64_t a, b;
    } rec = {w->now, (int32_t)kind, node, a, kind == DEJA__TK_SPAWN ? 0 : b};
    /* a spawn's source line is in the text trace but not the digest: editing
     * a file above an rt_spawn must not change every pinned seed's hash */
    XXH3_64bits_update(w->digest, &rec, sizeof rec);
    size_t tlen = text ? strlen(text) : 0;
    /* log lines are in the text trace but not the digest: rewording a log
     * message must not change every pinned seed's hash */
    if (tlen && kind != DEJA__TK_LOG) XXH3_64bits_update(w->digest, text, tlen);
    if (w->trace && kind == DEJA__TK_FACT && rt_fact_kind_name((rt_fact_kind)a))
        fprintf(w->trace, "%" PRId64 " n%d fact %s %" PRIu64 "%s%s\n", w->now, node,
                rt_fact_kind_name((rt_fact_kind)a), b, tlen ? " " : "", tlen ? text : "");
    else if (w->trace)
        fprintf(w->trace, "%" PRId64 " n%d %s %" PRIu64 " %" PRIu64 "%s%s\n", w->now, node,
                deja__tk_names[kind], a, b, tlen ? " " : "", tlen ? text : "");
}

void deja_world_trace(deja_world *w, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    deja__trace(w, DEJA__TK_NOTE, -1, 0, 0, buf);
}
