/*
 * daemon.h -- a node as a real daemon on the production backend, for a
 * team's own binary:
 *
 *     int main(int argc, char **argv) {
 *         rt_program_register("kv", kv_main);
 *         return deja_node_main(argc, argv); // --id --peers --data --program kv ...
 *     }
 *
 * `deja cluster --node-bin PATH` starts a cluster of such binaries.
 */
#ifndef DEJA_DAEMON_H
#define DEJA_DAEMON_H

#ifdef __cplusplus
extern "C" {
#endif

/* Parses the daemon's flags (see --help), runs the program until SIGTERM
 * or SIGINT, and returns the exit status: 0 clean, 1 tasks left or the
 * program returned early, 2 bad input. */
int deja_node_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_DAEMON_H */
