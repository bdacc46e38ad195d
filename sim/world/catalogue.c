/*
 * catalogue.c -- the scenarios a binary knows, registered explicitly at
 * start-up (deja_scenario_register), beside the programs (node.c): the
 * lowest layer holds both registries, so scenarios (models/) and the
 * tools above (sim/lab, sim/cli) reach them by calling down.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "deja/deja.h"

#define DEJA__MAX_SCENARIOS 128

/* Configuration of the process, set once at start-up: not simulation state. */
static const deja_scenario *deja__catalogue[DEJA__MAX_SCENARIOS + 1];
static int deja__n_scenarios;

void deja_scenario_register(const deja_scenario *sc) {
    assert(sc && sc->name && sc->params && sc->setup);
    for (int i = 0; i < deja__n_scenarios; i++)
        if (!strcmp(deja__catalogue[i]->name, sc->name)) {
            deja__catalogue[i] = sc; /* a later registration replaces an earlier one */
            return;
        }
    assert(deja__n_scenarios < DEJA__MAX_SCENARIOS);
    deja__catalogue[deja__n_scenarios++] = sc;
    deja__catalogue[deja__n_scenarios] = NULL;
}

const deja_scenario *const *deja_scenarios(void) { return deja__catalogue; }

const deja_scenario *deja_scenario_find(const char *name) {
    for (int i = 0; i < deja__n_scenarios; i++)
        if (!strcmp(deja__catalogue[i]->name, name)) return deja__catalogue[i];
    return NULL;
}
