/*
 * scenarios.c -- registers the scenarios of the reference node
 * (deja_models_register, deja/models.h). A new scenario is a file in models/
 * that defines a deja_scenario and a line here.
 */
#include <stddef.h>

#include "deja/deja.h"
#include "deja/models.h"

extern const deja_scenario deja_scenario_drift_fork;
extern const deja_scenario deja_scenario_storage_faults;
extern const deja_scenario deja_scenario_mem_leak;
extern const deja_scenario deja_scenario_raft;
extern const deja_scenario deja_scenario_election;
extern const deja_scenario deja_scenario_timesync;
extern const deja_scenario deja_scenario_snapshot_sync;
extern const deja_scenario deja_scenario_timeout_sweep;
extern const deja_scenario deja_scenario_lease_fork;

void deja_models_register(void) {
    deja_scenario_register(&deja_scenario_drift_fork);
    deja_scenario_register(&deja_scenario_storage_faults);
    deja_scenario_register(&deja_scenario_mem_leak);
    deja_scenario_register(&deja_scenario_raft);
    deja_scenario_register(&deja_scenario_election);
    deja_scenario_register(&deja_scenario_timesync);
    deja_scenario_register(&deja_scenario_snapshot_sync);
    deja_scenario_register(&deja_scenario_timeout_sweep);
    deja_scenario_register(&deja_scenario_lease_fork);
}
