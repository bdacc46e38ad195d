/*
 * param.h -- reading the node's integer parameters through the seam, with
 * the range check every engine wants.
 */
#ifndef NODE_PARAM_H
#define NODE_PARAM_H

#include <stdint.h>

/* The integer parameter `key`, or dflt when it is unset or outside
 * [min, max] (then with a warning naming `who`, the asking module). */
int64_t node_param(const char *who, const char *key, int64_t dflt, int64_t min, int64_t max);

#endif /* NODE_PARAM_H */
