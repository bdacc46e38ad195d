/*
 * models.h -- the scenarios deja ships for its reference node (drift-fork,
 * storage-faults, raft, ...). They start the programs of the reference node
 * (deja/node.h), so a binary that registers them registers those too.
 */
#ifndef DEJA_MODELS_H
#define DEJA_MODELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Registers every built-in scenario (deja_scenario_register). */
void deja_models_register(void);

#ifdef __cplusplus
}
#endif
#endif /* DEJA_MODELS_H */
