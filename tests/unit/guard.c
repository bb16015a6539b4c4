/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Guard-page allocation for parser tests. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guard.h"

struct guard_hdr {
	void *base;
	size_t maplen;
};

uint8_t *
guard_copy(const void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t need = len + sizeof(struct guard_hdr);
	size_t data_pages = (need + page - 1) / page;
	size_t maplen = (data_pages + 1) * page;
	uint8_t *base, *guard, *out;
	struct guard_hdr h;

	base = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
	            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		abort();
	guard = base + data_pages * page;
	if (mprotect(guard, page, PROT_NONE) != 0)
		abort();
	out = guard - len;
	if (len > 0)
		memcpy(out, p, len);
	h.base = base;
	h.maplen = maplen;
	memcpy(out - sizeof(h), &h, sizeof(h));
	return out;
}

void
guard_free(uint8_t *p)
{
	struct guard_hdr h;

	/* guard_copy() left room for the header just before the data. */
	memcpy(&h, p - sizeof(h), sizeof(h));
	munmap(h.base, h.maplen);
}
