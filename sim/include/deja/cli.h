/*
 * cli.h -- the `deja` command line as a library, for a team's own binary.
 *
 *     int main(int argc, char **argv) {
 *         rt_program_register("kv", kv_main);   // the node's programs
 *         deja_scenario_register(&kv_scenario); // its scenarios
 *         return deja_main(argc, argv);         // run, replay, sweep, plot...
 *     }
 *
 * The binary then has every command of `deja` over the scenarios it
 * registered (add deja_models_register() and node_programs_register() for
 * the built-in ones), and the replay commands it prints name it (argv[0]).
 */
#ifndef DEJA_CLI_H_PUBLIC
#define DEJA_CLI_H_PUBLIC

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `argv[0] COMMAND ...` as the deja tool does and returns the exit
 * status: 0 ok, 1 a failing verdict or mismatch, 2 bad input. */
int deja_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_CLI_H_PUBLIC */
