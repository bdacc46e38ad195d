/*
 * test_export.c -- the Perfetto export (sim/lab/perfetto.c) of a
 * drift-fork run: one JSON object per line between the header and the
 * closing line, a process per node and a thread per task (metadata),
 * "blocked" slices with durations, flow arrows whose ends match their
 * starts, facts and the violation as instants. And the observer hook it
 * is built on sees the numbered events of the text trace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/debug.h"
#include "deja/models.h"
#include "node.h"

static int test__run_fork(deja_run_opts *o) {
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "clock.offset_ms", "3000");
    deja_summary s;
    char err[256];
    int rc = deja_run(deja_scenario_find("drift-fork"), 7, ov, o, &s, err, sizeof err);
    deja_params_free(ov);
    return rc;
}

/* The integer after "key": in line, or -1. */
static long long test__num(const char *line, const char *key) {
    const char *p = strstr(line, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void test_perfetto_structure(void **state) {
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    deja_perfetto *pf = deja_perfetto_new(f);
    deja_run_opts o = {.observer = deja_perfetto_observe, .observer_arg = pf};
    assert_int_equal(test__run_fork(&o), 1); /* the fork: verdict safety */
    assert_int_equal(deja_perfetto_finish(pf), 0);
    fclose(f);
    assert_true(!strncmp(buf, "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", 40));
    assert_true(len > 10 && !strcmp(buf + len - 4, "\n]}\n"));
    int procs = 0, threads = 0, blocked = 0, sends = 0, instants = 0, violations = 0, facts = 0;
    long long open_flows = 0, ends = 0;
    static long long started[1 << 16];
    int nstarted = 0;
    char *save = NULL;
    int lineno = 0;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (lineno++ == 0 || !strcmp(line, "]}")) continue;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == ',') line[ll - 1] = 0; /* the separator ends the line before */
        /* every event is one object with a phase, a pid and a tid */
        assert_true(line[0] == '{' && line[strlen(line) - 1] == '}');
        assert_non_null(strstr(line, "\"ph\":\""));
        assert_non_null(strstr(line, "\"pid\":"));
        assert_non_null(strstr(line, "\"tid\":"));
        if (strstr(line, "\"name\":\"process_name\"")) procs++;
        if (strstr(line, "\"name\":\"thread_name\"")) threads++;
        if (strstr(line, "\"ph\":\"X\",\"name\":\"blocked\"")) {
            blocked++;
            assert_non_null(strstr(line, "\"dur\":"));
            assert_true(strstr(line, "\"dur\":0.000") == NULL);
        }
        if (strstr(line, "\"ph\":\"X\",\"name\":\"send\"")) sends++;
        if (strstr(line, "\"ph\":\"s\"")) {
            assert_true(nstarted < (int)(sizeof started / sizeof started[0]));
            started[nstarted++] = test__num(line, "\"id\":");
            open_flows++;
        }
        if (strstr(line, "\"ph\":\"f\"")) {
            long long id = test__num(line, "\"id\":");
            int found = 0;
            for (int i = nstarted; i-- > 0 && !found;) found = started[i] == id;
            assert_true(found); /* an arrow ends only where one started */
            assert_non_null(strstr(line, "\"bp\":\"e\""));
            ends++;
        }
        if (strstr(line, "\"ph\":\"i\"")) {
            instants++;
            if (strstr(line, "\"cat\":\"fact\"")) facts++;
            if (strstr(line, "\"name\":\"violation: safety\"")) violations++;
        }
    }
    assert_true(procs >= 5); /* the world and four nodes */
    assert_true(threads >= 8); /* each node's main task and its network side */
    assert_true(blocked > 100);
    assert_true(sends > 100);
    assert_true(ends > 100 && ends <= open_flows);
    assert_true(facts > 100 && instants >= facts);
    assert_int_equal(violations, 1);
    free(buf);
}

typedef struct test__obs {
    uint64_t events, last_n, violations;
    int monotonic;
} test__obs;

static void test__observe(void *arg, const deja_trace_event *e) {
    test__obs *o = arg;
    if (!strcmp(e->kind, "violation")) {
        o->violations++;
        assert_int_equal(e->n, 0);
        return;
    }
    o->events++;
    if (e->n != o->last_n + 1) o->monotonic = 0;
    o->last_n = e->n;
}

static void test_observer_sees_numbered_events(void **state) {
    (void)state;
    test__obs ob = {.monotonic = 1};
    char *buf = NULL;
    size_t len = 0;
    FILE *t = open_memstream(&buf, &len);
    deja_run_opts o = {.observer = test__observe, .observer_arg = &ob, .trace = t};
    test__run_fork(&o);
    fclose(t);
    assert_true(ob.monotonic);
    assert_true(ob.events > 1000);
    assert_int_equal(ob.violations, 1);
    /* the text trace numbers the same events */
    char want[64];
    snprintf(want, sizeof want, "\n#%llu ", (unsigned long long)ob.last_n);
    assert_non_null(strstr(buf, want));
    snprintf(want, sizeof want, "\n#%llu ", (unsigned long long)ob.last_n + 1);
    assert_null(strstr(buf, want));
    free(buf);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfetto_structure),
        cmocka_unit_test(test_observer_sees_numbered_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
