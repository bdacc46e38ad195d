/*
 * test_seeds.c -- replays every seed file in seeds/ (the runs worth
 * keeping: known failures, pitfalls, reference runs) and asserts that each
 * still gives its recorded verdict and trace hash. A changed hash means the
 * simulation changed behaviour: either a bug, or a deliberate change whose
 * seed files must be re-recorded (deja run ... --save). Skips, saying so,
 * only when seeds/ holds no *.seed file. Besides deja's own scenarios it
 * knows the tutorial's node (docs/own-node/: the program and scenario
 * "kv", whose seeds build/kvsim replays too) and the tests' own flooded
 * node (tf_node.c: "tf", whose seeds only this test replays).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <glob.h>

#include <cmocka.h>

#include "deja/models.h"
#include "node.h"
#include "deja/deja.h"
#include "deja/rt.h"
#include "kv.h"
#include "kv_scenario.h"
#include "tf_node.h"

static void test_replay_every_seed_file(void **state) {
    (void)state;
    glob_t g;
    const char *pattern = DEJA_SOURCE_DIR "/seeds/*.seed";
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        print_message("test_seeds: no seed files match %s: nothing to replay\n", pattern);
        if (rc == 0) globfree(&g);
        skip();
    }
    assert_int_equal(rc, 0);
    int failures = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *path = g.gl_pathv[i];
        deja_summary s;
        char err[1024] = "";
        int r = deja_replay(path, NULL, &s, err, sizeof err);
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        if (r == 0) {
            print_message("  match  %s (verdict %s, trace_hash %s)\n", name, deja_summary_get(&s, "verdict"),
                          deja_summary_get(&s, "trace_hash"));
        } else {
            print_message("  FAIL   %s: %s\n", name, err);
            failures++;
        }
    }
    size_t n = g.gl_pathc;
    globfree(&g);
    if (failures) fail_msg("%d of %zu seed files did not replay", failures, n);
}

int main(void) {
    node_programs_register();
    deja_models_register(); /* the node programs scenarios start (as the deja tool does) */
    kv_register();          /* the tutorial's node and scenario (as build/kvsim does) */
    kv_scenario_register();
    tf_register(); /* the tests' own node and scenario */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_every_seed_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
