#include "kstats.h"

#include <bpf/libbpf.h>
#include <string.h>

void kstats_read(struct bpf_map *map, uint32_t n_types, struct kstats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	memset(out, 0, sizeof(out[0]) * n_types);
	if (!map || ncpu <= 0 || ncpu > 4096)
		return;
	struct kstats vals[ncpu];
	for (uint32_t type = 0; type < n_types; type++) {
		if (bpf_map__lookup_elem(map, &type, sizeof(type), vals, sizeof(vals), 0) < 0)
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[type].dropped += vals[c].dropped;
			out[type].excluded += vals[c].excluded;
			out[type].suppressed += vals[c].suppressed;
		}
	}
}
