/*
 * kv_scenario.h -- the tutorial node's scenario "kv" and its oracle
 * (kv_scenario.c), for the simulation binary.
 */
#ifndef KV_SCENARIO_H
#define KV_SCENARIO_H

/* Registers the scenario "kv" (deja_scenario_register). */
void kv_scenario_register(void);

#endif /* KV_SCENARIO_H */
