/*
 * storage_faults.c -- the scenario `storage-faults`: the AuRa chain on its
 * SQLite store while nodes crash and restart, their disks tear unsynced
 * writes, grow latent sector errors, return corrupted reads and fail
 * fsyncs. A correct node loses no confirmed block and never serves corrupt
 * data; with store.sync=0 (a careless node) the durability oracle catches
 * the confirmed blocks it loses.
 */
#include "aura_world.h"

static const deja_param_def deja__storage_faults_params[] = {
    DEJA_AURA_PARAMS("300", "50", "50", "sqlite"),
    {"fault.crash_every_s", "60", "each node crashes on average once per this many seconds (0: never)"},
    {"fault.restart_ms", "2000", "a crashed node restarts after this long (ms)"},
    {"fault.quiet_s", "60", "no fault in the last this many seconds (the liveness phase)"},
    {"fault.restart_on_exit", "1", "1: a node program that gives up (e.g. after EIO) is restarted"},
    {"disk.crash_keep_pct", "50", "at a crash, chance that an unsynced write survives whole (%)"},
    {"disk.crash_torn_pct", "25", "at a crash, chance that an unsynced write is torn (%)"},
    {"disk.latent_pct", "0.05", "chance that a write leaves a latent sector error (%)"},
    {"disk.corrupt_read_pct", "0.05", "chance that a read returns a flipped bit (%)"},
    {NULL, NULL, NULL},
};

const deja_scenario deja_scenario_storage_faults = {
    "storage-faults",
    "AuRa validators on SQLite with crashes, torn writes, latent errors and corrupted reads: durability",
    deja__storage_faults_params,
    deja_aura_setup,
    deja_aura_finish,
};
