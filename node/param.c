/*
 * param.c -- range-checked integer parameters for node code (see param.h).
 */
#include "param.h"

#include <assert.h>

#include "deja/rt.h"

int64_t node_param(const char *who, const char *key, int64_t dflt, int64_t min, int64_t max) {
    assert(min <= dflt && dflt <= max);
    int64_t v = rt_param_i64(key, dflt);
    if (v < min || v > max) {
        rt_log(RT_LOG_WARN, "%s: %s=%lld is outside [%lld, %lld], using %lld", who, key, (long long)v,
               (long long)min, (long long)max, (long long)dflt);
        v = dflt;
    }
    return v;
}
