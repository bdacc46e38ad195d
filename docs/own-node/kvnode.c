/*
 * kvnode.c -- the same node as a real daemon on the production backend:
 * kvnode --id I --peers ADDR,ADDR,... --data DIR [--set kv.bug=1] ...
 * (`deja cluster --node-bin ./kvnode` starts a cluster of them).
 */
#include "deja/daemon.h"
#include "kv.h"

int main(int argc, char **argv) {
    kv_register();
    return deja_node_main(argc, argv);
}
