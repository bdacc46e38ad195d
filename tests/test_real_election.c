/*
 * test_real_election.c -- the election experiment on real deja-node
 * processes (sim/real/cluster_election.h, `deja cluster --election-trials`):
 * three trials of five raft nodes on loopback, the leader SIGKILLed after
 * the warm-up; every trial elects a new leader, after at least MIN minus a
 * heartbeat interval, before a majority follows it, and each trial is one
 * row of the CSV. Bad parameters are refused. And a plain `deja cluster
 * --program raft` run: elects, commits on every node, verdict ok. About 8 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "real/cluster_election.h"

static void test_trials_elect_a_new_leader(void **state) {
    (void)state;
    char dir[] = "/tmp/deja-test-election-XXXXXX", bin[PATH_MAX], csv[PATH_MAX + 16], sum[PATH_MAX + 16];
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof bin, "%s/deja-node", DEJA_BINARY_DIR);
    snprintf(csv, sizeof csv, "%s/trials.csv", dir);
    snprintf(sum, sizeof sum, "%s/summary", dir);
    deja_cluster_opts o;
    memset(&o, 0, sizeof o);
    o.nodes = 5;
    o.node_bin = bin;
    o.dir = dir;
    o.kill_node = -1;
    /* wait up to 15 s for each new leader: the wait ends at the election
     * (a few hundred ms), and on a loaded machine a node may not run for
     * seconds; 5 s once lost a trial there */
    deja_cluster_election_cfg c = {3, 1000, 15000, 7, csv};
    FILE *out = fopen(sum, "w+");
    assert_non_null(out);
    char err[512];
    assert_int_equal(deja_cluster_election(&o, &c, out, err, sizeof err), 0);
    rewind(out);
    char line[256];
    int elected = -1, trials = -1;
    double med = -1, maj = -1;
    while (fgets(line, sizeof line, out)) {
        sscanf(line, "elected=%d", &elected);
        sscanf(line, "trials=%d", &trials);
        sscanf(line, "downtime_ms_median=%lf", &med);
        sscanf(line, "majority_ms_median=%lf", &maj);
    }
    fclose(out);
    assert_int_equal(trials, 3);
    assert_int_equal(elected, 3);
    assert_true(med >= 150 - 75 && med < 3000); /* at least MIN minus a heartbeat interval */
    assert_true(maj >= med);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    int rows = 0;
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    assert_int_equal(rows, 1 + 3);
    /* a range that is not one */
    static char *const bad[] = {"raft.election_ms=fast"};
    o.sets = bad;
    o.nsets = 1;
    c.csv = NULL;
    assert_int_equal(deja_cluster_election(&o, &c, stdout, err, sizeof err), 2);
    assert_non_null(strstr(err, "raft.election_ms"));
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_raft_cluster_commits(void **state) {
    (void)state;
    char dir[] = "/tmp/deja-test-raftcl-XXXXXX", bin[PATH_MAX];
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof bin, "%s/deja-node", DEJA_BINARY_DIR);
    deja_cluster_opts o;
    memset(&o, 0, sizeof o);
    o.nodes = 3;
    o.duration_ms = 2000;
    o.node_bin = bin;
    o.program = "raft";
    o.dir = dir;
    o.kill_node = -1;
    o.grace_ms = 5000;
    deja_cluster_result r;
    char err[512];
    assert_int_equal(deja_cluster_run(&o, &r, err, sizeof err), 0);
    assert_string_equal(deja_cluster_verdict(&r), "ok");
    assert_true(r.leaders >= 1 && r.last_term >= 1);
    assert_true(r.confirmed_min >= 5); /* a block every 100 ms, committed on every node */
    deja_cluster_result_free(&r);
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trials_elect_a_new_leader),
        cmocka_unit_test(test_raft_cluster_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
