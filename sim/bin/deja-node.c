/*
 * deja-node.c -- `deja-node`, the reference node as a real daemon: its
 * programs registered as a team registers its own, then deja_node_main.
 */
#include "deja/daemon.h"
#include "deja/node.h"

int main(int argc, char **argv) {
    node_programs_register();
    return deja_node_main(argc, argv);
}
