/*
 * cli.h -- the subcommands of the `deja` tool.
 *
 * main.c dispatches `deja CMD ...` to deja_cmd_CMD(argc, argv), where argv[0]
 * is CMD itself. Every command returns the process exit status: 0 success,
 * 1 a failing verdict (or a replay mismatch), 2 bad input with a one-line
 * message on stderr that names the flag, file or line at fault.
 */
#ifndef DEJA_CLI_H
#define DEJA_CLI_H

#include <stdio.h>

int deja_cmd_run(int argc, char **argv);
int deja_cmd_replay(int argc, char **argv);
int deja_cmd_sweep(int argc, char **argv);
int deja_cmd_plot(int argc, char **argv);
int deja_cmd_scenarios(int argc, char **argv);
int deja_cmd_bench(int argc, char **argv);
int deja_cmd_cluster(int argc, char **argv);
int deja_cmd_shrink(int argc, char **argv);
int deja_cmd_diff(int argc, char **argv);
int deja_cmd_timeline(int argc, char **argv);

/* Prints a usage error naming what is wrong, on one line, and returns 2.
 * Control bytes in the message (from an argument or a file) are shown as
 * \xHH, never sent to the terminal raw. */
int deja_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "deja CMD: message" on one line (control bytes, newlines too, as
 * \xHH) and returns 2: for errors that are not about usage (a file, the
 * database). */
int deja_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* fprintf(stderr, ...) for every other message of the commands: control
 * bytes but newline and tab are shown as \xHH. Use it, not stderr, for
 * anything that may echo a user's bytes. */
void deja_cli_eprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* --json (cli_json.c): runs fn(argc, argv) with stdout captured and prints
 * its key=value lines as one JSON object; returns fn's status. */
int deja_cli_json(int (*fn)(int, char **), int argc, char **argv);
/* Writes s as a JSON string; writes val as a JSON number when it is one
 * (except seed and *hash keys), else as a string. */
void deja_cli_json_string(FILE *out, const char *s);
void deja_cli_json_value(FILE *out, const char *key, const char *val);

#endif /* DEJA_CLI_H */
