/*
 * cli_args.c -- flag matching and number parsing shared by the `deja`
 * subcommands (see cli_args.h). Every error goes through
 * deja_cli_usage_error, so each names the flag and value at fault.
 */
#include <errno.h>
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

int deja_cli_flag(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n)) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n]) return 0;
    if (*i + 1 >= argc) return deja_cli_usage_error(cmd, "%s needs a value", name);
    *val = argv[++*i];
    return 1;
}

int deja_cli_u64(const char *cmd, const char *flag, const char *val, uint64_t lo, uint64_t hi, uint64_t *out) {
    uint64_t v;
    if (deja_parse_u64(val, &v))
        return deja_cli_usage_error(cmd, "%s '%s': not an unsigned integer", flag, val);
    if (v < lo || v > hi)
        return deja_cli_usage_error(cmd, "%s '%s': must be between %llu and %llu", flag, val,
                                    (unsigned long long)lo, (unsigned long long)hi);
    *out = v;
    return 0;
}

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
