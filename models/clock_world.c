/*
 * clock_world.c -- nodes with skewed clocks and the network's settings,
 * built from the clock.*, sim.* and net.* parameters (see clock_world.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock_world.h"

/* Parses clock.offsets_ms ("" or one decimal per node, comma-separated)
 * into ns; 0, or 2 naming the parameter. */
static int deja__clock_offsets(const char *v, int64_t *out, int *n, int nodes, char *err, size_t errlen) {
    *n = 0;
    if (!v || !*v) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int64_t x;
        if (*n >= nodes || deja_parse_fixed9(tok, &x) != 0 || llabs(x) > 1000000000 * (int64_t)1000000) {
            snprintf(err, errlen, "parameter clock.offsets_ms=%s: expected %d offsets in ms, comma-separated", v,
                     nodes);
            return 2;
        }
        out[(*n)++] = x / 1000;
    }
    if (*n != nodes) {
        snprintf(err, errlen, "parameter clock.offsets_ms=%s: expected %d offsets, got %d", v, nodes, *n);
        return 2;
    }
    return 0;
}

int deja_clock_nodes(deja_world *w, const deja_params *p, const char *program, char *err, size_t errlen) {
    int64_t nodes, dur, off, drift, step, every;
    if (deja_params_i64(p, "sim.nodes", 1, INT32_MAX, &nodes, err, errlen) ||
        deja_params_i64(p, "sim.duration_s", 1, 10000000, &dur, err, errlen) ||
        deja_params_fixed9(p, "clock.offset_ms", 0, 1000000000, &off, err, errlen) ||
        deja_params_fixed9(p, "clock.drift_ppm", 0, 100000, &drift, err, errlen) ||
        deja_params_fixed9(p, "clock.step_ms", 0, 1000000000, &step, err, errlen) ||
        deja_params_fixed9(p, "clock.step_every_s", 0, 1000000000, &every, err, errlen))
        return 2;
    int64_t sign = 0; /* clock.step_sign, where the scenario has it: 1 every step forward, -1 backward */
    if (deja_params_get(p, "clock.step_sign") && deja_params_i64(p, "clock.step_sign", -1, 1, &sign, err, errlen))
        return 2;
    const char *ntp = deja_params_get(p, "clock.ntp");
    int slew = ntp && !strcmp(ntp, "slew");
    if (!ntp || (!slew && strcmp(ntp, "step"))) {
        snprintf(err, errlen, "parameter clock.ntp=%s: expected step or slew", ntp ? ntp : "(unset)");
        return 2;
    }
    const char *offsets = deja_params_get(p, "clock.offsets_ms");
    int64_t *fixed = NULL;
    int nfixed = 0;
    if (offsets && *offsets) {
        fixed = malloc((size_t)nodes * sizeof *fixed);
        if (!fixed) abort();
    }
    if (deja__clock_offsets(offsets, fixed, &nfixed, (int)nodes, err, errlen)) {
        free(fixed);
        return 2;
    }
    /* fixed9 values scaled to integer units */
    int64_t off_ns = off / 1000, drift_ppb = drift / 1000000, step_ns = step / 1000, every_ns = every;
    deja_world_set_duration(w, dur * RT_SEC);
    deja_prng *clk = deja_world_stream(w, "clock");
    for (int64_t i = 0; i < nodes; i++) {
        int64_t o = deja_prng_range(clk, -off_ns, off_ns);
        if (nfixed) o = fixed[i]; /* drawn anyway: the stream stays the same */
        int64_t d = deja_prng_range(clk, -drift_ppb, drift_ppb);
        int id = deja_node_add(w, program, o, d);
        if (id < 0) {
            snprintf(err, errlen, "program '%s' is not registered", program);
            free(fixed);
            return 2;
        }
        deja_world_trace(w, "node %d clock offset_ns=%lld drift_ppb=%lld", id, (long long)o, (long long)d);
        if (step_ns <= 0 || every_ns <= 0) continue;
        for (int64_t t = deja_prng_range(clk, 0, every_ns - 1); t < dur * RT_SEC; t += every_ns) {
            int64_t delta = deja_prng_below(clk, 2) ? step_ns : -step_ns; /* drawn whatever the sign */
            if (sign != 0) delta = sign > 0 ? step_ns : -step_ns;
            if (slew)
                deja_clock_slew(w, (uint32_t)id, t, delta);
            else
                deja_clock_step(w, (uint32_t)id, t, delta);
        }
    }
    free(fixed);
    return 0;
}

int deja_net_params(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t lat, jit, loss;
    if (deja_params_fixed9(p, "net.latency_ms", 0, 1000000, &lat, err, errlen) ||
        deja_params_fixed9(p, "net.jitter_ms", 0, 1000000, &jit, err, errlen) ||
        deja_params_fixed9(p, "net.loss_pct", 0, 100, &loss, err, errlen))
        return 2;
    deja_net_config(w, lat / 1000, jit / 1000, (uint32_t)(loss / 100000));
    return 0;
}

int deja_ntp_servers(deja_world *w, const deja_params *p, char *err, size_t errlen) {
    int64_t servers, falset, tol, fmag, serr, delay, jitter, poll, report, filter, window;
    if (deja_params_i64(p, "ntp.servers", 0, DEJA_TIMESRV_MAX, &servers, err, errlen) ||
        deja_params_i64(p, "ntp.falsetickers", 0, DEJA_TIMESRV_MAX, &falset, err, errlen) ||
        deja_params_i64(p, "chain.time_tolerance_ms", 0, 3600000, &tol, err, errlen) ||
        deja_params_fixed9(p, "ntp.falseticker_ms", 0, 1000000, &fmag, err, errlen) ||
        deja_params_fixed9(p, "ntp.server_err_ms", 0, 1000000, &serr, err, errlen) ||
        deja_params_fixed9(p, "ntp.delay_ms", 0, 1000000, &delay, err, errlen) ||
        deja_params_fixed9(p, "ntp.jitter_ms", 0, 1000000, &jitter, err, errlen) ||
        deja_params_i64(p, "ntp.poll_ms", 1, 86400000, &poll, err, errlen) ||
        deja_params_i64(p, "ntp.report_ms", 1, 86400000, &report, err, errlen) ||
        deja_params_i64(p, "ntp.filter", 1, 32, &filter, err, errlen) ||
        deja_params_i64(p, "ntp.window", 1, 64, &window, err, errlen))
        return 2;
    if (servers > 0 && falset > servers) {
        snprintf(err, errlen, "parameter ntp.falsetickers=%lld: more than ntp.servers=%lld", (long long)falset,
                 (long long)servers);
        return 2;
    }
    /* fixed9 values of ms scaled to ns */
    if (servers > 0)
        deja_timesrv_config(w, (uint32_t)servers, serr / 1000, delay / 1000, jitter / 1000, (uint32_t)falset,
                            fmag / 1000);
    return 0;
}
