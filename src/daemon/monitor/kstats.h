/* kstats.h - reads a monitor's per-CPU `stats` map (kstats_map.h). */
#pragma once

#include <stdint.h>

#include "kstats_map.h"

struct bpf_map;

/* out[0..n_types) := the map's entries summed over every possible CPU;
 * entries that cannot be read stay zero. */
void kstats_read(struct bpf_map *map, uint32_t n_types, struct kstats *out);
