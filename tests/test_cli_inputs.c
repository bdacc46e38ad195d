/*
 * test_cli_inputs.c -- the deja command line against bad input and failing
 * outputs, run as a user would run it (the deja binary, its exit status,
 * its stderr): a failing command leaves existing files untouched and no
 * partial file behind; a full disk is reported, not half-written; bad
 * flags, numbers, shard specs and seed files are exit 2 with one line
 * naming them, with control bytes escaped.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define SCRATCH_NAME "cli"
#include "scratch_dir.h"

static char test__out[65536]; /* the stdout of the last test__deja */

/* Removes the lines a sanitizer runtime adds to stderr ("==PID==WARNING:
 * ASan doesn't fully support makecontext..." in sanitizer builds): they are
 * the build's, not deja's message. */
static void test__drop_sanitizer_notes(char *err) {
    char *w = err;
    for (char *r = err; *r;) {
        char *nl = strchr(r, '\n');
        size_t len = nl ? (size_t)(nl - r) + 1 : strlen(r);
        if (strncmp(r, "==", 2) != 0) {
            memmove(w, r, len);
            w += len;
        }
        r += len;
    }
    *w = 0;
}

/* Runs the deja binary with args (NULL-terminated) in the test directory;
 * its stderr goes to err (NUL-terminated). Returns the exit status. */
static int test__deja(char *err, size_t errlen, ...) {
    char *argv[64];
    int n = 0;
    argv[n++] = DEJA_BINARY_DIR "/deja";
    va_list ap;
    va_start(ap, errlen);
    for (char *a; (a = va_arg(ap, char *)) && n < 63;) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char errpath[512], outpath[512];
    snprintf(errpath, sizeof errpath, "%s/stderr", test__dir);
    snprintf(outpath, sizeof outpath, "%s/stdout", test__dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (chdir(test__dir)) _exit(126);
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int out = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || out < 0) _exit(126);
        dup2(fd, 2);
        dup2(out, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t got = fread(err, 1, errlen - 1, f);
    err[got] = 0;
    fclose(f);
    test__drop_sanitizer_notes(err);
    f = fopen(outpath, "r");
    assert_non_null(f);
    got = fread(test__out, 1, sizeof test__out - 1, f);
    test__out[got] = 0;
    fclose(f);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Writes text to NAME in the test directory; returns the path. */
static const char *test__write(const char *name, const char *text, size_t len) {
    static char path[8][512];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 512, "%s/%s", test__dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    return p;
}

static void test__same(const char *path, const char *want) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_string_equal(buf, want);
}

/* No temporary file (".NAME.tmp-*") is left in dir. */
static void test__no_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp-")) fail_msg("a temporary file was left behind: %s/%s", dir, e->d_name);
    closedir(d);
}

/* One line on stderr, naming what is wrong. */
static void test__one_line(const char *err, const char *names) {
    if (!strstr(err, names)) fail_msg("stderr does not name '%s': %s", names, err);
    const char *nl = strchr(err, '\n');
    if (!nl || nl[1]) fail_msg("want exactly one line on stderr, got: %s", err);
}

/* ---- output files --------------------------------------------------------- */

static void test_failing_command_leaves_files_untouched(void **state) {
    (void)state;
    char err[4096];
    const char *victim = test__write("victim.trace", "precious\n", 9);
    /* a bad second output: refused before the run, the first untouched */
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--trace", "victim.trace",
                                "--timeline", "/nonexistent/t.csv", NULL),
                     2);
    test__one_line(err, "/nonexistent/t.csv");
    test__same(victim, "precious\n");
    /* a seed file that is garbage: the trace is not touched either */
    test__write("garbage.seed", "scenario = drift-fork\nthis is not a seed file\n", 45);
    const char *victim2 = test__write("victim2.trace", "precious too\n", 13);
    assert_int_equal(test__deja(err, sizeof err, "replay", "garbage.seed", "--trace", "victim2.trace", NULL), 2);
    test__one_line(err, "garbage.seed:2");
    test__same(victim2, "precious too\n");
    /* bad input found only when the run starts (a value the setup refuses) */
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--set", "sim.nodes=0",
                                "--trace", "victim.trace", NULL),
                     2);
    test__same(victim, "precious\n");
    test__no_temporaries(test__dir);
    /* a successful run replaces it whole */
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--set", "sim.duration_s=5",
                                "--trace", "victim.trace", NULL),
                     0);
    struct stat st;
    assert_int_equal(stat(victim, &st), 0);
    assert_true(st.st_size > 1000);
    mode_t um = umask(0);
    umask(um);
    assert_int_equal(st.st_mode & 0777, 0666 & ~um); /* as a plain fopen would create it */
    test__no_temporaries(test__dir);
}

/* A trace cut short by a full disk: exit 2 naming the file and the reason,
 * the old file kept, nothing partial left (a small tmpfs; needs root). */
static void test_full_disk_keeps_old_file(void **state) {
    (void)state;
    char mnt[512], err[4096];
    snprintf(mnt, sizeof mnt, "%s/full", test__dir);
    assert_int_equal(mkdir(mnt, 0755), 0);
    if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=256k")) {
        fprintf(stderr, "test_full_disk_keeps_old_file: skipped: cannot mount a tmpfs (needs root)\n");
        skip();
    }
    char victim[600];
    snprintf(victim, sizeof victim, "%s/t.trace", mnt);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    int rc = test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--trace", victim, NULL);
    test__no_temporaries(mnt);
    test__same(victim, "old\n");
    umount(mnt);
    assert_int_equal(rc, 2);
    test__one_line(err, "No space left on device");
    assert_non_null(strstr(err, "--trace"));
}

/* ---- bad input -------------------------------------------------------------- */

static void test_bad_flags(void **state) {
    (void)state;
    char err[4096];
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "1", "--db", "", NULL), 2);
    test__one_line(err, "--db ''");
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--seed", "2", NULL), 2);
    test__one_line(err, "--seed given twice");
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "1", "--db", "a.db", "--db=b.db",
                                NULL),
                     2);
    test__one_line(err, "--db given twice");
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "1", "--db", "s.db", "--shard",
                                "0/4294967297", NULL),
                     2);
    test__one_line(err, "--shard '0/4294967297'");
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "1", "--db", "s.db", "--shard",
                                "4294967296/2", NULL),
                     2);
    test__one_line(err, "--shard");
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "18446744073709551616", "--db",
                                "s.db", NULL),
                     2);
    test__one_line(err, "--seeds '18446744073709551616': too large");
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "18446744073709551616", NULL), 2);
    test__one_line(err, "--seed '18446744073709551616'");
    /* a flag's missing value, in every command that has numbers */
    assert_int_equal(test__deja(err, sizeof err, "bench", "--tasks", NULL), 2);
    test__one_line(err, "--tasks needs a value");
    assert_int_equal(test__deja(err, sizeof err, "bench", "--ring", "8", "--ring", "9", NULL), 2);
    test__one_line(err, "--ring given twice");
    /* --set and --grid may repeat */
    assert_int_equal(test__deja(err, sizeof err, "run", "drift-fork", "--seed", "1", "--set", "sim.duration_s=5",
                                "--set", "clock.offset_ms=100", NULL),
                     0);
    char db[512];
    snprintf(db, sizeof db, "%s/s.db", test__dir);
    assert_int_equal(access(db, F_OK), -1); /* nothing was created by the refused sweeps */
}

static void test_seed_file_nul_and_control_bytes(void **state) {
    (void)state;
    char err[4096];
    static const char nul[] = "scenario = drift-fork\nseed = 1\0 ignored?\nverdict = ok\n"
                              "trace_hash = 0123456789abcdef\n";
    test__write("nul.seed", nul, sizeof nul - 1);
    assert_int_equal(test__deja(err, sizeof err, "replay", "nul.seed", NULL), 2);
    test__one_line(err, "nul.seed:2: NUL byte");
    static const char esc[] = "scenario = drift\033]0;owned\007fork\n";
    test__write("esc.seed", esc, sizeof esc - 1);
    assert_int_equal(test__deja(err, sizeof err, "replay", "esc.seed", NULL), 2);
    test__one_line(err, "esc.seed:1: control byte 0x1b");
    assert_null(strchr(err, '\033'));
}

/* A seed file of a scenario this binary does not have (a team's own, kept
 * with the team's binary) is refused, naming its line and where to look. */
static void test_seed_file_of_another_binary(void **state) {
    (void)state;
    char err[4096];
    static const char kv[] = "# deja seed file: check with `build/kvsim replay kv.seed`\nscenario = kv\nseed = 7\n"
                             "verdict = ok\ntrace_hash = 0123456789abcdef\n";
    test__write("kv.seed", kv, sizeof kv - 1);
    assert_int_equal(test__deja(err, sizeof err, "replay", "kv.seed", NULL), 2);
    test__one_line(err, "kv.seed:2: unknown scenario 'kv' in this binary");
    assert_non_null(strstr(err, "first line names the binary"));
    assert_int_equal(test__deja(err, sizeof err, "shrink", "kv.seed", NULL), 2);
    test__one_line(err, "kv.seed: unknown scenario 'kv' in this binary");
}

/* Control bytes from arguments are shown escaped in every message. */
static void test_control_bytes_escaped(void **state) {
    (void)state;
    char err[4096];
    assert_int_equal(test__deja(err, sizeof err, "run", "drift\033]0;owned\007", "--seed", "1", NULL), 2);
    test__one_line(err, "drift\\x1b]0;owned\\x07");
    assert_null(strchr(err, '\033'));
    assert_null(strchr(err, '\007'));
    assert_int_equal(test__deja(err, sizeof err, "replay", "no\033[2Jsuch.seed", NULL), 2);
    test__one_line(err, "no\\x1b[2Jsuch.seed");
    assert_int_equal(test__deja(err, sizeof err, "sweep", "drift-fork", "--seeds", "1", "--db", "x.db", "--grid",
                                "a\nb=1", NULL),
                     2);
    test__one_line(err, "a\\x0ab"); /* even a newline: the message stays one line */
    assert_int_equal(test__deja(err, sizeof err, "bogus\033[31m", NULL), 2);
    assert_null(strchr(err, '\033'));
}

/* `deja scenarios NAME` shows the common parameters too. */
static void test_scenarios_lists_common_params(void **state) {
    (void)state;
    char err[4096];
    assert_int_equal(test__deja(err, sizeof err, "scenarios", "drift-fork", NULL), 0);
    const char *want[] = {"disk.crash_keep_pct", "disk.latent_pct", "mem.limit_mb", "mem.task_bytes",
                          "fault.crash_every_s", "fault.pause_ms", "net.dup_pct", NULL};
    for (int i = 0; want[i]; i++)
        if (!strstr(test__out, want[i])) fail_msg("'deja scenarios drift-fork' does not list %s", want[i]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_command_leaves_files_untouched),
        cmocka_unit_test(test_full_disk_keeps_old_file),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_seed_file_nul_and_control_bytes),
        cmocka_unit_test(test_seed_file_of_another_binary),
        cmocka_unit_test(test_control_bytes_escaped),
        cmocka_unit_test(test_scenarios_lists_common_params),
    };
    return cmocka_run_group_tests(tests, test__setup, test__teardown);
}
