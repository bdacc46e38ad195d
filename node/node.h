/*
 * node.h -- the reference node's one public entry: the programs it offers
 * to a backend. A binary that runs the reference node (the `deja` tool,
 * `deja-node`, a user's own tool that wants our scenarios) calls
 * node_programs_register() once at start-up; every other file of node/ is
 * internal to the node.
 */
#ifndef NODE_NODE_H
#define NODE_NODE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers the programs "aura", "raft" and "timesync" (rt_program_register). */
void node_programs_register(void);

#ifdef __cplusplus
}
#endif
#endif /* NODE_NODE_H */
