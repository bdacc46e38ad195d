/*
 * cmd_scenarios.c -- `deja scenarios`: the catalogue of scenarios, each with
 * its summary and every parameter with its default and help, as the
 * scenario table (deja_scenarios) declares them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "deja/deja.h"
#include "deja/world.h"

static void scenarios__help(FILE *out) {
    fprintf(out,
            "usage: deja scenarios [NAME] [--json]\n\n"
            "Lists every scenario (or only NAME) with its summary and each of its\n"
            "parameters: key, default and what it means. Override a parameter with\n"
            "'deja run NAME --seed N --set key=value'.\n\n"
            "  --json   print them as JSON: {\"scenarios\": [{\"name\", \"summary\",\n"
            "           \"params\": [{\"key\", \"default\", \"help\"}...]}...],\n"
            "           \"common_params\": [...]} (those every scenario takes)\n\n"
            "exit status: 0; 2 when NAME is not a scenario.\n");
}

/* Prints a parameter table, aligned. */
static void scenarios__table(const deja_param_def *params, FILE *out) {
    int kw = 0, dw = 0;
    for (const deja_param_def *p = params; p && p->key; p++) {
        int k = (int)strlen(p->key), d = (int)strlen(p->dflt ? p->dflt : "");
        if (k > kw) kw = k;
        if (d > dw) dw = d;
    }
    for (const deja_param_def *p = params; p && p->key; p++)
        fprintf(out, "      %-*s = %-*s  %s\n", kw, p->key, dw, p->dflt ? p->dflt : "", p->help ? p->help : "");
}

/* The parameters every scenario accepts, by group, with where they are
 * described. */
static const struct {
    const char *what;
    const deja_param_def *params;
} scenarios__groups[] = {
    {"disk faults (docs/disk.md)", deja_disk_params},
    {"memory (docs/simulation.md)", deja_mem_params},
    {"process faults (docs/simulation.md)", deja_fault_params},
    {"network faults (docs/simulation.md)", deja_net_fault_params},
    {"detectors (docs/simulation.md)", deja_detect_params},
};

/* Prints the common parameters every scenario accepts, group by group. */
static void scenarios__common(FILE *out) {
    fprintf(out, "\nevery scenario also takes (key = default  help; a scenario's own default above wins):\n");
    for (size_t g = 0; g < sizeof scenarios__groups / sizeof scenarios__groups[0]; g++) {
        fprintf(out, "    %s:\n", scenarios__groups[g].what);
        scenarios__table(scenarios__groups[g].params, out);
    }
}

/* Prints every common parameter as one JSON array. */
static void scenarios__json_common(FILE *out) {
    fputc('[', out);
    int k = 0;
    for (size_t g = 0; g < sizeof scenarios__groups / sizeof scenarios__groups[0]; g++)
        for (const deja_param_def *p = scenarios__groups[g].params; p->key; p++) {
            fputs(k++ ? ",\n      {\"key\": " : "\n      {\"key\": ", out);
            deja_cli_json_string(out, p->key);
            fputs(", \"default\": ", out);
            deja_cli_json_string(out, p->dflt ? p->dflt : "");
            fputs(", \"help\": ", out);
            deja_cli_json_string(out, p->help ? p->help : "");
            fputc('}', out);
        }
    fputs(k ? "\n    ]" : "]", out);
}

/* Prints one scenario: name, summary, then its parameters aligned. */
static void scenarios__print(const deja_scenario *sc, FILE *out) {
    fprintf(out, "%s\n    %s\n", sc->name, sc->summary ? sc->summary : "");
    int kw = 0, dw = 0;
    for (const deja_param_def *p = sc->params; p && p->key; p++) {
        int k = (int)strlen(p->key), d = (int)strlen(p->dflt ? p->dflt : "");
        if (k > kw) kw = k;
        if (d > dw) dw = d;
    }
    if (!sc->params || !sc->params[0].key) {
        fprintf(out, "    (no parameters)\n");
        return;
    }
    fprintf(out, "    parameters (key = default  help):\n");
    for (const deja_param_def *p = sc->params; p->key; p++)
        fprintf(out, "      %-*s = %-*s  %s\n", kw, p->key, dw, p->dflt ? p->dflt : "", p->help ? p->help : "");
}

/* Prints a parameter table as a JSON array. */
static void scenarios__json_params(const deja_param_def *params, FILE *out) {
    fputc('[', out);
    for (const deja_param_def *p = params; p && p->key; p++) {
        fputs(p == params ? "\n      {\"key\": " : ",\n      {\"key\": ", out);
        deja_cli_json_string(out, p->key);
        fputs(", \"default\": ", out);
        deja_cli_json_string(out, p->dflt ? p->dflt : "");
        fputs(", \"help\": ", out);
        deja_cli_json_string(out, p->help ? p->help : "");
        fputc('}', out);
    }
    fputs(params && params[0].key ? "\n    ]" : "]", out);
}

/* Prints one scenario as a JSON object. */
static void scenarios__json(const deja_scenario *sc, FILE *out) {
    fputs("    {\"name\": ", out);
    deja_cli_json_string(out, sc->name);
    fputs(", \"summary\": ", out);
    deja_cli_json_string(out, sc->summary ? sc->summary : "");
    fputs(", \"params\": ", out);
    scenarios__json_params(sc->params, out);
    fputc('}', out);
}

/* Everything `deja scenarios` is given, filled by its flag table. */
typedef struct scenarios__args {
    bool json;
} scenarios__args;

static const deja_cli_opt scenarios__rows[] = {
    {.name = "--json", .kind = DEJA_CLI_BOOL, .off = offsetof(scenarios__args, json)},
    {0},
};

static const deja_cli_table scenarios__tables[] = {{scenarios__rows, 0}, {0}};

const deja_cli_spec deja_scenarios_spec = {.cmd = "scenarios", .help = scenarios__help, .tables = scenarios__tables, .max_pos = 1};

int deja_cmd_scenarios(int argc, char **argv) {
    scenarios__args a = {0};
    const char *only = NULL;
    int npos = 0;
    int rc = deja_cli_parse(&deja_scenarios_spec, argc, argv, &a, &only, &npos);
    if (rc) return rc == DEJA_CLI_HELP ? 0 : rc;
    const bool json = a.json;
    const deja_scenario *one = NULL;
    if (only && !(one = deja_scenario_find(only))) return deja_cli_usage_error("scenarios", "unknown scenario '%s'", only);
    const deja_scenario *const *all = deja_scenarios();
    if (json) {
        fputs("{\"scenarios\": [", stdout);
        int k = 0;
        for (int i = 0; all && all[i]; i++) {
            if (one && all[i] != one) continue;
            fputs(k++ ? ",\n" : "\n", stdout);
            scenarios__json(all[i], stdout);
        }
        fputs(k ? "\n], \"common_params\": " : "], \"common_params\": ", stdout);
        scenarios__json_common(stdout);
        fputs("}\n", stdout);
        return 0;
    }
    if (one) {
        scenarios__print(one, stdout);
        scenarios__common(stdout);
        return 0;
    }
    int n = 0;
    for (int i = 0; all && all[i]; i++, n++) {
        if (i) fputc('\n', stdout);
        scenarios__print(all[i], stdout);
    }
    if (n == 0) printf("(no scenarios are built in)\n");
    scenarios__common(stdout);
    return 0;
}
