/*
 * cli_args.c -- the flag-table walker (deja_cli_parse) and the number
 * parsing, output files and run targets shared by the `deja` subcommands
 * (see cli_args.h). Every error goes through deja_cli_usage_error, so
 * each names the flag and value at fault.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/outfile.h"

int deja_cli_is_help(const char *arg) {
    return !strcmp(arg, "-h") || !strcmp(arg, "--help") || !strcmp(arg, "help");
}

int deja_cli_u32_pair(const char *cmd, const char *flag, const char *val, uint32_t *a, uint32_t *b) {
    const char *slash = strchr(val, '/');
    char left[32];
    uint64_t x, y;
    size_t n = slash ? (size_t)(slash - val) : 0;
    if (!slash || n == 0 || n >= sizeof left)
        return deja_cli_usage_error(cmd, "%s '%s': expected I/K", flag, val);
    memcpy(left, val, n);
    left[n] = 0;
    if (deja_parse_u64(left, &x) || deja_parse_u64(slash + 1, &y) || x > UINT32_MAX || y > UINT32_MAX)
        return deja_cli_usage_error(cmd, "%s '%s': expected I/K, two integers up to %u", flag, val, UINT32_MAX);
    *a = (uint32_t)x;
    *b = (uint32_t)y;
    return 0;
}

int deja_cli_u64(const char *cmd, const char *flag, const char *val, uint64_t lo, uint64_t hi, uint64_t *out) {
    uint64_t v;
    if (deja_parse_u64(val, &v)) {
        size_t digits = strspn(val, "0123456789");
        if (digits && !val[digits]) /* only digits: it overflows */
            return deja_cli_usage_error(cmd, "%s '%s': too large (at most %llu)", flag, val, (unsigned long long)hi);
        return deja_cli_usage_error(cmd, "%s '%s': not an unsigned integer", flag, val);
    }
    if (v < lo || v > hi)
        return deja_cli_usage_error(cmd, "%s '%s': must be between %llu and %llu", flag, val,
                                    (unsigned long long)lo, (unsigned long long)hi);
    *out = v;
    return 0;
}

/* Parses val as a signed integer in [lo, hi] for flag: 0, or 2 after a
 * usage error naming the flag and value. */
static int cli__i64(const char *cmd, const char *flag, const char *val, int64_t lo, int64_t hi, int64_t *out) {
    int64_t v;
    if (deja_parse_i64(val, &v)) return deja_cli_usage_error(cmd, "%s '%s': not an integer", flag, val);
    if (v < lo || v > hi)
        return deja_cli_usage_error(cmd, "%s '%s': must be between %lld and %lld", flag, val, (long long)lo,
                                    (long long)hi);
    *out = v;
    return 0;
}

/* Adds key=value val of flag to over: 0, or 2 after a usage error. */
static int cli__set(const char *cmd, const char *flag, const char *val, deja_params *over) {
    char perr[256];
    assert(over);
    if (!strchr(val, '=') || val[0] == '=') return deja_cli_usage_error(cmd, "%s '%s': expected key=value", flag, val);
    if (deja_params_parse(over, val, perr, sizeof perr)) return deja_cli_usage_error(cmd, "%s: %s", flag, perr);
    return 0;
}

/* Stores val (given for row o, spelt flag) at dest as o's kind says: 0, or
 * 2 after a usage error naming flag. */
static int cli__store(const char *cmd, const deja_cli_opt *o, const char *flag, const char *val, void *dest) {
    switch (o->kind) {
    case DEJA_CLI_STR:
        *(const char **)dest = val;
        return 0;
    case DEJA_CLI_U64:
        return deja_cli_u64(cmd, flag, val, o->lo, o->hi, dest);
    case DEJA_CLI_I64:
        return cli__i64(cmd, flag, val, o->ilo, o->ihi, dest);
    case DEJA_CLI_SET:
        return cli__set(cmd, flag, val, *(deja_params **)dest);
    case DEJA_CLI_FN:
        assert(o->parse);
        return o->parse(cmd, o->name, val, dest);
    case DEJA_CLI_BOOL:
    case DEJA_CLI_REST:
        break;
    }
    assert(!"a BOOL or REST row has no value to store");
    return 2;
}

/* The most rows a command's tables may hold (the size of the walk's
 * given-already marks). */
#define CLI__MAX_ROWS 64

/* The row of spec spelt a[0..len) (its name or alias), or NULL; its
 * destination in *dest (opts plus the offsets), its index over all the
 * tables in *k and the spelling matched in *flag. */
static const deja_cli_opt *cli__find(const deja_cli_spec *spec, void *opts, const char *a, size_t len, void **dest,
                                     int *k, const char **flag) {
    int idx = 0;
    for (const deja_cli_table *t = spec->tables; t->rows; t++) {
        for (const deja_cli_opt *o = t->rows; o->name; o++, idx++) {
            const char *hit = NULL;
            if (strlen(o->name) == len && !strncmp(o->name, a, len)) hit = o->name;
            if (o->alias && strlen(o->alias) == len && !strncmp(o->alias, a, len)) hit = o->alias;
            if (!hit) continue;
            *dest = (char *)opts + t->base + o->off;
            *k = idx;
            *flag = hit;
            return o;
        }
    }
    assert(idx <= CLI__MAX_ROWS);
    return NULL;
}

/* Takes the positional argument a of spec: 0, or 2 when there is no room. */
static int cli__positional(const deja_cli_spec *spec, const char *a, const char **pos, int *npos) {
    if (*npos < spec->max_pos) {
        pos[(*npos)++] = a;
        return 0;
    }
    if (spec->pos_name && *npos > 0)
        return deja_cli_usage_error(spec->cmd, "unexpected argument '%s' (the %s is '%s')", a, spec->pos_name, pos[0]);
    if (spec->pos_note) return deja_cli_usage_error(spec->cmd, "unexpected argument '%s' (%s)", a, spec->pos_note);
    return deja_cli_usage_error(spec->cmd, "unexpected argument '%s'", a);
}

int deja_cli_parse(const deja_cli_spec *spec, int argc, char **argv, void *opts, const char **pos, int *npos) {
    assert(spec && spec->cmd && spec->tables && opts && npos && (pos || spec->max_pos == 0));
    unsigned char given[CLI__MAX_ROWS] = {0};
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (deja_cli_is_help(a)) {
            if (spec->help) spec->help(stdout);
            return DEJA_CLI_HELP;
        }
        int is_flag = a[0] == '-' && (spec->long_only ? a[1] == '-' : a[1] != 0);
        if (!is_flag) {
            if (cli__positional(spec, a, pos, npos)) return 2;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        void *dest = NULL;
        int k = 0;
        const char *flag = NULL;
        const deja_cli_opt *o = cli__find(spec, opts, a, len, &dest, &k, &flag);
        bool valueless = o && (o->kind == DEJA_CLI_BOOL || o->kind == DEJA_CLI_REST);
        if (!o || (valueless && eq)) return deja_cli_usage_error(spec->cmd, "unknown flag '%s'", a);
        assert(k < CLI__MAX_ROWS);
        if (o->kind == DEJA_CLI_REST) {
            *(int *)dest = i;
            return 0;
        }
        if (o->kind == DEJA_CLI_BOOL) {
            *(bool *)dest = true;
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (i + 1 >= argc) {
            return deja_cli_usage_error(spec->cmd, "%s needs a value", flag);
        } else {
            val = argv[++i];
        }
        if (given[k] && o->kind != DEJA_CLI_SET && !o->repeat)
            return deja_cli_usage_error(spec->cmd, "%s given twice (it takes one value)", flag);
        given[k] = 1;
        if (!*val) return deja_cli_usage_error(spec->cmd, "%s '': an empty value", flag);
        if (cli__store(spec->cmd, o, flag, val, dest)) return 2;
    }
    return 0;
}

const deja_cli_opt deja_cli_scenario_rows[] = {
    {.name = "--seed", .kind = DEJA_CLI_STR, .off = offsetof(deja_cli_scenario_flags, seed), .metavar = "N",
     .help = "the seed (an unsigned 64-bit decimal integer)"},
    {.name = "--set", .kind = DEJA_CLI_SET, .off = offsetof(deja_cli_scenario_flags, over), .metavar = "key=value",
     .help = "override a scenario parameter (repeatable; see\n'deja scenarios' for the parameters and defaults)"},
    {0},
};

void deja_cli_help_flags(FILE *out, const deja_cli_spec *spec, int width) {
    assert(width > 0);
    for (const deja_cli_table *t = spec->tables; t->rows; t++) {
        for (const deja_cli_opt *o = t->rows; o->name; o++) {
            if (!o->help) continue;
            char label[128];
            snprintf(label, sizeof label, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
            int len = (int)strlen(label);
            fprintf(out, "  %s%*s", label, len + 2 <= width ? width - len : 2, "");
            for (const char *h = o->help; *h;) {
                size_t n = strcspn(h, "\n");
                fprintf(out, "%.*s\n", (int)n, h);
                h += n;
                if (*h) fprintf(out, "%*s", 2 + width, ""), h++;
            }
        }
    }
}

int deja_cli_parse_scenario(const deja_cli_spec *spec, int argc, char **argv, void *opts, deja_cli_scenario_flags *sc,
                            const char **first) {
    assert(spec->max_pos == 1);
    int npos = 0;
    *first = NULL;
    sc->over = deja_params_new();
    int rc = deja_cli_parse(spec, argc, argv, opts, first, &npos);
    if (rc == DEJA_CLI_HELP) {
        deja_params_free(sc->over);
        sc->over = NULL;
    }
    return rc;
}

const deja_cli_opt deja_cli_debug_rows[] = {
    {.name = "--trace", .kind = DEJA_CLI_STR, .off = offsetof(deja_cli_debug_flags, trace), .metavar = "FILE",
     .help = "write every event of the run to FILE, one a line"},
    {.name = "--dump-tasks", .kind = DEJA_CLI_BOOL, .off = offsetof(deja_cli_debug_flags, dump_tasks),
     .help = "print every live task at the end of the run\n(stderr; a failing run prints it anyway, with any\n"
             "OOM report and the detectors' report)"},
    {.name = "--break-at-event", .kind = DEJA_CLI_U64, .off = offsetof(deja_cli_debug_flags, break_at), .lo = 1,
     .hi = UINT64_MAX, .metavar = "N",
     .help = "call deja_break() when event #N (the text trace's\n"
             "numbers) happens: run under gdb with 'break deja_break'"},
    {.name = "--break-on-verdict", .kind = DEJA_CLI_BOOL, .off = offsetof(deja_cli_debug_flags, break_verdict),
     .help = "call deja_break() where an oracle first sees its\ninvariant break (violation_event), inside the\n"
             "task that reported it (docs/debugging.md)"},
    {0},
};

int deja_cli_dir_writable(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return access(".", W_OK | X_OK) == 0;
    if (slash == path) return access("/", W_OK | X_OK) == 0;
    char *dir = strndup(path, (size_t)(slash - path));
    int ok = dir && access(dir, W_OK | X_OK) == 0;
    free(dir);
    return ok;
}

struct deja_outfile *deja_cli_outfile(const char *cmd, const char *flag, const char *path, int *rc) {
    if (*rc || !path) return NULL;
    deja_outfile *o = deja_outfile_open(path);
    if (!o) *rc = deja_cli_usage_error(cmd, "%s '%s': %s", flag, path, strerror(errno));
    return o;
}

int deja_cli_commit(const char *cmd, const char *flag, struct deja_outfile *o, int rc) {
    if (!o) return rc;
    if (rc == 2) {
        deja_outfile_abort(o);
        return rc;
    }
    char *path = strdup(o->path);
    if (deja_outfile_commit(o)) rc = deja_cli_usage_error(cmd, "%s '%s': %s", flag, path, strerror(errno));
    free(path);
    return rc;
}

int deja_cli_target_resolve(const char *cmd, const char *first, const char *seed_s, const deja_params *over,
                            deja_cli_target *t) {
    memset(t, 0, sizeof *t);
    size_t len = strlen(first);
    t->from_file = !seed_s && len > 5 && !strcmp(first + len - 5, ".seed");
    if (t->from_file) {
        char err[512];
        if (deja_params_count(over))
            return deja_cli_usage_error(cmd, "--set goes with SCENARIO --seed N, not a seed file");
        if (deja_seedfile_load(first, &t->sf, err, sizeof err)) return deja_cli_usage_error(cmd, "%s", err);
        if (!(t->sc = deja_scenario_find(t->sf.scenario)))
            return deja_cli_usage_error(cmd, "%s: unknown scenario '%s' in this binary (its 'scenarios' lists them; the seed file's first line names the binary that replays it)",
                                       first, t->sf.scenario);
        t->seed = t->sf.seed;
        return 0;
    }
    if (!(t->sc = deja_scenario_find(first)))
        return deja_cli_usage_error(cmd, "unknown scenario '%s'; 'deja scenarios' lists them", first);
    if (!seed_s) return deja_cli_usage_error(cmd, "missing --seed N");
    if (deja_parse_u64(seed_s, &t->seed))
        return deja_cli_usage_error(cmd, "--seed '%s': not an unsigned 64-bit integer", seed_s);
    return 0;
}
