/*
 * test_docs.c -- the docs cannot go stale: every ```console block of
 * README.md and every page of docs/ is run, and the output it shows must be what the
 * commands print today.
 *
 * In a block, a line starting with "$ " is a command (a trailing backslash
 * continues it on the next line); the lines after it, up to the next
 * command, are its output: stdout and stderr as one stream, in the order
 * written (deja writes stdout line by line, as on a terminal). A command shown
 * with no output is run but its output is not checked. In shown output:
 *   - a line that is just "..." (indented or not) stands for any number of
 *     lines (0 or more);
 *   - "..." inside a line stands for any text;
 *   - "~" before a number marks a figure that varies from run to run (a
 *     wall-clock time, a rate): wall_ms=~7 matches wall_ms=12.
 * A block that cannot run here (it needs a batch system, a debugger, a
 * separate build, real minutes) is skipped by a comment on the line just
 * before its fence: <!-- docs-test: skip REASON -->.
 *
 * The commands run with /bin/sh in a scratch directory that links every
 * top-level entry of the source tree (build/ is the build directory), so
 * `build/deja ...`, `seeds/...` and `out/...` work and nothing is written
 * into the tree. A failure names the file, the line of the block and of
 * the command, and the first shown line that the output does not match.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deja/deja.h"
#include "deja/models.h"
#include "node.h"

#define DOCS__MAX_LINES 4096

static char docs__dir[256]; /* the scratch directory */

typedef struct docs__lines {
    char **v;
    int n, cap;
} docs__lines;

static void docs__push(docs__lines *l, const char *s, size_t len) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        assert_non_null(l->v);
    }
    l->v[l->n] = strndup(s, len);
    assert_non_null(l->v[l->n]);
    l->n++;
}

static void docs__free(docs__lines *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* Reads a file into lines (without their newlines); false when missing. */
static int docs__read(const char *path, docs__lines *out) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        docs__push(out, line, (size_t)n);
    }
    free(line);
    fclose(f);
    return 1;
}

/* True when text matches pattern: "..." matches any text, "~" before a
 * digit matches any number. */
static int docs__line_match(const char *p, const char *t) {
    for (;;) {
        if (!strncmp(p, "...", 3)) {
            p += 3;
            for (const char *s = t;; s++) {
                if (docs__line_match(p, s)) return 1;
                if (!*s) return 0;
            }
        }
        if (p[0] == '~' && p[1] >= '0' && p[1] <= '9') {
            p++;
            while ((*p >= '0' && *p <= '9') || *p == '.') p++;
            if (!(*t >= '0' && *t <= '9')) return 0;
            while ((*t >= '0' && *t <= '9') || *t == '.') t++;
            continue;
        }
        if (!*p) return !*t;
        if (*p != *t) return 0;
        p++, t++;
    }
}

/* True for a line that is "..." alone, perhaps indented. */
static int docs__elision(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return !strcmp(s, "...");
}

/* Matches actual lines against shown ones (a "..." line: any lines, the
 * next shown line matched at its first occurrence). 0 when they match,
 * else writes what differs into why. */
static int docs__match(const docs__lines *shown, int s0, int s1, const docs__lines *got, char *why, size_t len) {
    int j = 0;
    for (int i = s0; i < s1; i++) {
        if (docs__elision(shown->v[i])) {
            if (i + 1 == s1) return 0; /* trailing elision: the rest is free */
            while (j < got->n && !docs__line_match(shown->v[i + 1], got->v[j])) j++;
            if (j == got->n) {
                snprintf(why, len, "shown line %d of its output is printed nowhere after the '...':\n    shown:  %s",
                         i + 1 - s0 + 1, shown->v[i + 1]);
                return 1;
            }
            continue;
        }
        if (j >= got->n) {
            snprintf(why, len, "the output ends before shown line %d:\n    shown:  %s", i - s0 + 1, shown->v[i]);
            return 1;
        }
        if (!docs__line_match(shown->v[i], got->v[j])) {
            snprintf(why, len, "line %d of its output differs:\n    shown:  %s\n    actual: %s", i - s0 + 1,
                     shown->v[i], got->v[j]);
            return 1;
        }
        j++;
    }
    if (j < got->n) {
        snprintf(why, len, "the output goes on after the last shown line (add a '...' line to skip the rest):\n"
                           "    actual line %d: %s",
                 j + 1, got->v[j]);
        return 1;
    }
    return 0;
}

/* Runs cmd in the scratch directory; its stdout and stderr, as lines
 * (without the sanitizer runtime's own warnings). */
static void docs__run(const char *cmd, docs__lines *out) {
    char script[PATH_MAX + 64], o[PATH_MAX + 64];
    snprintf(script, sizeof script, "%s/.cmd.sh", docs__dir);
    snprintf(o, sizeof o, "%s/.stdout", docs__dir);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fprintf(f, "cd '%s' || exit 126\nexport LC_ALL=C TZ=UTC\n%s\n", docs__dir, cmd);
    fclose(f);
    char sh[3 * PATH_MAX + 256];
    /* a sanitizer build's runtime adds a warning line of its own: not deja's output */
    snprintf(sh, sizeof sh, "/bin/sh '%s' 2>&1 </dev/null | grep -v '^==[0-9]*==WARNING: ASan' >'%s'", script, o);
    int rc = system(sh);
    (void)rc; /* exit statuses are part of the docs' prose, not checked here */
    docs__read(o, out);
}

/* Checks every console block of one markdown file; returns the number of
 * commands that failed (their messages on stderr). */
static int docs__check_file(const char *rel, int *nblocks, int *nskipped, int *ncmds) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", DEJA_SOURCE_DIR, rel);
    docs__lines md = {0};
    assert_true(docs__read(path, &md));
    int failed = 0;
    for (int i = 0; i < md.n; i++) {
        if (strcmp(md.v[i], "```console")) continue;
        int start = i + 1, end = start;
        while (end < md.n && strncmp(md.v[end], "```", 3)) end++;
        (*nblocks)++;
        if (i > 0 && strstr(md.v[i - 1], "<!-- docs-test: skip")) {
            (*nskipped)++;
            i = end;
            continue;
        }
        for (int k = start; k < end;) {
            if (strncmp(md.v[k], "$ ", 2)) {
                fprintf(stderr, "%s:%d: a console block must start with a '$ ' command line\n", rel, k + 1);
                failed++;
                break;
            }
            /* the command, with its continuation lines */
            int cmd_line = k + 1;
            size_t cap = 0;
            for (int c = k; c < end; c++) cap += strlen(md.v[c]) + 2;
            char *cmd = calloc(1, cap + 1);
            assert_non_null(cmd);
            strcat(cmd, md.v[k] + 2);
            while (k < end && strlen(md.v[k]) && md.v[k][strlen(md.v[k]) - 1] == '\\') {
                k++;
                if (k < end) {
                    strcat(cmd, "\n");
                    strcat(cmd, md.v[k]);
                }
            }
            k++;
            int out0 = k;
            while (k < end && strncmp(md.v[k], "$ ", 2)) k++;
            docs__lines got = {0};
            docs__run(cmd, &got);
            (*ncmds)++;
            char why[2048];
            if (k > out0 && docs__match(&md, out0, k, &got, why, sizeof why)) {
                fprintf(stderr,
                        "%s:%d: the console block at line %d is stale: its command\n    $ %s\n%s\n"
                        "Update the block to what the command prints now. If a figure varies from run to run "
                        "(a wall-clock\ntime, a rate), write it as ~N (wall_ms=~7); '...' alone on a line skips "
                        "any lines, '...'\ninside a line skips any text; <!-- docs-test: skip REASON --> on the "
                        "line before the\n```console fence skips a block that cannot run in the test suite.\n\n",
                        rel, cmd_line, start, cmd, why);
                failed++;
            }
            docs__free(&got);
            free(cmd);
        }
        i = end;
    }
    docs__free(&md);
    return failed;
}

/* Makes the scratch directory: a link to every top-level entry of the
 * source tree, and build/ to the build directory. */
static int docs__setup(void **state) {
    (void)state;
    snprintf(docs__dir, sizeof docs__dir, "/tmp/deja-test-docs-XXXXXX");
    if (!mkdtemp(docs__dir)) return -1;
    DIR *d = opendir(DEJA_SOURCE_DIR);
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "build") || !strcmp(e->d_name, "out")) continue;
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(from, sizeof from, "%s/%s", DEJA_SOURCE_DIR, e->d_name);
        snprintf(to, sizeof to, "%s/%s", docs__dir, e->d_name);
        if (symlink(from, to)) return -1;
    }
    closedir(d);
    char to[PATH_MAX];
    snprintf(to, sizeof to, "%s/build", docs__dir);
    return symlink(DEJA_BINARY_DIR, to) ? -1 : 0;
}

static int docs__teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", docs__dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_console_blocks_match(void **state) {
    (void)state;
    docs__lines files = {0};
    docs__push(&files, "README.md", 9);
    char docs[PATH_MAX];
    snprintf(docs, sizeof docs, "%s/docs", DEJA_SOURCE_DIR);
    DIR *d = opendir(docs);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n > 3 && !strcmp(e->d_name + n - 3, ".md")) {
            char rel[300];
            snprintf(rel, sizeof rel, "docs/%s", e->d_name);
            docs__push(&files, rel, strlen(rel));
        }
    }
    closedir(d);
    int failed = 0, nblocks = 0, nskipped = 0, ncmds = 0;
    for (int i = 0; i < files.n; i++) failed += docs__check_file(files.v[i], &nblocks, &nskipped, &ncmds);
    fprintf(stderr, "docs: %d console blocks in %d files, %d skipped, %d commands run, %d stale\n", nblocks,
            files.n, nskipped, ncmds, failed);
    docs__free(&files);
    assert_true(nblocks > 0);
    assert_int_equal(failed, 0);
}

/* The matcher itself: elisions and variable figures, and a changed figure
 * caught. */
static void test_matcher(void **state) {
    (void)state;
    assert_true(docs__line_match("wall_ms=~7", "wall_ms=1234"));
    assert_true(docs__line_match("rate ~1.5 runs/s", "rate 22.75 runs/s"));
    assert_false(docs__line_match("wall_ms=~7", "wall_ms=x"));
    assert_true(docs__line_match("a ... z", "a b c z"));
    assert_false(docs__line_match("forks=226", "forks=225"));
    docs__lines shown = {0}, got = {0};
    const char *s[] = {"scenario=x", "...", "forks=2", "...", "wall_ms=~3"};
    const char *g[] = {"scenario=x", "seed=1", "forks=2", "blocks=9", "wall_ms=15"};
    for (int i = 0; i < 5; i++) {
        docs__push(&shown, s[i], strlen(s[i]));
        docs__push(&got, g[i], strlen(g[i]));
    }
    char why[512];
    assert_int_equal(docs__match(&shown, 0, 5, &got, why, sizeof why), 0);
    free(got.v[2]);
    got.v[2] = strdup("forks=3"); /* a documented figure changed */
    assert_int_equal(docs__match(&shown, 0, 5, &got, why, sizeof why), 1);
    assert_non_null(strstr(why, "forks=2"));
    docs__free(&shown);
    docs__free(&got);
}

/* The README's scenario table names every scenario the deja tool has. */
static void test_readme_lists_every_scenario(void **state) {
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/README.md", DEJA_SOURCE_DIR);
    docs__lines md = {0};
    assert_true(docs__read(path, &md));
    const deja_scenario *const *all = deja_scenarios();
    int missing = 0;
    for (int i = 0; all && all[i]; i++) {
        char want[96];
        snprintf(want, sizeof want, "`%s`", all[i]->name);
        int found = 0;
        for (int l = 0; l < md.n && !found; l++) found = md.v[l][0] == '|' && strstr(md.v[l], want) != NULL;
        if (!found) {
            fprintf(stderr, "README.md: the scenario table has no row for %s ('deja scenarios' lists it)\n", want);
            missing++;
        }
    }
    docs__free(&md);
    assert_int_equal(missing, 0);
}

int main(void) {
    node_programs_register();
    deja_models_register();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matcher),
        cmocka_unit_test(test_readme_lists_every_scenario),
        cmocka_unit_test(test_console_blocks_match),
    };
    return cmocka_run_group_tests(tests, docs__setup, docs__teardown);
}
