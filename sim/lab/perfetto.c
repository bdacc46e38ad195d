/*
 * perfetto.c -- a run in the Chrome trace-event format (deja/debug.h),
 * written as it happens from the world's observer hook.
 *
 * Streaming: each event becomes at most a few JSON lines at once. The only
 * state is per task (when it last ran) and the messages in flight (to draw
 * their flow arrows from send to delivery), both bounded by what the run
 * holds at once, not by its length... except messages dropped on their
 * way, which stay in the flight table (their delivery never comes).
 * Timestamps are virtual microseconds with nanosecond decimals.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "deja/debug.h"

typedef struct deja__flight {
    int32_t from, to;
    uint64_t hash, id;
    struct deja__flight *next;
} deja__flight;

#define DEJA__PF_BUCKETS 4096

struct deja_perfetto {
    FILE *out;
    int64_t *last_run; /* per task id: true time it last ran, -1: never */
    size_t ntasks;
    uint8_t *seen_node; /* per node + 1: process name written */
    size_t nseen;
    deja__flight *flights[DEJA__PF_BUCKETS];
    uint64_t next_flow;
};

/* Writes ts as microseconds with three decimals (exact). */
static void deja__ts(FILE *f, const char *key, int64_t ns) {
    if (ns < 0) ns = 0;
    fprintf(f, "\"%s\":%" PRId64 ".%03" PRId64, key, ns / 1000, ns % 1000);
}

/* Writes s as a JSON string body (escaped). */
static void deja__str(FILE *f, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

deja_perfetto *deja_perfetto_new(FILE *out) {
    deja_perfetto *p = calloc(1, sizeof *p);
    assert(p && out);
    p->out = out;
    fprintf(out, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    fprintf(out, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":0,\"tid\":0,\"args\":{\"name\":\"world\"}}");
    return p;
}

static void deja__node_seen(deja_perfetto *p, int node) {
    size_t i = (size_t)(node + 1);
    if (i >= p->nseen) {
        size_t n = i + 16;
        p->seen_node = realloc(p->seen_node, n);
        assert(p->seen_node);
        memset(p->seen_node + p->nseen, 0, n - p->nseen);
        p->nseen = n;
    }
    if (p->seen_node[i]) return;
    p->seen_node[i] = 1;
    if (node < 0) return;
    fprintf(p->out, ",\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"node %d\"}}",
            node + 1, node);
    fprintf(p->out, ",\n{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}}",
            node + 1, node + 1);
    fprintf(p->out, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"network\"}}",
            node + 1);
}

static int64_t *deja__task(deja_perfetto *p, uint64_t id) {
    if (id >= p->ntasks) {
        size_t n = (size_t)id * 2 + 64;
        p->last_run = realloc(p->last_run, n * sizeof *p->last_run);
        assert(p->last_run);
        for (size_t i = p->ntasks; i < n; i++) p->last_run[i] = -1;
        p->ntasks = n;
    }
    return &p->last_run[id];
}

static size_t deja__bucket(int32_t from, int32_t to, uint64_t hash) {
    uint64_t h = hash ^ ((uint64_t)(uint32_t)from << 32) ^ (uint64_t)(uint32_t)to * 0x9e3779b97f4a7c15ull;
    return (size_t)((h ^ (h >> 29)) % DEJA__PF_BUCKETS);
}

/* An instant event on node's process (or the world's, scope global). */
static void deja__instant(deja_perfetto *p, const deja_trace_event *e, const char *name, const char *detail) {
    int pid = e->node >= 0 ? e->node + 1 : 0;
    fprintf(p->out, ",\n{\"ph\":\"i\",\"s\":\"%s\",\"name\":\"", e->node >= 0 ? "p" : "g");
    deja__str(p->out, name);
    fprintf(p->out, "\",\"cat\":\"%s\",\"pid\":%d,\"tid\":%" PRIu64 ",", e->kind, pid,
            e->node >= 0 && e->task ? e->task : 0);
    deja__ts(p->out, "ts", e->t);
    fprintf(p->out, ",\"args\":{\"event\":%" PRIu64 ",\"detail\":\"", e->n);
    deja__str(p->out, detail);
    fprintf(p->out, "\"}}");
}

void deja_perfetto_observe(void *exporter, const deja_trace_event *e) {
    deja_perfetto *p = exporter;
    FILE *f = p->out;
    deja__node_seen(p, e->node);
    const char *k = e->kind;
    int pid = e->node + 1;
    if (!strcmp(k, "spawn")) {
        *deja__task(p, e->a) = e->t;
        fprintf(f, ",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%" PRIu64 ",\"args\":{\"name\":\"", pid, e->a);
        deja__str(f, e->text);
        fprintf(f, " #%" PRIu64 "\"}}", e->a);
    } else if (!strcmp(k, "resume")) {
        int64_t *last = deja__task(p, e->a);
        if (*last >= 0 && e->t > *last) {
            fprintf(f, ",\n{\"ph\":\"X\",\"name\":\"blocked\",\"cat\":\"task\",\"pid\":%d,\"tid\":%" PRIu64 ",", pid, e->a);
            deja__ts(f, "ts", *last);
            fprintf(f, ",");
            deja__ts(f, "dur", e->t - *last);
            fprintf(f, "}");
        }
        *last = e->t;
    } else if (!strcmp(k, "exit")) {
        *deja__task(p, e->a) = -1;
    } else if (!strcmp(k, "send")) {
        uint64_t id = ++p->next_flow;
        deja__flight *fl = malloc(sizeof *fl);
        assert(fl);
        *fl = (deja__flight){e->node, (int32_t)e->a, e->b, id, NULL};
        deja__flight **pp = &p->flights[deja__bucket(fl->from, fl->to, fl->hash)];
        while (*pp) pp = &(*pp)->next;
        *pp = fl;
        fprintf(f, ",\n{\"ph\":\"X\",\"name\":\"send\",\"cat\":\"msg\",\"pid\":%d,\"tid\":%" PRIu64 ",", pid, e->task);
        deja__ts(f, "ts", e->t);
        fprintf(f, ",\"dur\":0.001,\"args\":{\"to\":%" PRIu64 ",\"event\":%" PRIu64 "}}", e->a, e->n);
        fprintf(f, ",\n{\"ph\":\"s\",\"name\":\"msg\",\"cat\":\"msg\",\"id\":%" PRIu64 ",\"pid\":%d,\"tid\":%" PRIu64 ",", id,
                pid, e->task);
        deja__ts(f, "ts", e->t);
        fprintf(f, "}");
    } else if (!strcmp(k, "deliver")) {
        deja__flight **pp = &p->flights[deja__bucket((int32_t)e->a, e->node, e->b)];
        while (*pp && !((*pp)->from == (int32_t)e->a && (*pp)->to == e->node && (*pp)->hash == e->b)) pp = &(*pp)->next;
        fprintf(f, ",\n{\"ph\":\"X\",\"name\":\"deliver\",\"cat\":\"msg\",\"pid\":%d,\"tid\":0,", pid);
        deja__ts(f, "ts", e->t);
        fprintf(f, ",\"dur\":0.001,\"args\":{\"from\":%" PRIu64 ",\"event\":%" PRIu64 "}}", e->a, e->n);
        if (*pp) {
            deja__flight *fl = *pp;
            *pp = fl->next;
            fprintf(f, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"msg\",\"cat\":\"msg\",\"id\":%" PRIu64 ",\"pid\":%d,\"tid\":0,",
                    fl->id, pid);
            deja__ts(f, "ts", e->t);
            fprintf(f, "}");
            free(fl);
        }
    } else if (!strcmp(k, "fact")) {
        const char *name = rt_fact_kind_name((rt_fact_kind)e->a);
        char buf[160];
        snprintf(buf, sizeof buf, "%s %" PRIu64, name ? name : "fact", e->b);
        deja__instant(p, e, buf, e->text);
    } else if (!strcmp(k, "clock")) {
        char buf[96];
        snprintf(buf, sizeof buf, "clock %s %+" PRId64 " ns", e->a == 1 ? "step" : "slew", (int64_t)e->b);
        deja__instant(p, e, buf, e->text);
    } else if (!strcmp(k, "note") && e->text &&
               (!strcmp(e->text, "crash") || !strcmp(e->text, "oom-kill") || !strcmp(e->text, "restart") ||
                !strcmp(e->text, "thaw") || !strcmp(e->text, "partition") || !strcmp(e->text, "program exited") ||
                strstr(e->text, "cut"))) {
        deja__instant(p, e, e->text, e->text);
    } else if (!strcmp(k, "note") && e->text && !strcmp(e->text, "node event") && e->a == DEJA_FACT_PAUSE) {
        char buf[64];
        snprintf(buf, sizeof buf, "pause %" PRIu64 " ms", e->b / 1000000);
        deja__instant(p, e, buf, "pause");
        fprintf(f, ",\n{\"ph\":\"X\",\"name\":\"paused\",\"cat\":\"fault\",\"pid\":%d,\"tid\":0,", pid);
        deja__ts(f, "ts", e->t);
        fprintf(f, ",");
        deja__ts(f, "dur", (int64_t)e->b);
        fprintf(f, "}");
    } else if (!strcmp(k, "violation")) {
        char buf[96];
        snprintf(buf, sizeof buf, "violation: %s", e->text ? e->text : "?");
        deja_trace_event g = *e;
        g.node = -1;
        deja__instant(p, &g, buf, e->text);
    } else if (!strcmp(k, "drop")) {
        char buf[96];
        snprintf(buf, sizeof buf, "drop (%s)", e->text ? e->text : "?");
        deja_trace_event g = *e;
        g.task = 0;
        deja__instant(p, &g, buf, e->text);
    }
}

int deja_perfetto_finish(deja_perfetto *p) {
    fprintf(p->out, "\n]}\n");
    int bad = ferror(p->out) ? -1 : 0;
    for (size_t i = 0; i < DEJA__PF_BUCKETS; i++)
        for (deja__flight *f = p->flights[i], *n; f; f = n) {
            n = f->next;
            free(f);
        }
    free(p->last_run);
    free(p->seen_node);
    free(p);
    return bad;
}
