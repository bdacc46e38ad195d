/*
 * cli_json.c -- `--json` for the commands whose output is key=value lines
 * (run, replay, bench): the command runs as always with its stdout captured,
 * then the lines are printed as one JSON object, the same keys in the same
 * order. So the JSON holds exactly the fields of the text output, by
 * construction, whatever fields later work adds.
 *
 * Value types: a value that is a JSON number becomes a number, except seed
 * and keys ending in "hash" (64-bit values a double cannot hold, kept as
 * strings); everything else is a string. Lines that are not key=value (none
 * today) go to stderr unchanged.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void deja_cli_json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c == '\n')
            fputs("\\n", out);
        else if (*c == '\t')
            fputs("\\t", out);
        else if (*c < 0x20)
            fprintf(out, "\\u%04x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

/* True when s is a number by JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int json__is_number(const char *s) {
    if (*s == '-') s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (isdigit((unsigned char)*s)) s++;
    else
        return 0;
    if (*s == '.') {
        if (!isdigit((unsigned char)*++s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    return *s == 0;
}

void deja_cli_json_value(FILE *out, const char *key, const char *val) {
    size_t kl = strlen(key);
    int text = !strcmp(key, "seed") || (kl >= 4 && !strcmp(key + kl - 4, "hash"));
    if (!text && json__is_number(val))
        fputs(val, out);
    else
        deja_cli_json_string(out, val);
}

int deja_cli_json(int (*fn)(int, char **), int argc, char **argv) {
    FILE *tmp = tmpfile();
    if (!tmp) return deja_cli_usage_error(argv[0], "--json: cannot create a temporary file");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (saved >= 0) close(saved);
        fclose(tmp);
        return deja_cli_usage_error(argv[0], "--json: cannot capture the output");
    }
    int rc = fn(argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    rewind(tmp);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int fields = 0;
    while ((n = getline(&line, &cap, tmp)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *eq = strchr(line, '=');
        if (!eq || eq == line) {
            deja_cli_eprintf("%s\n", line);
            continue;
        }
        *eq = 0;
        fputs(fields++ ? ",\n  " : "{\n  ", stdout);
        deja_cli_json_string(stdout, line);
        fputs(": ", stdout);
        deja_cli_json_value(stdout, line, eq + 1);
    }
    free(line);
    fclose(tmp);
    if (fields)
        fputs("\n}\n", stdout);
    else if (rc != 2)
        fputs("{}\n", stdout);
    fflush(stdout);
    return rc;
}
