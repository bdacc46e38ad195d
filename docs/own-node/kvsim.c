/*
 * kvsim.c -- the simulation binary of the tutorial node: every command of
 * `deja` (run, replay, sweep, plot, scenarios, ...) over the scenario "kv".
 */
#include "deja/cli.h"
#include "kv.h"
#include "kv_scenario.h"

int main(int argc, char **argv) {
    kv_register();          /* the node's program, "kv" */
    kv_scenario_register(); /* its scenario and oracle */
    return deja_main(argc, argv);
}
