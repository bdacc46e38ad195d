/*
 * cmd_plot.c -- `deja plot`: draws a plot (gnuplot PNG) from a sweep
 * database, or exports the aggregated data as CSV; or, for the kind
 * `memory`, from one run's resident-size timeline.
 *
 * A plot kind is one row of the table below: which scenario's runs it
 * reads, the column that makes one line per value (series), the x column,
 * the per-run y value as an SQL expression, and the gnuplot script in
 * plots/ that draws it. For each (series, x) group the command computes the
 * mean of y, its sample standard deviation and the number of runs, writes
 * them as gnuplot data (one block per series value, blocks separated by two
 * blank lines) and runs
 *   gnuplot -e "datafile='DATA'; outfile='OUT'" plots/KIND.gp
 * The scripts are found in $DEJA_PLOTS_DIR, else in ../share/deja/plots
 * from the running binary (an installed deja), else in the install prefix
 * the library was configured for, else in the source tree it was built
 * from (plot__scripts_dir).
 * Adding a plot kind = adding a row and a script.
 *
 * A kind marked `timeline` reads instead the CSV that `deja run --timeline`
 * writes (t_ms,node,resident_bytes,tasks[,mapped_bytes]): one data block per
 * node (t_s resident_mib tasks mapped_mib), then one block of the kills it
 * can see (a node's resident size dropping to a tenth or less between two
 * samples: an OOM kill or a crash), and gnuplot also gets nodes='0 1 ...',
 * nnodes, nkills and hasmapped.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/outfile.h"

#ifndef DEJA_SOURCE_DIR
#define DEJA_SOURCE_DIR "."
#endif
#ifndef DEJA_PLOTS_INSTALL_DIR
#define DEJA_PLOTS_INSTALL_DIR "/usr/local/share/deja/plots"
#endif
#ifndef DEJA_PLOTS_RELATIVE_DIR
#define DEJA_PLOTS_RELATIVE_DIR "../share/deja/plots"
#endif

/* The pseudo-column of drift-fork's lines by time-sync setting: "off" when
 * the validators take slots from the raw wall clock, "on:SERVERS:TOL_MS"
 * when they run time sync (ntp.servers > 0 and chain.time_tolerance_ms > 0,
 * models/aura_world.c) and take them from the calibrated clock. */
#define PLOT__TIMESYNC "timesync"
#define PLOT__TIMESYNC_SQL                                                                                           \
    "(CASE WHEN \"ntp.servers\" > 0 AND \"chain.time_tolerance_ms\" > 0 THEN 'on:' || \"ntp.servers\" || ':' || " \
    "\"chain.time_tolerance_ms\" ELSE 'off' END)"

typedef struct plot__kind {
    const char *name;
    const char *summary;
    const char *scenario; /* rows of this scenario */
    const char *series;   /* column: one line per value */
    const char *x;        /* column: the x axis */
    const char *y_sql;    /* SQL expression: the y value of one run */
    const char *valid;    /* SQL condition: runs y is defined for */
    const char *y_name;   /* CSV column name of the mean */
    const char *script;   /* file in the plots directory */
    int timeline;         /* 1: reads a run's timeline CSV (--timeline), not a database;
                             2: a CDF kind (PLOT__CDF): one line per series value, the
                             empirical CDF over every run of the metric named by x (runs
                             where it is NULL -- censored, e.g. no leader by the end --
                             count in the denominator and never arrive);
                             3: a heatmap kind (PLOT__HEAT): the mean of y_sql per cell
                             of x (default) by a second parameter (--y, or the first
                             of a few clock and network keys the rows vary), with the
                             bound the rows carry (bound_ms, bound_pause_ms) drawn as
                             the line where MIN = bound;
                             4: election-real (PLOT__REAL): the CDF kind's simulated
                             runs against the real trials of --real FILE.csv */
} plot__kind;

static const plot__kind plot__kinds[] = {
    {"drift-fork", "forks per 100 blocks vs clock offset, one line per AuRa slot length or time-sync setting",
     "drift-fork",
     "aura.slot_ms", "clock.offset_ms", "CAST(forks AS REAL) * 100.0 / blocks",
     "blocks > 0 AND forks IS NOT NULL", "forks_per_100_blocks", "drift-fork.gp", 0},
    {"memory", "resident MiB and live tasks vs simulated time, one line per node, kills marked", NULL, "node",
     "t_s", NULL, NULL, "resident_mib", "memory.gp", 1},
    {"election-cdf", "CDF of the time from a leader crash to a new leader, the Raft paper's two panels (MIN 150, MAX 2*MIN)",
     "election", "raft.election_ms", "downtime_ms", "downtime_ms", "1", "downtime_ms", "election-cdf.gp", 2},
    {"election-real", "CDF of the time from a leader crash to a new leader: simulated against real processes",
     "election", "raft.election_ms", "downtime_ms", "downtime_ms", "1", "downtime_ms", "election-real.gp", 4},
    {"timeout-heatmap",
     "false elections per hour over election timeout MIN x a second parameter, the digest's bound overlaid",
     "timeout-sweep", "", "raft.election_ms", "false_elections_per_hour", "1", "false_elections_per_hour",
     "timeout-heatmap.gp", 3},
    {"metric", "any scenario's metric (--y) vs a parameter (--x), one line per value of --series", NULL, "SERIES",
     "X", NULL, "1", "Y", "metric.gp", 0},
};

#define PLOT__NKINDS (sizeof plot__kinds / sizeof plot__kinds[0])

/* The generic kind: its scenario, axes and series come from the flags. */
static int plot__is_metric(const plot__kind *k) { return k->timeline == 0 && !k->scenario; }

/* One aggregated point. */
typedef struct plot__group {
    char series[64], x[64];
    double mean, m2; /* Welford's running mean and sum of squared deviations */
    long n;
} plot__group;

/* The CSV header that --csv writes for kind k (one function for the writers
 * and the help, so they cannot disagree); x and y name the heatmap's axes
 * (NULL: "X" and "Y", as the help shows them). Empty for timeline kinds. */
static void plot__csv_header(const plot__kind *k, const char *x, const char *y, char *buf, size_t len) {
    if (k->timeline == 1)
        snprintf(buf, len, "%s", "");
    else if (k->timeline == 2)
        snprintf(buf, len, "%s,runs,with_%s,median,mean,p99,max", k->series, k->y_name);
    else if (k->timeline == 3)
        snprintf(buf, len, "%s,%s,%s_mean,runs,runs_with_leader,bound_ms,bound_pause_ms,min_at_bound_ms,measured_min_ms",
                 x ? x : "X", y ? y : "Y", k->y_name);
    else if (k->timeline == 4)
        snprintf(buf, len, "%s", ""); /* election-real: no CSV (its inputs are the tables) */
    else
        snprintf(buf, len, "%s,%s,%s_mean,%s_stddev,runs", k->series, k->x, k->y_name, k->y_name);
}

static void plot__scripts_dir(char *buf, size_t len);

static void plot__help(FILE *out) {
    char scripts[4096];
    plot__scripts_dir(scripts, sizeof scripts);
    fprintf(out,
            "usage: deja plot KIND --db FILE [-o OUT.png] [--csv FILE] [--where SQL] [--table]\n"
            "                 [--x KEY] [--y KEY] [--series KEY] [--real FILE.csv]\n"
            "       deja plot metric --db FILE --scenario NAME --x KEY --y METRIC [--series KEY]\n"
            "                 [-o OUT.png] [--csv FILE] [--where SQL]\n"
            "       deja plot memory --timeline FILE.csv -o OUT.png\n\n"
            "Aggregates the sweep database FILE and draws a PNG with gnuplot. For\n"
            "every group of runs the plot shows the mean over seeds with error bars\n"
            "of one (sample) standard deviation. The kind memory draws one run's\n"
            "resident-size timeline instead ('deja run ... --timeline FILE.csv').\n\n"
            "kinds:\n");
    for (size_t i = 0; i < PLOT__NKINDS; i++) {
        const plot__kind *k = &plot__kinds[i];
        if (k->timeline == 1)
            fprintf(out, "  %-12s %s\n               (one run's --timeline CSV; x = seconds, lines by node)\n",
                    k->name, k->summary);
        else if (plot__is_metric(k))
            fprintf(out, "  %-12s %s\n               (runs of --scenario NAME; --x KEY a column, --y a column or\n"
                         "               an SQL expression over the columns, --series KEY a column, default\n"
                         "               one line)\n",
                    k->name, k->summary);
        else if (!strcmp(k->name, "drift-fork"))
            fprintf(out, "  %-12s %s\n               (runs of scenario %s; x = --x KEY, else the first of \"%s\",\n"
                         "               clock.step_ms, clock.drift_ppm the rows vary; lines by --series KEY,\n"
                         "               else by \"%s\", or by \"" PLOT__TIMESYNC "\" (ntp.servers and\n"
                         "               chain.time_tolerance_ms: off, or on with servers and tolerance) when\n"
                         "               the rows vary it and one slot length)\n",
                    k->name, k->summary, k->scenario, k->x, k->series);
        else if (k->timeline == 3)
            fprintf(out, "  %-12s %s\n               (runs of scenario %s; x = \"%s\" or --x, y = --y or the\n"
                         "               first of fault.pause_ms, clock.drift_ppm, clock.step_ms, clock.offset_ms,\n"
                         "               net.jitter_ms, net.latency_ms the rows vary)\n",
                    k->name, k->summary, k->scenario, k->x);
        else
            fprintf(out, "  %-12s %s\n               (runs of scenario %s; x = \"%s\", lines by \"%s\")\n",
                    k->name, k->summary, k->scenario, k->x, k->series);
    }
    fputc('\n', out);
    deja_cli_help_flags(out, &deja_plot_spec, 15);
    fprintf(out, "\n--csv headers, by kind:\n");
    for (size_t i = 0; i < PLOT__NKINDS; i++) {
        char h[512];
        plot__csv_header(&plot__kinds[i], NULL, NULL, h, sizeof h);
        if (h[0]) fprintf(out, "  %s: %s\n", plot__kinds[i].name, h);
    }
    fprintf(out,
            "\n"
            "The gnuplot scripts are read from $DEJA_PLOTS_DIR, else from\n"
            "%s beside the running binary (an installed\n"
            "deja), else from %s, else from %s/plots.\n"
            "This binary reads them from %s\n\n"
            "exit status: 0 written; 2 bad input (unknown kind, missing database or\n"
            "timeline, no rows to plot, gnuplot missing or failing).\n",
            DEJA_PLOTS_RELATIVE_DIR, DEJA_PLOTS_INSTALL_DIR, DEJA_SOURCE_DIR, scripts);
}

/* True when path is a directory. */
static int plot__is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Where the gnuplot scripts are: $DEJA_PLOTS_DIR; else DEJA_PLOTS_RELATIVE_DIR
 * from the directory of the running binary (/proc/self/exe), as installed;
 * else the configured install directory; else the source tree's plots/. */
static void plot__scripts_dir(char *buf, size_t len) {
    const char *env = getenv("DEJA_PLOTS_DIR");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            int w = snprintf(buf, len, "%s/%s", self, DEJA_PLOTS_RELATIVE_DIR);
            if (w > 0 && (size_t)w < len && plot__is_dir(buf)) return;
        }
    }
    snprintf(buf, len, "%s", DEJA_PLOTS_INSTALL_DIR);
    if (plot__is_dir(buf)) return;
    snprintf(buf, len, "%s/plots", DEJA_SOURCE_DIR);
}

/* Appends the SQL-quoted identifier id to buf. */
static void plot__ident(char *buf, size_t len, const char *id) {
    size_t pos = strlen(buf);
    if (pos + 1 < len) buf[pos++] = '"';
    for (; *id && pos + 2 < len; id++) {
        if (*id == '"') buf[pos++] = '"';
        buf[pos++] = *id;
    }
    if (pos + 1 < len) buf[pos++] = '"';
    buf[pos] = 0;
}

/* Appends to buf the SQL of the series column name: the pseudo-column
 * timesync's expression, or the quoted column. */
static void plot__series_sql(char *buf, size_t len, const char *name) {
    if (!strcmp(name, PLOT__TIMESYNC))
        strncat(buf, PLOT__TIMESYNC_SQL, len - strlen(buf) - 1);
    else
        plot__ident(buf, len, name);
}

/* True when the table runs of db has column name. */
static int plot__has_col(sqlite3 *db, const char *name) {
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA table_info(runs)", -1, &st, NULL) != SQLITE_OK) return 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        if (!strcmp((const char *)sqlite3_column_text(st, 1), name)) found = 1;
    sqlite3_finalize(st);
    return found;
}

/* True when db has what the series or x column name needs (the pseudo-column
 * timesync needs ntp.servers and chain.time_tolerance_ms); else names the
 * missing column in *missing. */
static int plot__has_series(sqlite3 *db, const char *name, const char **missing) {
    if (strcmp(name, PLOT__TIMESYNC)) {
        *missing = name;
        return plot__has_col(db, name);
    }
    *missing = plot__has_col(db, "ntp.servers") ? "chain.time_tolerance_ms" : "ntp.servers";
    return plot__has_col(db, "ntp.servers") && plot__has_col(db, "chain.time_tolerance_ms");
}

/* Opens a results database read-only (the unix VFS: the simulator's VFS
 * may be the default in this process), or prints why not and returns NULL. */
static sqlite3 *plot__open_db(const char *dbpath) {
    struct stat sb;
    if (stat(dbpath, &sb) != 0) {
        deja_cli_eprintf("deja plot: --db '%s': %s\n", dbpath, strerror(errno));
        return NULL;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, "unix") != SQLITE_OK) {
        deja_cli_eprintf("deja plot: --db '%s': %s\n", dbpath, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    return db;
}

/* Reads and aggregates the runs of kind k. Returns 0 with out and nout set
 * (and *nruns counted), or 2 after printing a message. */
static int plot__aggregate(const plot__kind *k, const char *dbpath, const char *where, plot__group **out,
                           size_t *nout, long *nruns) {
    *out = NULL;
    *nout = 0;
    *nruns = 0;
    sqlite3 *db = plot__open_db(dbpath);
    if (!db) return 2;
    int rc = 2;
    sqlite3_stmt *st = NULL;
    if (!plot__has_col(db, "scenario")) {
        deja_cli_eprintf("deja plot: %s: no table runs (not a sweep database)\n", dbpath);
        goto out;
    }
    const char *need[] = {k->series, k->x};
    for (int i = 0; i < 2; i++) {
        const char *missing;
        if (!plot__has_series(db, need[i], &missing)) {
            deja_cli_eprintf(
                    "deja plot: %s: no %s rows with column \"%s\" (run 'deja sweep %s ... --db %s' first)\n",
                    dbpath, k->scenario, missing, k->scenario, dbpath);
            goto out;
        }
    }
    char sql[2048] = "SELECT ";
    plot__series_sql(sql, sizeof sql, k->series);
    strncat(sql, ", ", sizeof sql - strlen(sql) - 1);
    plot__ident(sql, sizeof sql, k->x);
    size_t pos = strlen(sql);
    snprintf(sql + pos, sizeof sql - pos, ", %s FROM runs WHERE scenario = ?1 AND (%s)%s%s%s ORDER BY 1, 2",
             k->y_sql, k->valid, where ? " AND (" : "", where ? where : "", where ? ")" : "");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        deja_cli_eprintf("deja plot: %s: %s%s\n", dbpath, sqlite3_errmsg(db),
                where ? " (check --where)" : " (does the table have the metric columns forks and blocks?)");
        goto out;
    }
    sqlite3_bind_text(st, 1, k->scenario, -1, SQLITE_STATIC);
    size_t cap = 0;
    plot__group *g = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL || sqlite3_column_type(st, 1) == SQLITE_NULL ||
            sqlite3_column_type(st, 2) == SQLITE_NULL)
            continue;
        const char *s = (const char *)sqlite3_column_text(st, 0);
        char sv[64], xv[64];
        snprintf(sv, sizeof sv, "%s", s);
        snprintf(xv, sizeof xv, "%s", (const char *)sqlite3_column_text(st, 1));
        double y = sqlite3_column_double(st, 2);
        if (*nout == 0 || strcmp(g[*nout - 1].series, sv) || strcmp(g[*nout - 1].x, xv)) {
            if (*nout == cap) {
                cap = cap ? 2 * cap : 64;
                g = realloc(g, cap * sizeof *g);
                if (!g) abort();
            }
            plot__group *ng = &g[(*nout)++];
            memset(ng, 0, sizeof *ng);
            snprintf(ng->series, sizeof ng->series, "%s", sv);
            snprintf(ng->x, sizeof ng->x, "%s", xv);
        }
        plot__group *cur = &g[*nout - 1];
        cur->n++;
        double d = y - cur->mean;
        cur->mean += d / (double)cur->n;
        cur->m2 += d * (y - cur->mean);
        (*nruns)++;
    }
    *out = g;
    if (step != SQLITE_DONE) {
        deja_cli_eprintf("deja plot: %s: %s\n", dbpath, sqlite3_errmsg(db));
        goto out;
    }
    if (*nout == 0) {
        deja_cli_eprintf("deja plot: %s: no %s runs with %s%s (sweep it first: 'deja sweep %s ... --db %s')\n",
                dbpath, k->scenario, k->valid, where ? " matching --where" : "", k->scenario, dbpath);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

/* ---- drift-fork: which lines, which x axis ---------------------------------- */

/* The x columns drift-fork takes, in this order, when --x is not given: the
 * first one the rows vary (clock.offset_ms when none does), with its axis
 * label and what the title calls it. */
static void plot__gp_quote(char *buf, size_t len, const char *s);
static const char *const plot__drift_xs[][3] = {
    {"clock.offset_ms", "clock offset (ms)", "clock offset"},
    {"clock.step_ms", "NTP step of the wall clock (ms)", "NTP step"},
    {"clock.drift_ppm", "clock drift (ppm)", "clock drift"},
};
#define PLOT__NDRIFT_XS (sizeof plot__drift_xs / sizeof plot__drift_xs[0])

/* How many distinct values the SQL expression expr takes over the rows of
 * scenario (matching where); -1 when the query fails. */
static long plot__distinct(sqlite3 *db, const char *scenario, const char *expr, const char *where) {
    char sql[2048];
    snprintf(sql, sizeof sql, "SELECT COUNT(DISTINCT %s) FROM runs WHERE scenario = ?1%s%s%s", expr,
             where ? " AND (" : "", where ? where : "", where ? ")" : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, scenario, -1, SQLITE_STATIC);
    long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

/* Chooses drift-fork's lines and x axis where the flags did not: one line
 * per time-sync setting (PLOT__TIMESYNC) when the rows vary it and only one
 * slot length, else one per slot length; x the first of plot__drift_xs the
 * rows vary. Columns it does not find keep the defaults (the aggregation
 * then names what is missing). 0, or 2 after a message (no database). */
static int plot__drift_axes(const plot__kind *k, const char *dbpath, const char *where, const char **series,
                            const char **x) {
    sqlite3 *db = plot__open_db(dbpath);
    if (!db) return 2;
    char expr[512] = "";
    if (!*series && plot__has_col(db, "scenario") && plot__has_col(db, "ntp.servers") &&
        plot__has_col(db, "chain.time_tolerance_ms")) {
        plot__ident(expr, sizeof expr, k->series);
        long slots = plot__has_col(db, k->series) ? plot__distinct(db, k->scenario, expr, where) : 0;
        if (slots <= 1 && plot__distinct(db, k->scenario, PLOT__TIMESYNC_SQL, where) > 1) *series = PLOT__TIMESYNC;
    }
    for (size_t i = 0; !*x && i < PLOT__NDRIFT_XS && plot__has_col(db, "scenario"); i++) {
        if (!plot__has_col(db, plot__drift_xs[i][0])) continue;
        expr[0] = 0;
        plot__ident(expr, sizeof expr, plot__drift_xs[i][0]);
        if (plot__distinct(db, k->scenario, expr, where) > 1) *x = plot__drift_xs[i][0];
    }
    sqlite3_close(db);
    return 0;
}

/* The gnuplot assignments of drift-fork's axis label, title, key title and
 * one label per line (slabel1, slabel2...: the series values in the order
 * of the data blocks), appended to extra. */
static void plot__drift_labels(const plot__kind *k, const plot__group *g, size_t n, char *extra, size_t len) {
    const char *xl = k->x, *xw = k->x;
    for (size_t i = 0; i < PLOT__NDRIFT_XS; i++)
        if (!strcmp(k->x, plot__drift_xs[i][0])) xl = plot__drift_xs[i][1], xw = plot__drift_xs[i][2];
    const int slot = !strcmp(k->series, "aura.slot_ms"), ts = !strcmp(k->series, PLOT__TIMESYNC);
    strncat(extra, "xlabeltext=", len - strlen(extra) - 1);
    plot__gp_quote(extra, len, xl);
    strncat(extra, "; xwhat=", len - strlen(extra) - 1);
    plot__gp_quote(extra, len, xw);
    strncat(extra, "; keytitle=", len - strlen(extra) - 1);
    plot__gp_quote(extra, len, slot ? "slot length" : ts ? "time sync" : k->series);
    for (size_t i = 0, b = 0; i < n; i++) {
        if (i && !strcmp(g[i].series, g[i - 1].series)) continue;
        char label[160], var[32];
        unsigned servers = 0, tol = 0;
        if (slot)
            snprintf(label, sizeof label, "%s ms", g[i].series);
        else if (ts && sscanf(g[i].series, "on:%u:%u", &servers, &tol) == 2)
            snprintf(label, sizeof label, "on: calibrated clock (%u servers, %u ms tolerance)", servers, tol);
        else if (ts)
            snprintf(label, sizeof label, "off: raw wall clock");
        else
            snprintf(label, sizeof label, "%s", g[i].series);
        snprintf(var, sizeof var, "; slabel%zu=", ++b);
        strncat(extra, var, len - strlen(extra) - 1);
        plot__gp_quote(extra, len, label);
    }
}

static double plot__sd(const plot__group *g) { return g->n > 1 ? sqrt(g->m2 / (double)(g->n - 1)) : 0.0; }

/* Writes the aggregated groups as CSV. 0, or 2 after a message. */
static int plot__write_csv(const plot__kind *k, const char *path, const plot__group *g, size_t n) {
    deja_outfile *o = deja_outfile_open(path);
    if (!o) {
        deja_cli_eprintf("deja plot: --csv '%s': %s\n", path, strerror(errno));
        return 2;
    }
    FILE *f = o->f;
    char h[512];
    plot__csv_header(k, NULL, NULL, h, sizeof h);
    fprintf(f, "%s\n", h);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s,%s,%.6g,%.6g,%ld\n", g[i].series, g[i].x, g[i].mean, plot__sd(&g[i]), g[i].n);
    if (deja_outfile_commit(o) != 0) {
        deja_cli_eprintf("deja plot: --csv '%s': %s\n", path, strerror(errno));
        return 2;
    }
    return 0;
}

/* Writes the gnuplot data file (blocks per series value) to fd. 0 or 2. */
static int plot__write_data(const plot__kind *k, const char *dbpath, int fd, const plot__group *g, size_t n,
                            long nruns) {
    FILE *f = fdopen(fd, "w");
    if (!f) return 2;
    fprintf(f, "# deja plot %s: %s\n# from %s (%ld runs of %s)\n", k->name, k->summary, dbpath, nruns, k->scenario);
    fprintf(f, "# one block per %s, blocks separated by two blank lines; columns:\n", k->series);
    fprintf(f, "# %s %s %s_mean %s_stddev runs\n", k->series, k->x, k->y_name, k->y_name);
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(g[i].series, g[i - 1].series)) fprintf(f, "\n\n");
        fprintf(f, "%s %s %.6g %.6g %ld\n", g[i].series, g[i].x, g[i].mean, plot__sd(&g[i]), g[i].n);
    }
    return fclose(f) == 0 ? 0 : 2;
}

/* True when an executable named prog is on $PATH. */
static int plot__on_path(const char *prog) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char buf[4096];
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? path : ".", prog);
        if (access(buf, X_OK) == 0) return 1;
        if (!c) break;
        path = c + 1;
    }
    return 0;
}

/* Appends s to buf as a gnuplot single-quoted string ('' escapes '). */
static void plot__gp_quote(char *buf, size_t len, const char *s) {
    size_t pos = strlen(buf);
    if (pos + 1 < len) buf[pos++] = '\'';
    for (; *s && pos + 3 < len; s++) {
        if (*s == '\'') buf[pos++] = '\'';
        buf[pos++] = *s;
    }
    if (pos + 1 < len) buf[pos++] = '\'';
    buf[pos] = 0;
}

static int plot__gnuplot_to(const char *script, const char *data, const char *outfile, const char *extra);

/* Runs gnuplot on script with datafile and outfile set (and the gnuplot
 * assignments in extra, when not NULL). gnuplot writes a temporary file
 * next to outfile, renamed over it only when the plot succeeded
 * (deja/outfile.h). 0, or 2 after a message. */
static int plot__gnuplot(const char *script, const char *data, const char *outfile, const char *extra) {
    deja_outfile *o = deja_outfile_open(outfile);
    if (!o) {
        deja_cli_eprintf("deja plot: -o '%s': %s\n", outfile, strerror(errno));
        return 2;
    }
    deja_outfile_detach(o);
    int rc = plot__gnuplot_to(script, data, o->tmp ? o->tmp : o->path, extra);
    if (rc) {
        deja_outfile_abort(o);
    } else if (deja_outfile_commit(o) != 0) {
        deja_cli_eprintf("deja plot: -o '%s': %s\n", outfile, strerror(errno));
        rc = 2;
    }
    return rc;
}

/* plot__gnuplot, writing straight to outfile. */
static int plot__gnuplot_to(const char *script, const char *data, const char *outfile, const char *extra) {
    char expr[8192] = "datafile=";
    plot__gp_quote(expr, sizeof expr, data);
    strncat(expr, "; outfile=", sizeof expr - strlen(expr) - 1);
    plot__gp_quote(expr, sizeof expr, outfile);
    if (extra) {
        strncat(expr, "; ", sizeof expr - strlen(expr) - 1);
        strncat(expr, extra, sizeof expr - strlen(expr) - 1);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        deja_cli_eprintf("deja plot: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", "-e", expr, script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return 2;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        deja_cli_eprintf("deja plot: cannot run gnuplot (install it: apt-get install gnuplot-nox)\n");
        return 2;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        deja_cli_eprintf("deja plot: gnuplot failed on %s (status %d)\n", script,
                WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 2;
    }
    struct stat sb;
    if (stat(outfile, &sb) != 0 || sb.st_size == 0) {
        deja_cli_eprintf("deja plot: gnuplot wrote no %s\n", outfile);
        return 2;
    }
    return 0;
}

/* ---- memory: one run's resident-size timeline ------------------------------- */

/* One row of a timeline CSV. */
typedef struct plot__sample {
    long long t_ms, resident, tasks, mapped;
    unsigned node;
} plot__sample;

/* Orders samples by node, then time, then file order (stable). */
static int plot__sample_cmp(const void *a, const void *b) {
    const plot__sample *x = a, *y = b;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    if (x->t_ms != y->t_ms) return x->t_ms < y->t_ms ? -1 : 1;
    return 0;
}

/* Splits line (modified in place) at commas into at most max fields. */
static int plot__split(char *line, char **f, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = 0;
    for (char *c = line; n < max;) {
        f[n++] = c;
        c = strchr(c, ',');
        if (!c) break;
        *c++ = 0;
    }
    return n;
}

/* Parses a decimal integer field; 0, or -1 when it is not one. */
static int plot__ll(const char *s, long long *out) {
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno || end == s || *end ? -1 : 0;
}

/* Reads a timeline CSV (t_ms,node,resident_bytes,tasks[,mapped_bytes], in
 * any column order). Returns 0 with the samples (sorted by node, then time)
 * and *has_mapped, or 2 after a message naming the file and line. */
static int plot__read_timeline(const char *path, plot__sample **out, size_t *nout, int *has_mapped) {
    *out = NULL;
    *nout = 0;
    *has_mapped = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        deja_cli_eprintf("deja plot: --timeline '%s': %s\n", path, strerror(errno));
        return 2;
    }
    static const char *const names[] = {"t_ms", "node", "resident_bytes", "tasks", "mapped_bytes"};
    int col[5] = {-1, -1, -1, -1, -1};
    char line[1024], *fld[16];
    int rc = 2, nf = 0;
    size_t cap = 0;
    long lineno = 1;
    if (fgets(line, sizeof line, f)) {
        nf = plot__split(line, fld, 16);
        for (int i = 0; i < nf; i++)
            for (int c = 0; c < 5; c++)
                if (!strcmp(fld[i], names[c])) col[c] = i;
    }
    if (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0) {
        deja_cli_eprintf(
                "deja plot: --timeline '%s': not a resident-size timeline (its header must name "
                "t_ms,node,resident_bytes,tasks; write one with 'deja run SCENARIO --seed N --timeline FILE.csv')\n",
                path);
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#') continue;
        int n = plot__split(line, fld, 16);
        plot__sample smp = {0};
        long long node = -1;
        if (n != nf || plot__ll(fld[col[0]], &smp.t_ms) || plot__ll(fld[col[1]], &node) || node < 0 ||
            node > 1000000 || plot__ll(fld[col[2]], &smp.resident) || plot__ll(fld[col[3]], &smp.tasks) ||
            (col[4] >= 0 && plot__ll(fld[col[4]], &smp.mapped))) {
            deja_cli_eprintf("deja plot: --timeline '%s' line %ld: expected %d integer fields\n", path, lineno, nf);
            goto out;
        }
        smp.node = (unsigned)node;
        if (smp.mapped > 0) *has_mapped = 1;
        if (*nout == cap) {
            cap = cap ? 2 * cap : 1024;
            plot__sample *g = realloc(*out, cap * sizeof *g);
            if (!g) abort();
            *out = g;
        }
        (*out)[(*nout)++] = smp;
    }
    if (ferror(f)) {
        deja_cli_eprintf("deja plot: --timeline '%s': %s\n", path, strerror(errno));
        goto out;
    }
    if (*nout == 0) {
        deja_cli_eprintf("deja plot: --timeline '%s': no samples (was the run's mem.sample_ms 0?)\n", path);
        goto out;
    }
    qsort(*out, *nout, sizeof **out, plot__sample_cmp);
    rc = 0;
out:
    fclose(f);
    return rc;
}

/* True when sample b (the next of the same node after a) shows a kill: the
 * resident size dropped to a tenth or less (an OOM kill or a crash wipes
 * the node; it restarts from nothing). */
static int plot__is_kill(const plot__sample *a, const plot__sample *b) {
    return a->node == b->node && a->resident > 0 && b->resident * 10 <= a->resident;
}

/* Writes the gnuplot data of a timeline to fd (one block per node, then
 * the kills) and the gnuplot assignments that describe it to extra. 0 or 2. */
static int plot__write_timeline(const char *path, int fd, const plot__sample *s, size_t n, int has_mapped,
                                char *extra, size_t extra_len) {
    FILE *f = fdopen(fd, "w");
    if (!f) return 2;
    const double mib = 1024.0 * 1024.0;
    fprintf(f, "# deja plot memory: the resident-size timeline %s\n", path);
    fprintf(f, "# one block per node (t_s resident_mib tasks mapped_mib), then one of kills (t_s resident_mib node)\n");
    char nodes[2048] = "";
    int nnodes = 0, nkills = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || s[i].node != s[i - 1].node) {
            if (i) fprintf(f, "\n\n");
            size_t l = strlen(nodes);
            if (l + 16 < sizeof nodes) snprintf(nodes + l, sizeof nodes - l, "%s%u", nnodes ? " " : "", s[i].node);
            nnodes++;
        }
        fprintf(f, "%.3f %.6f %lld %.6f\n", (double)s[i].t_ms / 1000.0, (double)s[i].resident / mib, s[i].tasks,
                (double)s[i].mapped / mib);
    }
    fprintf(f, "\n\n");
    for (size_t i = 0; i + 1 < n; i++)
        if (plot__is_kill(&s[i], &s[i + 1])) {
            fprintf(f, "%.3f %.6f %u\n", (double)s[i].t_ms / 1000.0, (double)s[i].resident / mib, s[i].node);
            nkills++;
        }
    if (!nkills) fprintf(f, "0 0 0\n"); /* a block must exist; nkills=0 keeps it unplotted */
    snprintf(extra, extra_len, "nodes='%s'; nnodes=%d; nkills=%d; hasmapped=%d", nodes, nnodes, nkills, has_mapped);
    return fclose(f) == 0 ? 0 : 2;
}

/* `deja plot memory --timeline FILE.csv -o OUT.png`. 0, or 2 after a message. */
static int plot__memory(const plot__kind *k, const char *timeline, const char *script, const char *out) {
    plot__sample *s = NULL;
    size_t n = 0;
    int has_mapped = 0;
    int rc = plot__read_timeline(timeline, &s, &n, &has_mapped);
    if (!rc) {
        const char *tmpdir = getenv("TMPDIR");
        char data[4096], extra[4096];
        snprintf(data, sizeof data, "%s/deja-plot-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", k->name);
        int fd = mkstemp(data);
        if (fd < 0) {
            deja_cli_eprintf("deja plot: cannot create a temporary data file %s: %s\n", data, strerror(errno));
            rc = 2;
        } else {
            rc = plot__write_timeline(timeline, fd, s, n, has_mapped, extra, sizeof extra);
            if (rc) deja_cli_eprintf("deja plot: cannot write %s\n", data);
            else rc = plot__gnuplot(script, data, out, extra);
            unlink(data);
        }
        if (!rc) printf("plot: wrote %s (%zu samples from %s)\n", out, n, timeline);
    }
    free(s);
    return rc;
}

/* ---- CDF kinds (election-cdf): one line per series, every run counted ------ */

#define PLOT__CDF 2

/* The runs of one series value: the metric of each run that has one, and
 * how many runs there were in all (the others are censored). */
typedef struct plot__series {
    char name[64];
    double lo, hi; /* "LO-HI" (or one number), for ordering */
    double *v;
    size_t n, cap;
    long runs;
} plot__series;

static int plot__dbl_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Orders series by their range: LO, then HI, then name. */
static int plot__series_cmp(const void *a, const void *b) {
    const plot__series *x = a, *y = b;
    if (x->lo != y->lo) return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The q-quantile (q in [0,1]) by nearest rank over all runs of s, the
 * censored ones counting as larger than any value. -1 when that rank falls
 * on a censored run. */
static double plot__quantile(const plot__series *s, double q) {
    long rank = (long)ceil(q * (double)s->runs);
    if (rank < 1) rank = 1;
    return (size_t)rank <= s->n ? s->v[rank - 1] : -1.0;
}

/* Formats a quantile for the table ("-" when not reached). */
static const char *plot__qfmt(double v, char *buf, size_t len) {
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.1f", v);
    return buf;
}

/* Reads every run of kind k into series (sorted, values sorted). 0 or 2. */
static int plot__cdf_read(const plot__kind *k, const char *dbpath, const char *where, plot__series **out,
                          size_t *nout) {
    *out = NULL;
    *nout = 0;
    sqlite3 *db = plot__open_db(dbpath);
    if (!db) return 2;
    int rc = 2;
    sqlite3_stmt *st = NULL;
    plot__series *ser = NULL;
    size_t nser = 0, cap = 0;
    if (!plot__has_col(db, "scenario") || !plot__has_col(db, k->series)) {
        deja_cli_eprintf("deja plot: %s: no %s runs with column \"%s\" (run 'deja sweep %s ... --db %s' first)\n",
                dbpath, k->scenario, k->series, k->scenario, dbpath);
        goto out;
    }
    int has_y = plot__has_col(db, k->x);
    char sql[2048] = "SELECT ";
    plot__ident(sql, sizeof sql, k->series);
    strncat(sql, ", ", sizeof sql - strlen(sql) - 1);
    if (has_y)
        plot__ident(sql, sizeof sql, k->x);
    else
        strncat(sql, "NULL", sizeof sql - strlen(sql) - 1);
    size_t pos = strlen(sql);
    snprintf(sql + pos, sizeof sql - pos, " FROM runs WHERE scenario = ?1%s%s%s", where ? " AND (" : "",
             where ? where : "", where ? ")" : "");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        deja_cli_eprintf("deja plot: %s: %s%s\n", dbpath, sqlite3_errmsg(db), where ? " (check --where)" : "");
        goto out;
    }
    sqlite3_bind_text(st, 1, k->scenario, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) continue;
        char name[64];
        snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(st, 0));
        size_t i = 0;
        while (i < nser && strcmp(ser[i].name, name)) i++;
        if (i == nser) {
            if (nser == cap) {
                cap = cap ? 2 * cap : 16;
                ser = realloc(ser, cap * sizeof *ser);
                if (!ser) abort();
            }
            memset(&ser[nser], 0, sizeof ser[nser]);
            snprintf(ser[nser].name, sizeof ser[nser].name, "%s", name);
            if (sscanf(name, "%lf-%lf", &ser[nser].lo, &ser[nser].hi) == 1) ser[nser].hi = ser[nser].lo;
            nser++;
        }
        plot__series *s = &ser[i];
        s->runs++;
        int t = sqlite3_column_type(st, 1);
        if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) continue; /* censored */
        if (s->n == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->v = realloc(s->v, s->cap * sizeof *s->v);
            if (!s->v) abort();
        }
        s->v[s->n++] = sqlite3_column_double(st, 1);
    }
    if (step != SQLITE_DONE) {
        deja_cli_eprintf("deja plot: %s: %s\n", dbpath, sqlite3_errmsg(db));
        goto out;
    }
    if (nser == 0) {
        deja_cli_eprintf("deja plot: %s: no %s runs%s (sweep it first: 'deja sweep %s ... --db %s')\n", dbpath,
                k->scenario, where ? " matching --where" : "", k->scenario, dbpath);
        goto out;
    }
    qsort(ser, nser, sizeof *ser, plot__series_cmp);
    for (size_t i = 0; i < nser; i++) qsort(ser[i].v, ser[i].n, sizeof *ser[i].v, plot__dbl_cmp);
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    *out = ser;
    *nout = nser;
    return rc;
}

/* Prints (or writes as CSV) the summary table of the series. */
static void plot__cdf_table(const plot__kind *k, FILE *f, const plot__series *ser, size_t n, int csv) {
    if (csv) {
        char h[512];
        plot__csv_header(k, NULL, NULL, h, sizeof h);
        fprintf(f, "%s\n", h);
    } else
        fprintf(f, "%-16s %6s %8s %10s %10s %10s %10s\n", k->series, "runs", "elected", "median", "mean", "p99",
                "max");
    for (size_t i = 0; i < n; i++) {
        const plot__series *s = &ser[i];
        double sum = 0;
        for (size_t j = 0; j < s->n; j++) sum += s->v[j];
        char med[32], p99[32], mean[32], max[32];
        plot__qfmt(plot__quantile(s, 0.5), med, sizeof med);
        plot__qfmt(plot__quantile(s, 0.99), p99, sizeof p99);
        plot__qfmt(s->n ? sum / (double)s->n : -1.0, mean, sizeof mean);
        plot__qfmt(s->n ? s->v[s->n - 1] : -1.0, max, sizeof max);
        if (csv)
            fprintf(f, "%s,%ld,%zu,%s,%s,%s,%s\n", s->name, s->runs, s->n, med, mean, p99, max);
        else
            fprintf(f, "%-16s %6ld %8zu %10s %10s %10s %10s\n", s->name, s->runs, s->n, med, mean, p99, max);
    }
}

/* `deja plot election-cdf`: the CDF plot, the --csv table, the --table
 * summary. 0, or 2 after a message. */
static int plot__cdf(const plot__kind *k, const char *dbpath, const char *where, const char *script,
                     const char *out, const char *csv, int table) {
    plot__series *ser = NULL;
    size_t n = 0;
    int rc = plot__cdf_read(k, dbpath, where, &ser, &n);
    if (!rc && table) {
        plot__cdf_table(k, stdout, ser, n, 0);
        printf("(%s in ms; median and p99 over every run, '-' when that rank had no %s: censored;\n"
               " mean and max over the runs that have one)\n",
               k->y_name, k->y_name);
    }
    if (!rc && csv) {
        deja_outfile *o = deja_outfile_open(csv);
        if (!o) {
            deja_cli_eprintf("deja plot: --csv '%s': %s\n", csv, strerror(errno));
            rc = 2;
        } else {
            plot__cdf_table(k, o->f, ser, n, 1);
            if (deja_outfile_commit(o) != 0) {
                deja_cli_eprintf("deja plot: --csv '%s': %s\n", csv, strerror(errno));
                rc = 2;
            }
            if (!rc) printf("plot: wrote %s (%zu series)\n", csv, n);
        }
    }
    if (!rc && out) {
        const char *tmpdir = getenv("TMPDIR");
        char data[4096], extra[4096] = "titles='";
        snprintf(data, sizeof data, "%s/deja-plot-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", k->name);
        int fd = mkstemp(data);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            deja_cli_eprintf("deja plot: cannot create a temporary data file %s: %s\n", data, strerror(errno));
            rc = 2;
        } else {
            fprintf(f, "# deja plot %s: %s\n# from %s; one block per %s: %s cdf\n", k->name, k->summary, dbpath,
                    k->series, k->y_name);
            int nblocks = 0, arrived = 0;
            double vmax = 0;
            char top[1024] = "", bottom[1024] = "";
            for (size_t i = 0; i < n; i++) {
                const plot__series *s = &ser[i];
                if (nblocks++) fprintf(f, "\n\n");
                if (s->n == 0) fprintf(f, "1e+05 0\n"); /* nothing arrived: a line along 0 */
                for (size_t j = 0; j < s->n; j++)
                    fprintf(f, "%.6g %.6g\n", s->v[j], (double)(j + 1) / (double)s->runs);
                if (s->n > 0) arrived++;
                if (s->n > 0 && s->v[s->n - 1] > vmax) vmax = s->v[s->n - 1];
                size_t l = strlen(extra);
                snprintf(extra + l, sizeof extra - l, "%s%s (%zu/%ld)", nblocks > 1 ? " " : "", s->name, s->n,
                         s->runs);
                /* the paper's panels: MIN fixed at 150 (randomness varies), MAX = 2*MIN (MIN scales) */
                char *panel = s->lo == 150 ? top : s->hi == 2 * s->lo ? bottom : NULL;
                for (int twice = 0; panel != NULL && twice < 2; twice++) {
                    l = strlen(panel);
                    snprintf(panel + l, sizeof top - l, "%s%d", l ? " " : "", nblocks - 1);
                    panel = panel == top && s->hi == 2 * s->lo ? bottom : NULL;
                }
            }
            fclose(f);
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "'; nseries=%d; xmax=%.6g; top='%s'; bottom='%s'", nblocks, vmax,
                     top, bottom);
            if (arrived == 0) {
                deja_cli_eprintf("deja plot: %s: no run has a %s (every run censored)\n", dbpath, k->y_name);
                rc = 2;
            } else {
                rc = plot__gnuplot(script, data, out, extra);
            }
            unlink(data);
        }
        if (!rc) printf("plot: wrote %s (%zu series)\n", out, n);
    }
    for (size_t i = 0; i < n; i++) free(ser[i].v);
    free(ser);
    return rc;
}

/* ---- election-real: simulated against real trials -------------------------- */

#define PLOT__REAL 4

/* Reads the trials `deja cluster --election-trials --csv` wrote (columns
 * election_ms,trial,crash_offset_ms,downtime_ms,...,disturbed) into one
 * series per range; disturbed trials are left out, trials with no
 * downtime count as censored. 0, or 2 after a message. */
static int plot__real_read(const char *path, plot__series **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "deja plot: --real %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[512];
    plot__series *ser = NULL;
    size_t n = 0, cap = 0;
    long lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) {
            if (strncmp(line, "election_ms,", 12) != 0) {
                fprintf(stderr, "deja plot: --real %s:1: not a 'deja cluster --election-trials --csv' file\n", path);
                rc = 2;
                break;
            }
            continue;
        }
        char *fld[8] = {0};
        int nf = 0;
        for (char *c = line, *st = line; nf < 8; c++)
            if (*c == ',' || *c == '\n' || *c == 0) {
                int end = *c == 0 || *c == '\n';
                *c = 0;
                fld[nf++] = st;
                st = c + 1;
                if (end) break;
            }
        if (nf < 7) {
            fprintf(stderr, "deja plot: --real %s:%ld: expected 7 columns\n", path, lineno);
            rc = 2;
            break;
        }
        if (atoi(fld[6]) != 0) continue; /* disturbed: measured nothing */
        size_t i = 0;
        while (i < n && strcmp(ser[i].name, fld[0])) i++;
        if (i == n) {
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                ser = realloc(ser, cap * sizeof *ser);
                if (!ser) abort();
            }
            memset(&ser[n], 0, sizeof ser[n]);
            snprintf(ser[n].name, sizeof ser[n].name, "%s", fld[0]);
            if (sscanf(fld[0], "%lf-%lf", &ser[n].lo, &ser[n].hi) == 1) ser[n].hi = ser[n].lo;
            n++;
        }
        plot__series *sr = &ser[i];
        sr->runs++;
        if (!fld[3][0]) continue; /* no leader: censored */
        if (sr->n == sr->cap) {
            sr->cap = sr->cap ? 2 * sr->cap : 64;
            sr->v = realloc(sr->v, sr->cap * sizeof *sr->v);
            if (!sr->v) abort();
        }
        sr->v[sr->n++] = atof(fld[3]);
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) qsort(ser[i].v, ser[i].n, sizeof *ser[i].v, plot__dbl_cmp);
    if (!rc && n == 0) {
        fprintf(stderr, "deja plot: --real %s: no trials\n", path);
        rc = 2;
    }
    *out = ser;
    *nout = n;
    return rc;
}

/* `deja plot election-real`: for each range of the real trials, the CDF of
 * the simulated runs (--db) and of the real trials (--real) on one plot,
 * and with --table the median and p90 of both. 0, or 2 after a message. */
static int plot__real(const plot__kind *k, const char *dbpath, const char *where, const char *real,
                      const char *script, const char *out, int table) {
    plot__series *sim = NULL, *re = NULL;
    size_t ns = 0, nr = 0;
    int rc = plot__cdf_read(k, dbpath, where, &sim, &ns);
    if (!rc) rc = plot__real_read(real, &re, &nr);
    const plot__series *pair[16][2];
    int np = 0;
    for (size_t i = 0; !rc && i < nr && np < 16; i++)
        for (size_t j = 0; j < ns; j++)
            if (!strcmp(re[i].name, sim[j].name)) {
                pair[np][0] = &sim[j];
                pair[np][1] = &re[i];
                np++;
            }
    if (!rc && np == 0) {
        fprintf(stderr, "deja plot: no range of %s has simulated runs in %s (sweep it: 'deja sweep election "
                        "--grid raft.election_ms=%s ... --db %s')\n", real, dbpath, nr ? re[0].name : "", dbpath);
        rc = 2;
    }
    if (!rc && table) {
        printf("%-16s %-9s %6s %8s %10s %10s %10s %10s\n", "raft.election_ms", "source", "trials", "elected",
               "median", "p90", "mean", "max");
        for (int p = 0; p < np; p++)
            for (int w = 0; w < 2; w++) {
                const plot__series *sr = pair[p][w];
                double sum = 0;
                for (size_t j = 0; j < sr->n; j++) sum += sr->v[j];
                char med[32], p90[32], mean[32], max[32];
                plot__qfmt(plot__quantile(sr, 0.5), med, sizeof med);
                plot__qfmt(plot__quantile(sr, 0.9), p90, sizeof p90);
                plot__qfmt(sr->n ? sum / (double)sr->n : -1.0, mean, sizeof mean);
                plot__qfmt(sr->n ? sr->v[sr->n - 1] : -1.0, max, sizeof max);
                printf("%-16s %-9s %6ld %8zu %10s %10s %10s %10s\n", sr->name, w ? "real" : "simulated", sr->runs,
                       sr->n, med, p90, mean, max);
            }
        printf("(downtime_ms in ms, from the crash to a new leader; median and p90 over every trial)\n");
    }
    if (!rc && out) {
        const char *tmpdir = getenv("TMPDIR");
        char data[4096], extra[4096] = "titles='";
        snprintf(data, sizeof data, "%s/deja-plot-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", k->name);
        int fd = mkstemp(data);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            fprintf(stderr, "deja plot: cannot create a temporary data file %s: %s\n", data, strerror(errno));
            rc = 2;
        } else {
            double vmax = 0;
            for (int p = 0; p < np; p++)
                for (int w = 0; w < 2; w++) {
                    const plot__series *sr = pair[p][w];
                    if (p || w) fprintf(f, "\n\n");
                    if (sr->n == 0) fprintf(f, "1e+05 0\n");
                    for (size_t j = 0; j < sr->n; j++)
                        fprintf(f, "%.6g %.6g\n", sr->v[j], (double)(j + 1) / (double)sr->runs);
                    if (sr->n && sr->v[sr->n - 1] > vmax) vmax = sr->v[sr->n - 1];
                    size_t l = strlen(extra);
                    snprintf(extra + l, sizeof extra - l, "%s%s:%s(%zu/%ld)", p || w ? " " : "", sr->name,
                             w ? "real" : "simulated", sr->n, sr->runs);
                }
            fclose(f);
            size_t l = strlen(extra);
            snprintf(extra + l, sizeof extra - l, "'; npairs=%d; xmax=%.6g", np, vmax);
            rc = plot__gnuplot(script, data, out, extra);
            unlink(data);
            if (!rc) printf("plot: wrote %s (%d ranges, simulated and real)\n", out, np);
        }
    }
    for (size_t i = 0; i < ns; i++) free(sim[i].v);
    for (size_t i = 0; i < nr; i++) free(re[i].v);
    free(sim);
    free(re);
    return rc;
}

/* ---- heatmap kinds (timeout-heatmap): a metric over two parameters -------- */

#define PLOT__HEAT 3
#define PLOT__HEAT_MAX 64 /* distinct values per axis */

/* The second axis, when --y is not given: the first of these the rows vary. */
static const char *const plot__heat_axes[] = {"fault.pause_ms", "clock.drift_ppm", "clock.step_ms", "clock.offset_ms",
                                              "net.jitter_ms",  "net.latency_ms",  NULL};

/* One cell: the runs at one (x, y). */
typedef struct plot__cell {
    double sum, bound, bound_pause;
    long n, led;
} plot__cell;

/* The distinct values of one axis, in numeric order of their leading number
 * ("150-300" sorts as 150). */
typedef struct plot__axis {
    char v[PLOT__HEAT_MAX][64];
    double num[PLOT__HEAT_MAX];
    int n;
} plot__axis;

/* The index of value s on axis a, adding it when new (-1 when full). */
static int plot__axis_index(plot__axis *a, const char *s) {
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->v[i], s)) return i;
    if (a->n == PLOT__HEAT_MAX) return -1;
    snprintf(a->v[a->n], sizeof a->v[a->n], "%s", s);
    a->num[a->n] = atof(s);
    return a->n++;
}

/* Sorts the axis numerically; perm[old] = new index. */
static void plot__axis_sort(plot__axis *a, int *perm) {
    int order[PLOT__HEAT_MAX];
    for (int i = 0; i < a->n; i++) order[i] = i;
    for (int i = 1; i < a->n; i++)
        for (int j = i; j > 0 && a->num[order[j]] < a->num[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    plot__axis s = *a;
    for (int i = 0; i < a->n; i++) {
        perm[order[i]] = i;
        memcpy(a->v[i], s.v[order[i]], sizeof a->v[i]);
        a->num[i] = s.num[order[i]];
    }
}

/* Maps the value x onto the axis's index scale (linear between grid values,
 * extrapolated from the nearest interval), clamped to the drawn area. */
static double plot__axis_pos(const plot__axis *a, double x) {
    if (a->n == 1) return x < a->num[0] ? -0.5 : x > a->num[0] ? 0.5 : 0.0;
    int i = 0;
    while (i < a->n - 2 && x > a->num[i + 1]) i++;
    double span = a->num[i + 1] - a->num[i];
    double pos = i + (span > 0 ? (x - a->num[i]) / span : 0.0);
    if (pos < -0.5) pos = -0.5;
    if (pos > a->n - 0.5) pos = a->n - 0.5;
    return pos;
}

/* For column j of cells (one y value): the MIN where MIN = bound, from the
 * cells' mean bounds. The bound is affine in MIN (its window may be the
 * election timeout), so the first and last x with runs fix it. -1 when no
 * cell has runs. */
static double plot__heat_crossing(const plot__axis *xa, plot__cell *cells, int ny, int j, int pause) {
    int first = -1, last = -1;
    for (int i = 0; i < xa->n; i++)
        if (cells[i * ny + j].n > 0) {
            if (first < 0) first = i;
            last = i;
        }
    if (first < 0) return -1;
    const plot__cell *c1 = &cells[first * ny + j], *c2 = &cells[last * ny + j];
    double b1 = (pause ? c1->bound_pause : c1->bound) / (double)c1->n;
    double b2 = (pause ? c2->bound_pause : c2->bound) / (double)c2->n;
    if (first == last || xa->num[last] == xa->num[first]) return b1;
    double slope = (b2 - b1) / (xa->num[last] - xa->num[first]);
    double icpt = b1 - slope * xa->num[first];
    return slope < 1 ? icpt / (1 - slope) : -1;
}

/* For column j of cells (one y value): the measured boundary, the index of
 * the smallest x from which on every cell with runs has a mean of 0 (and a
 * leader in most runs). -1 when the largest x still has some. */
static int plot__heat_boundary(const plot__axis *xa, const plot__cell *cells, int ny, int j) {
    int b = -1;
    for (int i = xa->n - 1; i >= 0; i--) {
        const plot__cell *c = &cells[i * ny + j];
        if (c->n == 0) continue;
        if (c->sum != 0 || 2 * c->led < c->n) break;
        b = i;
    }
    return b;
}

/* `deja plot timeout-heatmap`: the heatmap (and --csv). 0, or 2 after a
 * message. */
static int plot__heat(const plot__kind *k, const char *dbpath, const char *where, const char *script,
                      const char *out, const char *csv, const char *xkey, const char *ykey) {
    sqlite3 *db = plot__open_db(dbpath);
    if (!db) return 2;
    int rc = 2;
    sqlite3_stmt *st = NULL;
    plot__axis *xa = calloc(1, sizeof *xa), *ya = calloc(1, sizeof *ya);
    plot__cell *cells = NULL;
    if (!xa || !ya) abort();
    if (!xkey) xkey = k->x;
    const char *need[] = {"scenario", xkey, "bound_ms", "bound_pause_ms"};
    for (int i = 0; i < 4; i++)
        if (!plot__has_col(db, need[i])) {
            deja_cli_eprintf("deja plot: %s: no %s rows with column \"%s\" (run 'deja sweep %s ... --db %s' first)\n",
                    dbpath, k->scenario, need[i], k->scenario, dbpath);
            goto out;
        }
    if (ykey && !plot__has_col(db, ykey)) {
        deja_cli_eprintf("deja plot: %s: --y %s: no such column\n", dbpath, ykey);
        goto out;
    }
    for (int i = 0; !ykey && plot__heat_axes[i]; i++) {
        if (!strcmp(plot__heat_axes[i], xkey) || !plot__has_col(db, plot__heat_axes[i])) continue;
        char sql[512] = "SELECT COUNT(DISTINCT ";
        plot__ident(sql, sizeof sql, plot__heat_axes[i]);
        strncat(sql, ") FROM runs WHERE scenario = ?1", sizeof sql - strlen(sql) - 1);
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) break;
        sqlite3_bind_text(st, 1, k->scenario, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 1) ykey = plot__heat_axes[i];
        sqlite3_finalize(st);
        st = NULL;
    }
    if (!ykey) {
        deja_cli_eprintf("deja plot: %s: the %s rows vary none of fault.pause_ms, clock.drift_ppm, clock.offset_ms, "
                        "net.jitter_ms, net.latency_ms; name the second axis with --y KEY\n", dbpath, k->scenario);
        goto out;
    }
    char sql[2048] = "SELECT ";
    plot__ident(sql, sizeof sql, xkey);
    strncat(sql, ", ", sizeof sql - strlen(sql) - 1);
    plot__ident(sql, sizeof sql, ykey);
    size_t pos = strlen(sql);
    snprintf(sql + pos, sizeof sql - pos,
             ", %s, bound_ms, bound_pause_ms, first_leader_ms IS NOT NULL FROM runs WHERE scenario = ?1 AND (%s)%s%s%s",
             k->y_sql, k->valid, where ? " AND (" : "", where ? where : "", where ? ")" : "");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        deja_cli_eprintf("deja plot: %s: %s%s\n", dbpath, sqlite3_errmsg(db), where ? " (check --where)" : "");
        goto out;
    }
    sqlite3_bind_text(st, 1, k->scenario, -1, SQLITE_STATIC);
    cells = calloc((size_t)PLOT__HEAT_MAX * PLOT__HEAT_MAX, sizeof *cells);
    if (!cells) abort();
    long nruns = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) == SQLITE_NULL || sqlite3_column_type(st, 1) == SQLITE_NULL) continue;
        int i = plot__axis_index(xa, (const char *)sqlite3_column_text(st, 0));
        int j = plot__axis_index(ya, (const char *)sqlite3_column_text(st, 1));
        if (i < 0 || j < 0) {
            deja_cli_eprintf("deja plot: %s: more than %d values on an axis\n", dbpath, PLOT__HEAT_MAX);
            goto out;
        }
        plot__cell *c = &cells[i * PLOT__HEAT_MAX + j];
        c->n++;
        c->sum += sqlite3_column_double(st, 2);
        c->bound += sqlite3_column_double(st, 3);
        c->bound_pause += sqlite3_column_double(st, 4);
        c->led += sqlite3_column_int(st, 5);
        nruns++;
    }
    if (step != SQLITE_DONE) {
        deja_cli_eprintf("deja plot: %s: %s\n", dbpath, sqlite3_errmsg(db));
        goto out;
    }
    if (nruns == 0) {
        deja_cli_eprintf("deja plot: %s: no %s runs%s (sweep it first: 'deja sweep %s ... --db %s')\n", dbpath,
                k->scenario, where ? " matching --where" : "", k->scenario, dbpath);
        goto out;
    }
    /* sort both axes and lay the cells out densely: cells[i * ny + j] */
    int px[PLOT__HEAT_MAX], py[PLOT__HEAT_MAX];
    plot__axis_sort(xa, px);
    plot__axis_sort(ya, py);
    int nx = xa->n, ny = ya->n;
    plot__cell *dense = calloc((size_t)nx * (size_t)ny, sizeof *dense);
    if (!dense) abort();
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) dense[px[i] * ny + py[j]] = cells[i * PLOT__HEAT_MAX + j];
    free(cells);
    cells = dense;
    double cross[PLOT__HEAT_MAX], cross_p[PLOT__HEAT_MAX];
    int pause_differs = 0;
    for (int j = 0; j < ny; j++) {
        cross[j] = plot__heat_crossing(xa, cells, ny, j, 0);
        cross_p[j] = plot__heat_crossing(xa, cells, ny, j, 1);
        if (cross_p[j] != cross[j]) pause_differs = 1;
    }
    if (csv) {
        deja_outfile *o = deja_outfile_open(csv);
        if (!o) {
            deja_cli_eprintf("deja plot: --csv '%s': %s\n", csv, strerror(errno));
            goto out;
        }
        FILE *f = o->f;
        char h[512];
        plot__csv_header(k, xkey, ykey, h, sizeof h);
        fprintf(f, "%s\n", h);
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < ny; j++) {
                const plot__cell *c = &cells[i * ny + j];
                if (c->n == 0) continue;
                int mb = plot__heat_boundary(xa, cells, ny, j);
                fprintf(f, "%s,%s,%.6g,%ld,%ld,%.6g,%.6g,%.6g,%.6g\n", xa->v[i], ya->v[j], c->sum / (double)c->n,
                        c->n, c->led, c->bound / (double)c->n, c->bound_pause / (double)c->n, cross[j],
                        mb < 0 ? -1.0 : xa->num[mb]);
            }
        if (deja_outfile_commit(o) != 0) {
            deja_cli_eprintf("deja plot: --csv '%s': %s\n", csv, strerror(errno));
            goto out;
        }
        printf("plot: wrote %s (%d x %d cells from %ld runs)\n", csv, nx, ny, nruns);
    }
    if (out) {
        const char *tmpdir = getenv("TMPDIR");
        char data[4096];
        snprintf(data, sizeof data, "%s/deja-plot-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", k->name);
        int fd = mkstemp(data);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            deja_cli_eprintf("deja plot: cannot create a temporary data file %s: %s\n", data, strerror(errno));
            goto out;
        }
        fprintf(f, "# deja plot %s from %s (%ld runs of %s)\n", k->name, dbpath, nruns, k->scenario);
        fprintf(f, "# block 0: x_index y_index %s_mean runs led_fraction\n", k->y_name);
        for (int i = 0; i < nx; i++)
            for (int j = 0; j < ny; j++) {
                const plot__cell *c = &cells[i * ny + j];
                if (c->n > 0)
                    fprintf(f, "%d %d %.6g %ld %.3f\n", i, j, c->sum / (double)c->n, c->n,
                            (double)c->led / (double)c->n);
            }
        for (int b = 0; b < 2; b++) {
            fprintf(f, "\n\n# block %d: the line MIN = %s (x position, y position)\n", b + 1,
                    b ? "bound_pause_ms" : "bound_ms");
            const double *cr = b ? cross_p : cross;
            int shown = 0;
            for (int j = 0; j < ny; j++) {
                if (cr[j] < 0) continue;
                double xp = plot__axis_pos(xa, cr[j]);
                if (!shown++) fprintf(f, "%.4f %.4f\n", xp, j - 0.5);
                fprintf(f, "%.4f %d\n", xp, j);
                if (j == ny - 1) fprintf(f, "%.4f %.4f\n", xp, j + 0.5);
            }
            if (!shown) fprintf(f, "-1 -1\n");
        }
        /* block 3: the measured boundary, a step along the left edges of the first all-zero cells */
        fprintf(f, "\n\n# block 3: measured boundary (x position, y position)\n");
        for (int j = 0; j < ny; j++) {
            int mb = plot__heat_boundary(xa, cells, ny, j);
            double xp = mb < 0 ? nx - 0.5 : mb - 0.5;
            fprintf(f, "%.4f %.4f\n%.4f %.4f\n", xp, j - 0.5, xp, j + 0.5);
        }
        fclose(f);
        char extra[4096], xt[1024] = "", yt[1024] = "";
        for (int i = 0; i < nx; i++) {
            size_t l = strlen(xt);
            snprintf(xt + l, sizeof xt - l, "%s%g", i ? " " : "", xa->num[i]);
        }
        for (int j = 0; j < ny; j++) {
            size_t l = strlen(yt);
            snprintf(yt + l, sizeof yt - l, "%s%s", j ? " " : "", ya->v[j]);
        }
        char xq[256] = "", yq[256] = "";
        plot__gp_quote(xq, sizeof xq, xkey);
        plot__gp_quote(yq, sizeof yq, ykey);
        snprintf(extra, sizeof extra, "nx=%d; ny=%d; xtl='%s'; ytl='%s'; xkey=%s; ykey=%s; haspause=%d", nx, ny, xt,
                 yt, xq, yq, pause_differs);
        rc = plot__gnuplot(script, data, out, extra);
        unlink(data);
        if (rc) goto out;
        printf("plot: wrote %s (%s x %s, %d x %d cells from %ld runs)\n", out, xkey, ykey, nx, ny, nruns);
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(cells);
    free(xa);
    free(ya);
    return rc;
}

/* Everything `deja plot` is given, filled by its flag table. */
typedef struct plot__args {
    const char *db, *out, *csv, *where, *timeline, *real, *x, *y, *series, *scenario;
    bool table;
} plot__args;

#define PLOT__STR(flag, field, mv, text)                                                                           \
    {.name = flag, .kind = DEJA_CLI_STR, .off = offsetof(plot__args, field), .metavar = mv, .help = text}
static const deja_cli_opt plot__rows[] = {
    PLOT__STR("--db", db, "FILE", "the sweep database ('deja sweep ... --db FILE')"),
    {.name = "-o", .alias = "--output", .kind = DEJA_CLI_STR, .off = offsetof(plot__args, out), .metavar = "OUT.png",
     .help = "where to write the PNG (needs gnuplot; also --output)"},
    PLOT__STR("--csv", csv, "FILE",
              "also (or only) export the aggregated data as CSV, one\n"
              "row per group under the kind's header (below): the\n"
              "means and the sample standard deviations over seeds"),
    PLOT__STR("--where", where, "SQL",
              "only runs matching this SQL condition, e.g.\n"
              "--where '\"net.latency_ms\" = 50' (when the sweep varied\n"
              "more parameters than the plot shows)"),
    PLOT__STR("--x", x, "KEY",
              "(timeout-heatmap, metric, drift-fork) the x axis, a\n"
              "column of the sweep database"),
    PLOT__STR("--y", y, "KEY",
              "(timeout-heatmap) the y axis, the cells the mean over\n"
              "seeds; (metric) the per-run y value: a column or an\n"
              "SQL expression over the columns"),
    PLOT__STR("--series", series, "KEY",
              "(metric, drift-fork) one line per value of column KEY\n"
              "(drift-fork: or " PLOT__TIMESYNC ", one per time-sync setting)"),
    PLOT__STR("--scenario", scenario, "NAME", "(metric) the scenario whose runs are read"),
    {.name = "--table", .kind = DEJA_CLI_BOOL, .off = offsetof(plot__args, table),
     .help = "(election-cdf) print per series: runs, runs with a\n"
             "result, median, mean, p99 and max of the metric;\n"
             "(election-real) median, p90, mean and max, simulated\n"
             "beside real"},
    PLOT__STR("--real", real, "FILE",
              "(election-real) the trials of 'deja cluster\n"
              "--election-trials N --csv FILE'"),
    PLOT__STR("--timeline", timeline, "FILE.csv",
              "(memory) the timeline of one run: 'deja run\n"
              "SCENARIO --seed N --timeline FILE.csv'"),
    {0},
};

static const deja_cli_table plot__tables[] = {{plot__rows, 0}, {0}};

const deja_cli_spec deja_plot_spec = {.cmd = "plot", .help = plot__help, .tables = plot__tables, .max_pos = 1, .pos_name = "kind"};

int deja_cmd_plot(int argc, char **argv) {
    plot__args a = {0};
    const char *kind = NULL;
    int npos = 0;
    int prc = deja_cli_parse(&deja_plot_spec, argc, argv, &a, &kind, &npos);
    if (prc) return prc == DEJA_CLI_HELP ? 0 : prc;
    const char *dbpath = a.db, *out = a.out, *csv = a.csv, *where = a.where, *timeline = a.timeline;
    const char *xkey = a.x, *ykey = a.y, *series = a.series, *scenario = a.scenario, *real = a.real;
    int table = a.table;
    if (!kind) return deja_cli_usage_error("plot", "missing KIND (e.g. drift-fork or memory)");
    const plot__kind *k = NULL;
    for (size_t i = 0; i < PLOT__NKINDS; i++)
        if (!strcmp(plot__kinds[i].name, kind)) k = &plot__kinds[i];
    if (!k) return deja_cli_usage_error("plot", "unknown plot kind '%s'", kind);
    plot__kind mk;
    char y_sql[1024] = "", extra[2048] = "";
    const int metric = plot__is_metric(k); /* k is replaced by mk below */
    const int drift = !strcmp(k->name, "drift-fork");
    if ((series && !metric && !drift) || (scenario && !metric))
        return deja_cli_usage_error("plot", "%s is for 'deja plot metric'%s, not %s", series ? "--series" : "--scenario",
                                    series ? " and 'deja plot drift-fork'" : "", k->name);
    if (metric) {
        if (!scenario) return deja_cli_usage_error("plot", "metric: missing --scenario NAME");
        if (!xkey) return deja_cli_usage_error("plot", "metric: missing --x KEY (a parameter column)");
        if (!ykey) return deja_cli_usage_error("plot", "metric: missing --y METRIC (a column or an SQL expression)");
        mk = *k;
        mk.scenario = scenario;
        mk.x = xkey;
        mk.series = series ? series : "scenario";
        mk.y_name = "y";
        /* a plain name is a column (quoted: keys hold dots); anything else is SQL */
        if (strspn(ykey, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == strlen(ykey)) {
            plot__ident(y_sql, sizeof y_sql, ykey);
            mk.y_name = ykey;
        } else {
            snprintf(y_sql, sizeof y_sql, "(%s)", ykey);
        }
        mk.y_sql = y_sql;
        strncat(extra, "xname=", sizeof extra - strlen(extra) - 1);
        plot__gp_quote(extra, sizeof extra, xkey);
        strncat(extra, "; yname=", sizeof extra - strlen(extra) - 1);
        plot__gp_quote(extra, sizeof extra, ykey);
        strncat(extra, "; sname=", sizeof extra - strlen(extra) - 1);
        plot__gp_quote(extra, sizeof extra, series ? series : "");
        strncat(extra, "; scenario=", sizeof extra - strlen(extra) - 1);
        plot__gp_quote(extra, sizeof extra, scenario);
        k = &mk;
        xkey = ykey = NULL;
    }
    if (k->timeline == 1) {
        if (dbpath)
            return deja_cli_usage_error("plot",
                                        "%s plots read one run's resident-size timeline, not a sweep database: "
                                        "write it with 'deja run SCENARIO --seed N --timeline FILE.csv', then "
                                        "'deja plot %s --timeline FILE.csv -o OUT.png'",
                                        k->name, k->name);
        if (csv || where)
            return deja_cli_usage_error("plot", "%s: %s does not apply (the timeline is CSV already)",
                                        csv ? "--csv" : "--where", k->name);
        if (!timeline) return deja_cli_usage_error("plot", "missing --timeline FILE.csv");
        if (!out) return deja_cli_usage_error("plot", "missing -o OUT.png");
    } else {
        if (timeline)
            return deja_cli_usage_error("plot", "--timeline is for 'deja plot memory'; %s reads --db FILE", k->name);
        if (!dbpath) return deja_cli_usage_error("plot", "missing --db FILE");
        if (k->timeline == PLOT__REAL && !real)
            return deja_cli_usage_error("plot", "%s: missing --real FILE.csv ('deja cluster --election-trials N "
                                                "--csv FILE.csv')", k->name);
        if (k->timeline != PLOT__REAL && real)
            return deja_cli_usage_error("plot", "--real is for 'deja plot election-real', not %s", k->name);
        if (k->timeline == PLOT__REAL && csv)
            return deja_cli_usage_error("plot", "--csv: %s has no CSV export (its inputs are the tables)", k->name);
        if (!out && !csv && !(table && (k->timeline == PLOT__CDF || k->timeline == PLOT__REAL)))
            return deja_cli_usage_error("plot", "missing -o OUT.png (or --csv FILE%s)",
                                        k->timeline == PLOT__CDF ? ", or --table" : "");
    }

    char script[4096];
    if (out) {
        char dir[4096];
        plot__scripts_dir(dir, sizeof dir);
        int w = snprintf(script, sizeof script, "%s/%s", dir, k->script);
        if (w < 0 || (size_t)w >= sizeof script || access(script, R_OK) != 0) {
            deja_cli_eprintf("deja plot: gnuplot script %s: %s (set DEJA_PLOTS_DIR to the plots/ directory)\n",
                    script, strerror(errno));
            return 2;
        }
        if (!plot__on_path("gnuplot")) {
            deja_cli_eprintf("deja plot: gnuplot is not on PATH (install it: apt-get install gnuplot-nox), "
                            "or use --csv FILE\n");
            return 2;
        }
        if (!deja_cli_dir_writable(out)) return deja_cli_usage_error("plot", "-o '%s': directory not writable", out);
    }
    if ((ykey || (xkey && !drift)) && k->timeline != PLOT__HEAT)
        return deja_cli_usage_error("plot", "%s for heatmap kinds (timeout-heatmap)%s, not %s",
                                    ykey ? "--x and --y are" : "--x is", ykey ? " and --x for drift-fork" : "",
                                    k->name);
    plot__kind dk;
    if (drift) { /* drift-fork: lines and x from the flags, else from what the rows vary */
        const char *ds = series, *dx = xkey;
        if ((!ds || !dx) && plot__drift_axes(k, dbpath, where, &ds, &dx)) return 2;
        dk = *k;
        dk.series = ds ? ds : k->series;
        dk.x = dx ? dx : k->x;
        k = &dk;
        xkey = NULL;
    }
    if (k->timeline == 1) return plot__memory(k, timeline, script, out);
    if (k->timeline == PLOT__HEAT) return plot__heat(k, dbpath, where, script, out, csv, xkey, ykey);
    if (k->timeline == PLOT__CDF) return plot__cdf(k, dbpath, where, script, out, csv, table);
    if (k->timeline == PLOT__REAL) return plot__real(k, dbpath, where, real, script, out, table);
    plot__group *g = NULL;
    size_t n = 0;
    long nruns = 0;
    int rc = plot__aggregate(k, dbpath, where, &g, &n, &nruns);
    if (!rc && csv) {
        rc = plot__write_csv(k, csv, g, n);
        if (!rc) printf("plot: wrote %s (%zu groups from %ld runs)\n", csv, n, nruns);
    }
    if (!rc && out) {
        const char *tmpdir = getenv("TMPDIR");
        char data[4096];
        snprintf(data, sizeof data, "%s/deja-plot-%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", k->name);
        int fd = mkstemp(data);
        if (fd < 0) {
            deja_cli_eprintf("deja plot: cannot create a temporary data file %s: %s\n", data, strerror(errno));
            rc = 2;
        } else {
            rc = plot__write_data(k, dbpath, fd, g, n, nruns);
            if (rc) deja_cli_eprintf("deja plot: cannot write %s\n", data);
            if (!rc && metric) { /* the series values, for the key: snames='a b c' */
                char names[1024] = "";
                for (size_t i = 0; i < n; i++)
                    if (i == 0 || strcmp(g[i].series, g[i - 1].series)) {
                        if (names[0]) strncat(names, " ", sizeof names - strlen(names) - 1);
                        strncat(names, g[i].series, sizeof names - strlen(names) - 1);
                    }
                strncat(extra, "; snames=", sizeof extra - strlen(extra) - 1);
                plot__gp_quote(extra, sizeof extra, names);
            }
            if (!rc && drift) plot__drift_labels(k, g, n, extra, sizeof extra);
            if (!rc) rc = plot__gnuplot(script, data, out, extra[0] ? extra : NULL);
            unlink(data);
        }
        if (!rc && drift && (strcmp(k->series, plot__kinds[0].series) || strcmp(k->x, plot__kinds[0].x)))
            printf("plot: wrote %s (%zu groups from %ld runs; lines by %s, x %s)\n", out, n, nruns, k->series, k->x);
        else if (!rc)
            printf("plot: wrote %s (%zu groups from %ld runs)\n", out, n, nruns);
    }
    free(g);
    return rc;
}
