/*
 * deja.c -- the `deja` tool: the reference node's programs and scenarios,
 * registered the same way a team registers its own, then deja_main.
 */
#include "deja/cli.h"
#include "deja/models.h"
#include "deja/node.h"

int main(int argc, char **argv) {
    node_programs_register();
    deja_models_register();
    return deja_main(argc, argv);
}
