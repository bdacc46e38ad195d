/*
 * test_framework.c -- the framework as a team with its own node sees it:
 * programs and a scenario registered explicitly (no reference node), an
 * oracle of its own on deja_oracle_ops, fact kinds of its own by name, and
 * the generic verdicts (oom, exit, crash_loop, leak) it gets without
 * writing an oracle for them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "deja/check.h"
#include "deja/deja.h"
#include "deja/world.h"

/* ---- the team's node: a counter that reports "tick.done" facts ----------- */

static void tiny_main(rt_ctx *ctx) {
    rt_fact_kind done = rt_fact_kind_named("tick.done");
    const char *bug = rt_param_str("tiny.bug", "none");
    uint64_t n = 0;
    while (rt_ctx_err(ctx) == RT_OK) {
        if (rt_sleep_ns(100 * RT_MS) != RT_OK) break;
        rt_fact f;
        memset(&f, 0, sizeof f);
        f.kind = done;
        f.height = ++n;
        rt_fact_report(&f);
        if (!strcmp(bug, "exit") && n == 5) return;     /* dies early */
        if (!strcmp(bug, "oom")) (void)rt_malloc(1 << 20); /* never freed */
        if (!strcmp(bug, "skip") && n == 7) n++;          /* the oracle catches it */
    }
}

/* The team's oracle: every node's ticks count 1, 2, 3... (from 1 again after a restart) */
typedef struct tiny_oracle {
    uint64_t last[8];
    uint64_t gaps, ticks;
} tiny_oracle;

static void tiny_on_fact(void *state, uint32_t node, int64_t now, const rt_fact *f) {
    (void)now;
    tiny_oracle *o = state;
    if (f->kind != rt_fact_kind_named("tick.done")) return;
    assert_true(node < 8);
    if (f->height != o->last[node] + 1 && f->height != 1) o->gaps++; /* 1: a restart counts afresh */
    o->last[node] = f->height;
    o->ticks++;
}

static void tiny_finish(void *state, deja_world *w, deja_summary *s) {
    (void)w;
    tiny_oracle *o = state;
    deja_summary_set(s, "ticks", "%llu", (unsigned long long)o->ticks);
    if (o->gaps) deja_summary_fail(s, "gap");
}

static const deja_oracle_ops tiny_ops = {"tiny", tiny_on_fact, tiny_finish, free};

static const deja_param_def tiny_params[] = {
    {"tiny.nodes", "3", "nodes"},
    {"tiny.bug", "none", "none, exit, oom or skip"},
    {NULL, NULL, NULL},
};

static int tiny_setup(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t n;
    if (deja_params_i64(p, "tiny.nodes", 1, 8, &n, err, errlen)) return 2;
    for (int64_t i = 0; i < n; i++) assert_true(deja_node_add(w, "tiny", 0, 0) >= 0);
    deja_world_set_duration(w, 10 * RT_SEC);
    tiny_oracle *o = calloc(1, sizeof *o);
    assert_non_null(o);
    deja_world_add_oracle(w, &tiny_ops, o);
    return 0;
}

static const deja_scenario tiny_scenario = {"tiny", "a team's own node", tiny_params, tiny_setup, NULL};

/* Runs the tiny scenario with sets; the text trace goes to *trace when set. */
static int run_tiny(const char *const *sets, deja_summary *s, char **trace) {
    const deja_scenario *sc = deja_scenario_find("tiny");
    assert_non_null(sc);
    deja_params *ov = deja_params_new();
    char err[256];
    for (; sets && *sets; sets++) assert_int_equal(deja_params_parse(ov, *sets, err, sizeof err), 0);
    size_t len = 0;
    FILE *t = trace ? open_memstream(trace, &len) : NULL;
    deja_run_opts o = {.trace = t};
    int rc = deja_run(sc, 1, ov, &o, s, err, sizeof err);
    if (t) fclose(t);
    deja_params_free(ov);
    return rc;
}

static void test_own_node_ok_and_named_facts(void **state) {
    (void)state;
    deja_summary s;
    char *trace = NULL;
    assert_int_equal(run_tiny(NULL, &s, &trace), 0);
    assert_string_equal(deja_summary_get(&s, "verdict"), "ok");
    assert_true(atol(deja_summary_get(&s, "ticks")) >= 3 * 90);
    assert_non_null(strstr(trace, " fact tick.done "));
    free(trace);
    assert_string_equal(rt_fact_kind_name(rt_fact_kind_named("tick.done")), "tick.done");
    assert_true(rt_fact_kind_named("tick.done") >= RT_FACT_NAMED_MIN);
    assert_string_equal(rt_fact_kind_name(RT_FACT_CONFIRMED), "confirmed");
    assert_null(rt_fact_kind_name(RT_FACT_NAMED_MIN - 1));
}

static void test_own_oracle_fails_the_run(void **state) {
    (void)state;
    deja_summary s;
    const char *sets[] = {"tiny.bug=skip", NULL};
    assert_int_equal(run_tiny(sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "gap");
}

static void test_generic_exit(void **state) {
    (void)state;
    deja_summary s;
    const char *sets[] = {"tiny.bug=exit", NULL};
    assert_int_equal(run_tiny(sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "exit");
    assert_int_equal(atol(deja_summary_get(&s, "exits")), 3);
}

static void test_generic_crash_loop(void **state) {
    (void)state;
    deja_summary s;
    const char *sets[] = {"tiny.bug=exit", "fault.restart_on_exit=1", "fault.restart_ms=100",
                          "fault.crash_loop_max=3", NULL};
    assert_int_equal(run_tiny(sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "crash_loop");
    const char *calm[] = {"tiny.bug=exit", "fault.restart_on_exit=1", "fault.restart_ms=100",
                          "fault.crash_loop_max=100", NULL};
    assert_int_equal(run_tiny(calm, &s, NULL), 0);
}

static void test_generic_oom(void **state) {
    (void)state;
    deja_summary s;
    const char *sets[] = {"tiny.bug=oom", "mem.limit_mb=16", NULL};
    assert_int_equal(run_tiny(sets, &s, NULL), 1);
    assert_string_equal(deja_summary_get(&s, "verdict"), "oom");
    assert_true(atol(deja_summary_get(&s, "oom_kills")) >= 1);
    const char *roomy[] = {"tiny.bug=oom", "mem.limit_mb=4096", NULL};
    assert_int_equal(run_tiny(roomy, &s, NULL), 0);
}

static void test_replay_command_names_the_tool(void **state) {
    (void)state;
    char buf[256];
    deja_params *ov = deja_params_new();
    deja_params_set(ov, "tiny.bug", "exit");
    deja_set_tool_name("./mynode");
    deja_replay_command("tiny", 9, ov, buf, sizeof buf);
    assert_string_equal(buf, "./mynode run tiny --seed 9 --set tiny.bug=exit");
    deja_set_tool_name("deja");
    deja_params_free(ov);
}

int main(void) {
    rt_program_register("tiny", tiny_main);
    deja_scenario_register(&tiny_scenario);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_node_ok_and_named_facts),
        cmocka_unit_test(test_own_oracle_fails_the_run),
        cmocka_unit_test(test_generic_exit),
        cmocka_unit_test(test_generic_crash_loop),
        cmocka_unit_test(test_generic_oom),
        cmocka_unit_test(test_replay_command_names_the_tool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
