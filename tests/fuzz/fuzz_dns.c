/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer harness for the DNS answer parser, both framings, and the cache. */
#include <stdlib.h>
#include <string.h>

#include "spackle/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct names_cache *cache;
static uint64_t now_ns;

/* Touch every byte of every name, check what names.h promises, cache it. */
static void
touch(const struct dns_addr_names *an, void *arg)
{
	size_t *sum = arg, len, i;
	unsigned k;

	if (an->n == 0 || an->n > SP_NAMES_PER_ADDR)
		abort();
	if (an->addr.family == 0)
		abort();
	for (k = 0; k < an->n; k++) {
		len = strlen(an->names[k]);
		if (len == 0 || len > SP_NAME_MAX)
			abort();
		for (i = 0; i < len; i++) {
			if (an->names[k][i] >= 'A' && an->names[k][i] <= 'Z')
				abort();
			*sum += (uint8_t)an->names[k][i];
		}
		names_add(cache, &an->addr, an->names[k], an->ttl, now_ns);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *out[SP_NAMES_PER_ADDR];
	struct sp_addr a;
	uint8_t *buf;
	size_t sum = 0;

	if (cache == NULL && (cache = names_new(64)) == NULL)
		abort();
	/* Exactly sized, so ASan sees a read one byte past the end. */
	if ((buf = malloc(size)) == NULL && size > 0)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);
	now_ns += 1000000000ull;
	dns_parse_response(buf, size, touch, &sum);
	dns_parse_tcp(buf, size, touch, &sum);
	if (size >= 4) {
		sp_addr_from_v4(&a, buf);
		names_lookup(cache, &a, now_ns, out, SP_NAMES_PER_ADDR);
	}
	free(buf);
	return 0;
}
