/*
 * cmd_diff.c -- `deja diff A B`: the first event where two runs part ways.
 *
 * Each side is a seed file (run again), a text trace (read as it is), or a
 * run's arguments in one word ("raft --seed 7 --set raft.sync=0"). Runs
 * write their text traces to unnamed temporary files; the comparison then
 * streams both (deja_diff_traces), so its memory does not grow with the
 * length of the runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/debug.h"


static void diff__help(FILE *out) {
    fprintf(out,
            "usage: deja diff A B [--context N]\n\n"
            "Compares two runs event by event and names the first event where they\n"
            "differ: its number, virtual time, node, task and kind, both versions\n"
            "and the events just before it. Runs that agree say so. Each of A and B\n"
            "is one of:\n"
            "  FILE.seed                a seed file, run again\n"
            "  FILE                     a text trace ('deja run ... --trace FILE')\n"
            "  'SCENARIO --seed N [--set key=value]...'\n"
            "                           a run's arguments, as one argument\n\n");
    deja_cli_help_flags(out, &deja_diff_spec, 14);
    fprintf(out, "\nTypical uses: a pinned seed whose hash changed after a code change\n"
            "(diff the seed file against a trace saved before), the same seed under\n"
            "two parameter values, or traces from two builds. The comparison\n"
            "streams: memory does not grow with the length of the traces.\n\n"
            "exit status: 0 the runs agree; 1 they differ; 2 bad input.\n");
}

/* One side: opens its trace (running it when it is a seed file or run
 * arguments). 0, or 2 after a usage error. */
static int diff__side(const char *spec, const char *name, FILE **trace, deja_summary *s, int *ran) {
    struct stat st;
    char err[512] = "";
    *ran = 0;
    size_t len = strlen(spec);
    int is_seed = len > 5 && !strcmp(spec + len - 5, ".seed");
    if (!is_seed && stat(spec, &st) == 0) {
        if (!(*trace = fopen(spec, "r"))) return deja_cli_usage_error("diff", "%s '%s': %s", name, spec, strerror(errno));
        return 0;
    }
    FILE *t = tmpfile();
    if (!t) return deja_cli_usage_error("diff", "temporary file: %s", strerror(errno));
    deja_run_opts o = {.trace = t, .dump_out = NULL};
    int rc;
    if (is_seed) {
        rc = deja_replay(spec, &o, s, err, sizeof err);
        if (rc == 1) rc = 0; /* a mismatch is what diff is for */
    } else {
        /* SCENARIO --seed N [--set k=v]... */
        char *copy = strdup(spec), *save = NULL;
        const deja_scenario *sc = NULL;
        uint64_t seed = 0;
        int have_seed = 0;
        deja_params *over = deja_params_new();
        rc = 0;
        for (char *tok = strtok_r(copy, " \t", &save); tok && !rc; tok = strtok_r(NULL, " \t", &save)) {
            if (!strcmp(tok, "--seed")) {
                char *v = strtok_r(NULL, " \t", &save);
                if (!v || deja_parse_u64(v, &seed)) rc = deja_cli_usage_error("diff", "%s '%s': bad --seed", name, spec);
                have_seed = 1;
            } else if (!strcmp(tok, "--set")) {
                char *v = strtok_r(NULL, " \t", &save);
                char perr[256];
                if (!v || !strchr(v, '=') || deja_params_parse(over, v, perr, sizeof perr))
                    rc = deja_cli_usage_error("diff", "%s '%s': bad --set", name, spec);
            } else if (!sc && tok[0] != '-') {
                if (!(sc = deja_scenario_find(tok)))
                    rc = deja_cli_usage_error("diff", "%s '%s': not a file, and no scenario '%s'", name, spec, tok);
            } else {
                rc = deja_cli_usage_error("diff", "%s '%s': unexpected '%s' (want SCENARIO --seed N [--set k=v]...)",
                                          name, spec, tok);
            }
        }
        if (!rc && (!sc || !have_seed))
            rc = deja_cli_usage_error("diff", "%s '%s': not a file; as a run it needs SCENARIO --seed N", name, spec);
        if (!rc) {
            rc = deja_run(sc, seed, over, &o, s, err, sizeof err);
            if (rc == 1) rc = 0;
        }
        deja_params_free(over);
        free(copy);
        if (rc == 2 && err[0]) deja_cli_usage_error("diff", "%s '%s': %s", name, spec, err);
        if (rc) {
            fclose(t);
            return 2;
        }
    }
    if (rc) {
        fclose(t);
        return deja_cli_usage_error("diff", "%s '%s': %s", name, spec, err);
    }
    fflush(t);
    rewind(t);
    *trace = t;
    *ran = 1;
    return 0;
}

/* Everything `deja diff` is given, filled by its flag table. */
typedef struct diff__opts {
    uint64_t context;
} diff__opts;

static const deja_cli_opt diff__rows[] = {
    {.name = "--context", .kind = DEJA_CLI_U64, .off = offsetof(diff__opts, context), .lo = 0, .hi = 64,
     .metavar = "N", .help = "events shown before the difference (default 8, at most 64)"},
    {0},
};

static const deja_cli_table diff__tables[] = {{diff__rows, 0}, {0}};

/* Only "--" words are flags: "-x" is a side (and then not a file or run). */
const deja_cli_spec deja_diff_spec = {
    .cmd = "diff", .help = diff__help, .tables = diff__tables, .max_pos = 2, .pos_note = "compare two runs", .long_only = true};

int deja_cmd_diff(int argc, char **argv) {
    diff__opts a = {.context = 8};
    const char *side[2] = {NULL, NULL};
    int n = 0;
    int rc = deja_cli_parse(&deja_diff_spec, argc, argv, &a, side, &n);
    if (rc == DEJA_CLI_HELP) return 0;
    uint64_t ctx = a.context;
    if (!rc && n < 2) rc = deja_cli_usage_error("diff", "need two runs: A and B");
    if (rc) return rc;
    FILE *ta = NULL, *tb = NULL;
    deja_summary sa, sb;
    deja_summary_clear(&sa);
    deja_summary_clear(&sb);
    int ran_a = 0, ran_b = 0;
    if (diff__side(side[0], "A", &ta, &sa, &ran_a)) return 2;
    if (diff__side(side[1], "B", &tb, &sb, &ran_b)) {
        fclose(ta);
        return 2;
    }
    const char *labels[2] = {"A", "B"};
    const deja_summary *ss[2] = {&sa, &sb};
    int ran[2] = {ran_a, ran_b};
    for (int k = 0; k < 2; k++) {
        if (ran[k])
            printf("%s: %s  (verdict %s, trace_hash %s, %s events)\n", labels[k], side[k],
                   deja_summary_get(ss[k], "verdict"), deja_summary_get(ss[k], "trace_hash"),
                   deja_summary_get(ss[k], "events"));
        else
            printf("%s: %s  (trace file)\n", labels[k], side[k]);
    }
    deja_diff_result r;
    rc = deja_diff_traces(ta, tb, (int)ctx, stdout, &r);
    if (rc == 0) printf("the runs agree: %" PRIu64 " trace lines, the same in both\n", r.lines_a);
    if (rc == 2) rc = deja_cli_usage_error("diff", "reading the traces: %s", strerror(errno));
    fclose(ta);
    fclose(tb);
    return rc;
}
