/*
 * seedfile.c -- seed files: the runs worth keeping (seeds/NAME.seed), and their
 * replay.
 *
 * A seed file is text, one `key = value` a line, '#' comments and blank lines
 * allowed (see deja.h). The parser is strict on purpose: a seed file is a
 * regression test, and a typo that silently changed what it runs would make
 * it test nothing. Every error names the file and line. deja_replay loads a
 * file, runs its scenario with its seed and overrides through deja_run and
 * compares the verdict and trace hash with the recorded ones.
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "deja/deja.h"
#include "deja/outfile.h"
#include "deja/world.h"

#define SEEDFILE__LINE_MAX 1024
#define SEEDFILE__MAX_SETS 256

/* Where each key was found, so that later checks (replay) can name the line. */
typedef struct seedfile__lines {
    int scenario, seed, verdict, trace_hash, plan;
    int nsets;
    int set[SEEDFILE__MAX_SETS];
    int last; /* number of lines read */
} seedfile__lines;

int deja_parse_u64(const char *s, uint64_t *out) {
    if (!s || !isdigit((unsigned char)*s)) return 2;
    uint64_t v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) return 2;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return 2;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Formats an error "path:line: message" into err; returns 2. */
__attribute__((format(printf, 5, 6))) static int seedfile__err(char *err, size_t errlen, const char *path,
                                                               int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (err && errlen) snprintf(err, errlen, "%s:%d: %s", path, line, msg);
    return 2;
}

/* Strips leading and trailing white space in place; returns the start. */
static char *seedfile__trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* A verdict is a non-empty word of letters, digits, '_', '-' and '.'. */
static int seedfile__is_word(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return 0;
    return 1;
}

/* Loads path into out, recording the line of every key in ln. 0, or 2 with
 * err naming file and line; on 2, out holds nothing to free. */
static int seedfile__load(const char *path, deja_seedfile *out, seedfile__lines *ln, char *err,
                          size_t errlen) {
    memset(out, 0, sizeof *out);
    memset(ln, 0, sizeof *ln);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return 2;
    }
    out->overrides = deja_params_new();
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    while ((got = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        if (n > SEEDFILE__LINE_MAX + 1 || (n == SEEDFILE__LINE_MAX + 1 && buf[n - 1] != '\n')) {
            rc = seedfile__err(err, errlen, path, lineno, "line longer than %d bytes", SEEDFILE__LINE_MAX);
            break;
        }
        /* A seed file is text: a NUL (which would hide the rest of the line)
         * or another control byte is refused, not skipped. */
        size_t bad = 0;
        while (bad < n && ((unsigned char)buf[bad] >= 0x20 || buf[bad] == '\t' || buf[bad] == '\n' ||
                           (buf[bad] == '\r' && bad + 2 == n && buf[n - 1] == '\n')) &&
               buf[bad] != 0x7f)
            bad++;
        if (bad < n) {
            rc = seedfile__err(err, errlen, path, lineno, "%s byte 0x%02x at column %zu (a seed file is text)",
                               buf[bad] ? "control" : "NUL", (unsigned char)buf[bad], bad + 1);
            break;
        }
        char *s = seedfile__trim(buf);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = seedfile__err(err, errlen, path, lineno, "expected 'key = value', got '%s'", s);
            break;
        }
        *eq = 0;
        char *key = seedfile__trim(s);
        char *val = seedfile__trim(eq + 1);
        if (!*val) {
            rc = seedfile__err(err, errlen, path, lineno, "empty value for '%s'", key);
            break;
        }
        if (!strcmp(key, "scenario")) {
            if (ln->scenario) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate 'scenario' (first on line %d)",
                                   ln->scenario);
                break;
            }
            if (strlen(val) >= sizeof out->scenario || !seedfile__is_word(val)) {
                rc = seedfile__err(err, errlen, path, lineno, "bad scenario name '%s'", val);
                break;
            }
            snprintf(out->scenario, sizeof out->scenario, "%s", val);
            ln->scenario = lineno;
        } else if (!strcmp(key, "seed")) {
            if (ln->seed) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate 'seed' (first on line %d)", ln->seed);
                break;
            }
            if (deja_parse_u64(val, &out->seed)) {
                rc = seedfile__err(err, errlen, path, lineno,
                                   "bad seed '%s' (want an unsigned 64-bit decimal integer)", val);
                break;
            }
            ln->seed = lineno;
        } else if (!strcmp(key, "set")) {
            char *veq = strchr(val, '=');
            if (!veq || veq == val) {
                rc = seedfile__err(err, errlen, path, lineno, "bad override '%s' (want set = key=value)", val);
                break;
            }
            char pkey[128];
            size_t klen = (size_t)(veq - val);
            if (klen >= sizeof pkey) {
                rc = seedfile__err(err, errlen, path, lineno, "override key too long");
                break;
            }
            memcpy(pkey, val, klen);
            pkey[klen] = 0;
            char *k = seedfile__trim(pkey), *v = seedfile__trim(veq + 1);
            if (!*k || !*v) {
                rc = seedfile__err(err, errlen, path, lineno, "bad override '%s' (want set = key=value)", val);
                break;
            }
            if (deja_params_get(out->overrides, k)) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate override of '%s'", k);
                break;
            }
            if (ln->nsets >= SEEDFILE__MAX_SETS) {
                rc = seedfile__err(err, errlen, path, lineno, "more than %d overrides", SEEDFILE__MAX_SETS);
                break;
            }
            if (deja_params_set(out->overrides, k, v)) {
                rc = seedfile__err(err, errlen, path, lineno, "override '%s' too long", k);
                break;
            }
            ln->set[ln->nsets++] = lineno;
        } else if (!strcmp(key, "verdict")) {
            if (ln->verdict) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate 'verdict' (first on line %d)",
                                   ln->verdict);
                break;
            }
            if (strlen(val) >= sizeof out->verdict || !seedfile__is_word(val)) {
                rc = seedfile__err(err, errlen, path, lineno, "bad verdict '%s'", val);
                break;
            }
            snprintf(out->verdict, sizeof out->verdict, "%s", val);
            ln->verdict = lineno;
        } else if (!strcmp(key, "trace_hash")) {
            if (ln->trace_hash) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate 'trace_hash' (first on line %d)",
                                   ln->trace_hash);
                break;
            }
            int ok = strlen(val) == 16;
            for (int i = 0; ok && i < 16; i++) ok = isxdigit((unsigned char)val[i]);
            if (!ok) {
                rc = seedfile__err(err, errlen, path, lineno, "bad trace_hash '%s' (want 16 hex digits)", val);
                break;
            }
            for (int i = 0; i < 16; i++) out->trace_hash[i] = (char)tolower((unsigned char)val[i]);
            out->trace_hash[16] = 0;
            ln->trace_hash = lineno;
        } else if (!strcmp(key, "plan")) {
            if (ln->plan) {
                rc = seedfile__err(err, errlen, path, lineno, "duplicate 'plan' (first on line %d)", ln->plan);
                break;
            }
            if (strcmp(val, "given")) {
                rc = seedfile__err(err, errlen, path, lineno, "bad plan '%s' (want plan = given)", val);
                break;
            }
            if (!out->plan) out->plan = deja_plan_new();
            ln->plan = lineno;
        } else if (!strcmp(key, "fault")) {
            char perr[256];
            if (!out->plan) out->plan = deja_plan_new();
            if (deja_plan_parse_add(out->plan, val, perr, sizeof perr)) {
                rc = seedfile__err(err, errlen, path, lineno, "%s", perr);
                break;
            }
        } else {
            rc = seedfile__err(err, errlen, path, lineno,
                               "unknown key '%s' (want scenario, seed, set, plan, fault, verdict or trace_hash)", key);
            break;
        }
    }
    if (!rc && ferror(f)) {
        if (err && errlen) snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = 2;
    }
    free(buf);
    fclose(f);
    ln->last = lineno;
    if (!rc) {
        /* A missing key is reported at the end of the file, where it was due. */
        int at = lineno ? lineno : 1;
        if (!ln->scenario) rc = seedfile__err(err, errlen, path, at, "missing 'scenario = NAME'");
        else if (!ln->seed) rc = seedfile__err(err, errlen, path, at, "missing 'seed = N'");
        else if (!ln->verdict) rc = seedfile__err(err, errlen, path, at, "missing 'verdict = ...'");
        else if (!ln->trace_hash) rc = seedfile__err(err, errlen, path, at, "missing 'trace_hash = ...'");
    }
    if (rc) deja_seedfile_free(out);
    return rc;
}

int deja_seedfile_load(const char *path, deja_seedfile *out, char *err, size_t errlen) {
    seedfile__lines ln;
    assert(path && out);
    return seedfile__load(path, out, &ln, err, errlen);
}

void deja_seedfile_free(deja_seedfile *sf) {
    if (!sf) return;
    deja_params_free(sf->overrides);
    sf->overrides = NULL;
    deja_plan_free(sf->plan);
    sf->plan = NULL;
}

/* True when a value survives the trip through a seed file unchanged. */
static int seedfile__roundtrips(const char *s) {
    size_t n = strlen(s);
    if (!n || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1])) return 0;
    return strpbrk(s, "\r\n") == NULL;
}

int deja_seedfile_write(const char *path, const char *scenario, uint64_t seed,
                        const deja_params *overrides, const deja_summary *s) {
    return deja_seedfile_write_plan(path, scenario, seed, overrides, NULL, s);
}

int deja_seedfile_write_plan(const char *path, const char *scenario, uint64_t seed,
                             const deja_params *overrides, const deja_plan *plan, const deja_summary *s) {
    assert(path && scenario && s);
    const char *verdict = deja_summary_get(s, "verdict");
    const char *hash = deja_summary_get(s, "trace_hash");
    if (!verdict || !hash || !seedfile__is_word(scenario) || !seedfile__is_word(verdict) ||
        strlen(hash) != 16) {
        errno = EINVAL;
        return 2;
    }
    for (int i = 0; i < deja_params_count(overrides); i++) {
        const char *k = deja_params_key(overrides, i), *v = deja_params_val(overrides, i);
        if (!seedfile__roundtrips(k) || strchr(k, '=') || !seedfile__roundtrips(v)) {
            errno = EINVAL;
            return 2;
        }
    }
    deja_outfile *o = deja_outfile_open(path);
    if (!o) return 2;
    FILE *f = o->f;
    char cmd[1024];
    deja_replay_command(scenario, seed, overrides, cmd, sizeof cmd);
    fprintf(f, "# deja seed file: check with `%s replay %s`\n", deja_tool_name(), path);
    fprintf(f, "# the run: %s%s\n", cmd, plan ? " (with only the faults listed below)" : "");
    const char *ev = deja_summary_get(s, "events"), *sim = deja_summary_get(s, "sim_ns");
    if (ev && sim) fprintf(f, "# it had events=%s sim_ns=%s\n", ev, sim);
    fprintf(f, "scenario = %s\nseed = %llu\n", scenario, (unsigned long long)seed);
    for (int i = 0; i < deja_params_count(overrides); i++)
        fprintf(f, "set = %s=%s\n", deja_params_key(overrides, i), deja_params_val(overrides, i));
    if (plan) {
        char line[8192];
        fprintf(f, "plan = given\n");
        for (size_t i = 0; i < deja_plan_count(plan); i++) {
            deja_plan_entry e = *deja_plan_get(plan, i);
            if (!e.enabled) continue;
            deja_plan_format(&e, line, sizeof line);
            fprintf(f, "fault = %s\n", line);
        }
    }
    fprintf(f, "verdict = %s\ntrace_hash = %s\n", verdict, hash);
    return deja_outfile_commit(o) ? 2 : 0;
}

int deja_replay(const char *path, const deja_run_opts *opts, deja_summary *out, char *err,
                size_t errlen) {
    deja_seedfile sf;
    seedfile__lines ln;
    assert(path && out);
    deja_summary_clear(out);
    int rc = seedfile__load(path, &sf, &ln, err, errlen);
    if (rc) return rc;
    const deja_scenario *sc = deja_scenario_find(sf.scenario);
    if (!sc) {
        rc = seedfile__err(err, errlen, path, ln.scenario,
                           "unknown scenario '%s' in this binary (its 'scenarios' lists them; the seed "
                           "file's first line names the binary that replays it)",
                           sf.scenario);
        goto out;
    }
    /* Check each override alone, so that an unknown key names its line. */
    for (int i = 0; i < deja_params_count(sf.overrides); i++) {
        deja_params *one = deja_params_new(), *merged = NULL;
        deja_params_set(one, deja_params_key(sf.overrides, i), deja_params_val(sf.overrides, i));
        char perr[256];
        int prc = deja_scenario_params(sc, one, &merged, perr, sizeof perr);
        deja_params_free(one);
        deja_params_free(merged);
        if (prc) {
            rc = seedfile__err(err, errlen, path, ln.set[i], "%s", perr);
            goto out;
        }
    }
    char rerr[512] = "";
    deja_run_opts o = {0};
    if (opts) o = *opts;
    if (sf.plan) o.plan = sf.plan;
    rc = deja_run(sc, sf.seed, sf.overrides, &o, out, rerr, sizeof rerr);
    if (rc == 2) {
        /* A bad value: name the line of the override the message mentions. */
        int at = ln.scenario;
        for (int i = 0; i < deja_params_count(sf.overrides); i++)
            if (strstr(rerr, deja_params_key(sf.overrides, i))) at = ln.set[i];
        seedfile__err(err, errlen, path, at, "%s", rerr);
        goto out;
    }
    const char *verdict = deja_summary_get(out, "verdict");
    const char *hash = deja_summary_get(out, "trace_hash");
    int vok = verdict && !strcmp(verdict, sf.verdict);
    int hok = hash && !strcasecmp(hash, sf.trace_hash);
    deja_summary_set(out, "expected_verdict", "%s", sf.verdict);
    deja_summary_set(out, "expected_trace_hash", "%s", sf.trace_hash);
    deja_summary_set(out, "match", "%s", vok && hok ? "yes" : "no");
    if (vok && hok) {
        rc = 0;
        if (err && errlen) err[0] = 0;
    } else {
        rc = 1;
        if (err && errlen) {
            if (!vok && !hok)
                snprintf(err, errlen, "%s: verdict %s (expected %s) and trace_hash %s (expected %s) differ",
                         path, verdict ? verdict : "?", sf.verdict, hash ? hash : "?", sf.trace_hash);
            else if (!vok)
                snprintf(err, errlen, "%s: verdict %s differs from expected %s", path, verdict ? verdict : "?",
                         sf.verdict);
            else
                snprintf(err, errlen, "%s: trace_hash %s differs from expected %s", path, hash ? hash : "?",
                         sf.trace_hash);
        }
    }
out:
    deja_seedfile_free(&sf);
    return rc;
}
