/*
 * map.h -- mapped regions of simulated nodes (internal to sim/; map.c).
 *
 * A node's regions (rt_map) are real host mappings, private, anonymous and
 * never backed by huge pages, so the pages the node has touched are exactly
 * the ones mincore() reports resident. Counting them costs a system call
 * and a byte per page, so it is not done at every allocation: the count is
 * cached in the node (deja__node.map_bytes) and refreshed at the simulator's
 * check instants -- the node's own rt_map / rt_unmap / rt_map_advise calls,
 * every timeline sample (mem.sample_ms), and, when mem.map_check_ms is set,
 * every that many ms of virtual time while any region exists. Each is an
 * event of the simulation, not of the host, and what mincore() reports there
 * depends only on what the node did before it. deja__resident() adds the
 * cached count, so an OOM caused by touching pages is decided at one of
 * those instants, the same on every replay of the seed. A recount costs
 * about 0.2 ms per GiB mapped (the kernel writes one byte per page), which
 * is why it is not done at every allocation.
 */
#ifndef DEJA_SIM_MAP_H
#define DEJA_SIM_MAP_H

#include <stdio.h>

#include "internal.h"

typedef struct deja__map deja__map;

/* Recounts the touched pages of n's regions into n->map_bytes. */
void deja__map_recount(deja__node *n);
/* The touched bytes of n's regions now (the cache is left alone). */
int64_t deja__map_count(const deja__node *n);
/* Unmaps every region of n (a crash, an OOM kill, the end of the world). */
void deja__map_free_all(deja__node *n);
/* Writes one line per region of n (name, touched and mapped bytes) to f. */
void deja__map_report(const deja__node *n, FILE *f);

#endif /* DEJA_SIM_MAP_H */
